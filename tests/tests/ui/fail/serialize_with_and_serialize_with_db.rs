use rest_hooks::Hookable;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
#[sea_orm(table_name = "book")]
#[hookable(model = "bookstore.Book", serialize_with = shape, serialize_with_db = shape_from_db, all_owners)]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub title: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

fn shape(book: &Model) -> serde_json::Value {
    serde_json::json!({ "title": book.title })
}

async fn shape_from_db<C: ConnectionTrait>(book: &Model, _db: &C) -> Result<serde_json::Value, DbErr> {
    Ok(serde_json::json!({ "title": book.title }))
}

fn main() {}
