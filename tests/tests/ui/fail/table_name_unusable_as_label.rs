use rest_hooks::Hookable;
use sea_orm::entity::prelude::*;

// Without `model = "..."`, the label would be `<crate>.2faCode`, whose second part starts with a digit.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
#[sea_orm(table_name = "2fa_code")]
#[hookable(all_owners)]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub code: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

fn main() {}
