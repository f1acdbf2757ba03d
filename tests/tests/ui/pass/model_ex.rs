//! SeaORM 2's `#[sea_orm::model]` forwards the derives to a generated `ModelEx`, where the derive
//! emits nothing: the impls belong to `Model`, whose relation fields are not columns.

mod user {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "user")]
    #[hookable(model = "blog.User", all_owners)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
        #[sea_orm(has_many)]
        pub posts: HasMany<super::post::Entity>,
    }
}

mod post {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "post")]
    #[hookable(model = "blog.Post", owner = "user_id")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub user_id: i32,
        #[hookable(skip)]
        pub body: String,
        #[sea_orm(belongs_to, from = "user_id", to = "id")]
        pub author: BelongsTo<super::user::Entity>,
    }
}

fn main() {
    use rest_hooks::Hookable;

    let post = post::Model { id: 1, user_id: 2, body: "…".into() };
    assert_eq!(post.hook_data(), serde_json::json!({"model": "blog.post", "pk": 1, "fields": {"user_id": 2}}));
    assert_eq!(user::Model::MODEL, "blog.User");
}
