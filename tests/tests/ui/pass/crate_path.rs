//! `crate = "..."`: the derive used through a re-export under another name. `::rest_hooks` names
//! another crate here, so a path that the generated code wrote without the given root fails.

pub extern crate rest_hooks as real_rest_hooks;
extern crate serde_json as rest_hooks;

mod reexport {
    pub use real_rest_hooks as hooks;
}

mod book {
    use crate::reexport::hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "book")]
    #[hookable(crate = "crate::reexport::hooks", model = "bookstore.Book", owner = "user_id")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub user_id: i32,
        pub title: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

mod chapter {
    use crate::reexport::hooks::{Hookable, Owner};
    use sea_orm::entity::prelude::*;
    use serde_json::{Value, json};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "chapter")]
    #[hookable(
        crate = "crate::reexport::hooks",
        model = "bookstore.Chapter",
        owner_with = book_owner,
        serialize_with_db = with_book
    )]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub book_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    async fn book_owner<C: ConnectionTrait>(chapter: &Model, db: &C) -> Result<Option<Owner>, DbErr> {
        let book = crate::book::Entity::find_by_id(chapter.book_id).one(db).await?;
        Ok(book.map(|book| book.user_id.into()))
    }

    async fn with_book<C: ConnectionTrait>(chapter: &Model, db: &C) -> Result<Value, DbErr> {
        let book = crate::book::Entity::find_by_id(chapter.book_id).one(db).await?;
        Ok(json!({"id": chapter.id, "book": book.map(|book| book.title)}))
    }
}

mod tag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crate::reexport::hooks::Hookable)]
    #[sea_orm(table_name = "tag")]
    #[hookable(crate = "::real_rest_hooks", model = "bookstore.Tag", all_owners, serialize_with = shape)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    fn shape(tag: &Model) -> serde_json::Value {
        serde_json::json!({"name": tag.name})
    }
}

fn main() {
    use crate::reexport::hooks::Hookable;
    use serde_json::json;

    assert!(book::Model::OWNED && chapter::Model::OWNED && !tag::Model::OWNED);
    assert_eq!(chapter::Model::MODEL, "bookstore.Chapter");
    let book = book::Model { id: 1, user_id: 2, title: "The Hobbit".into() };
    assert_eq!(
        book.hook_data(),
        json!({"model": "bookstore.book", "pk": 1, "fields": {"user_id": 2, "title": "The Hobbit"}})
    );
    assert_eq!(tag::Model { id: 3, name: "epic".into() }.hook_data(), json!({"name": "epic"}));
}
