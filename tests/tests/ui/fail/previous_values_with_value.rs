use rest_hooks::Hookable;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
#[sea_orm(table_name = "book")]
#[hookable(model = "bookstore.Book", all_owners, previous_values = true)]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub title: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

fn main() {}
