use rest_hooks::Hookable;
use sea_orm::entity::prelude::*;

// No `owner`, `owner_with` or `all_owners`: its events would reach every owner's hooks unnoticed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
#[sea_orm(table_name = "invoice")]
#[hookable(model = "billing.Invoice")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub customer_id: i32,
    pub total: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

fn main() {}
