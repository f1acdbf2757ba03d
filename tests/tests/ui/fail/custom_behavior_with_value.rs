use rest_hooks::Hookable;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
#[sea_orm(table_name = "book")]
#[hookable(model = "bookstore.Book", custom_behavior = "yes", all_owners)]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub title: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

// The flag still counts: the entity's own behavior does not conflict with a generated one.
impl ActiveModelBehavior for ActiveModel {}

fn main() {}
