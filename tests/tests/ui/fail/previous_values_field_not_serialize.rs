use rest_hooks::Hookable;
use sea_orm::entity::prelude::*;
use serde_json::{Value, json};

// An active enum without `Serialize`.
#[derive(Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Status {
    #[sea_orm(string_value = "draft")]
    Draft,
    #[sea_orm(string_value = "published")]
    Published,
}

// The serializer needs no `Serialize`, but previous values are serialized field by field.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
#[sea_orm(table_name = "book")]
#[hookable(model = "bookstore.Book", all_owners, serialize_with = shape, previous_values)]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub status: Option<Status>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

fn shape(book: &Model) -> Value {
    json!({ "id": book.id })
}

fn main() {}
