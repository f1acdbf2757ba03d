use rest_hooks::{Hookable, Owner};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
#[sea_orm(table_name = "book")]
#[hookable(model = "bookstore.Book", owner_with = find_owner)]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

// Not async, and without the connection.
fn find_owner(book: &Model) -> Option<Owner> {
    Some(book.user_id.into())
}

fn main() {}
