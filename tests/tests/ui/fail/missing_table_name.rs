use rest_hooks::Hookable;
use sea_orm::entity::prelude::*;

// The entity is written out, so the table name is on `Entity`, out of the derive's sight.
#[derive(Copy, Clone, Default, Debug, DeriveEntity)]
pub struct Entity;

impl EntityName for Entity {
    fn table_name(&self) -> &'static str {
        "book"
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
#[hookable(all_owners)]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub title: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

fn main() {}
