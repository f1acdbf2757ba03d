// Every mistake is reported in one compile.
use rest_hooks::Hookable;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
#[sea_orm(table_name = "book")]
#[hookable(model = "Book", owner = "usr_id", colour = "red")]
#[hookable(owner = "user_id", custom_behavior = true, serialize_with)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[hookable(skip)]
    pub id: i32,
    pub user_id: i32,
    #[hookable(skip = "yes", hide)]
    pub title: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

// Its own behavior, as `custom_behavior` says.
impl ActiveModelBehavior for ActiveModel {}

fn main() {}
