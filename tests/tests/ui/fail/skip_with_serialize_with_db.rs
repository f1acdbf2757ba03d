use rest_hooks::Hookable;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
#[sea_orm(table_name = "book")]
#[hookable(model = "bookstore.Book", serialize_with_db = shape, all_owners)]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub title: String,
    #[hookable(skip)]
    pub secret: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

async fn shape<C: ConnectionTrait>(book: &Model, _db: &C) -> Result<serde_json::Value, DbErr> {
    Ok(serde_json::json!({ "title": book.title }))
}

fn main() {}
