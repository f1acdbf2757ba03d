use rest_hooks::{Hookable, Owner};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
#[sea_orm(table_name = "book")]
#[hookable(model = "bookstore.Book", owner = "user_id", owner_with = find_owner)]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

async fn find_owner<C: ConnectionTrait>(book: &Model, _db: &C) -> Result<Option<Owner>, DbErr> {
    Ok(Some(book.user_id.into()))
}

fn main() {}
