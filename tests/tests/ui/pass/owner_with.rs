//! Owners found through a relation by an async fn generic over the connection, named by a path or
//! by a path in a string.

mod book {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "book")]
    #[hookable(model = "bookstore.Book", owner = "user_id")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub user_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

mod chapter {
    use rest_hooks::{Hookable, Owner};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "chapter")]
    #[hookable(model = "bookstore.Chapter", owner_with = book_owner)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub book_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    pub async fn book_owner<C: ConnectionTrait>(chapter: &Model, db: &C) -> Result<Option<Owner>, DbErr> {
        let book = super::book::Entity::find_by_id(chapter.book_id).one(db).await?;
        Ok(book.map(|book| book.user_id.into()))
    }
}

mod page {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "page")]
    #[hookable(model = "bookstore.Page", owner_with = "crate::owners::page_owner")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub chapter_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

mod owners {
    use rest_hooks::{Hookable, Owner};
    use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

    pub async fn page_owner<C: ConnectionTrait>(page: &crate::page::Model, db: &C) -> Result<Option<Owner>, DbErr> {
        match crate::chapter::Entity::find_by_id(page.chapter_id).one(db).await? {
            Some(chapter) => chapter.hook_owner(db).await,
            None => Ok(None),
        }
    }
}

fn assert_owned<M: rest_hooks::Hookable>() {
    assert!(M::OWNED);
}

fn main() {
    assert_owned::<book::Model>();
    assert_owned::<chapter::Model>();
    assert_owned::<page::Model>();
}
