//! Owner fields of every supported kind: a UUID, an optional integer, an optional UUID, a string.

mod document {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "document")]
    #[hookable(model = "files.Document", owner = "tenant")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub tenant: Uuid,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

mod comment {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "comment")]
    #[hookable(model = "files.Comment", owner = "author_id")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub author_id: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

mod share {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "share")]
    #[hookable(model = "files.Share", owner = "type")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub r#type: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

mod label {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "label")]
    #[hookable(model = "files.Label", owner = "account")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub account: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

fn main() {
    use rest_hooks::Hookable;
    assert!(document::Model::OWNED && comment::Model::OWNED && share::Model::OWNED && label::Model::OWNED);
}
