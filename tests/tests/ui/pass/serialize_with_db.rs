//! A serializer that reads the database: an async fn generic over the connection, named by a path
//! or by a path in a string. The sync `hook_data` keeps the default shape.

mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "user")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub username: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod comment {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;
    use serde_json::{Value, json};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "comment")]
    #[hookable(model = "blog.Comment", owner = "user_id", serialize_with_db = with_author)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub user_id: i32,
        pub text: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    pub async fn with_author<C: ConnectionTrait>(comment: &Model, db: &C) -> Result<Value, DbErr> {
        let user = super::user::Entity::find_by_id(comment.user_id).one(db).await?;
        Ok(json!({ "text": comment.text, "username": user.map(|user| user.username) }))
    }
}

mod reply {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "reply")]
    #[hookable(model = "blog.Reply", all_owners, serialize_with_db = "crate::shapes::reply")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub comment_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

mod shapes {
    use sea_orm::{ConnectionTrait, DbErr, EntityTrait};
    use serde_json::{Value, json};

    pub async fn reply<C: ConnectionTrait>(reply: &crate::reply::Model, db: &C) -> Result<Value, DbErr> {
        let comment = crate::comment::Entity::find_by_id(reply.comment_id).one(db).await?;
        Ok(json!({ "reply": reply.id, "to": comment.map(|comment| comment.text) }))
    }
}

use rest_hooks::Hookable;

fn main() {
    assert!(comment::Model::CUSTOM_SERIALIZER && reply::Model::CUSTOM_SERIALIZER);
    let comment = comment::Model { id: 1, user_id: 2, text: "Hi".into() };
    assert_eq!(
        comment.hook_data(),
        serde_json::json!({"model": "blog.comment", "pk": 1, "fields": {"user_id": 2, "text": "Hi"}})
    );
}
