//! `custom_behavior`: the entity writes its own `ActiveModelBehavior` and calls the recording
//! functions itself.

mod tag {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "tag")]
    #[hookable(model = "bookstore.Tag", custom_behavior, all_owners)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        async fn before_save<C: ConnectionTrait>(mut self, _db: &C, _insert: bool) -> Result<Self, DbErr> {
            if let sea_orm::ActiveValue::Set(name) = &self.name {
                self.name = sea_orm::Set(name.to_lowercase());
            }
            Ok(self)
        }

        async fn after_save<C: ConnectionTrait>(model: Model, db: &C, insert: bool) -> Result<Model, DbErr> {
            rest_hooks::record_save(&model, db, insert).await?;
            Ok(model)
        }

        async fn before_delete<C: ConnectionTrait>(self, db: &C) -> Result<Self, DbErr> {
            rest_hooks::prepare_delete(self, db).await
        }

        async fn after_delete<C: ConnectionTrait>(self, db: &C) -> Result<Self, DbErr> {
            rest_hooks::record_delete(&self, db).await?;
            Ok(self)
        }
    }
}

fn main() {
    assert_eq!(<tag::Model as rest_hooks::Hookable>::MODEL, "bookstore.Tag");
}
