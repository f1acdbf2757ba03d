//! The entities the tests save: owned, unowned, owned through a relation, with a UUID owner and a
//! serializer of their own, with a serializer that reads a related row, with a behaviour of their
//! own, and a swapped hook entity.

use sea_orm::{ConnectionTrait, DatabaseConnection, Schema};

/// Books: owned by `user_id`; `secret` is never sent.
pub mod book {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;
    use serde::Serialize;

    /// A book.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable, Serialize)]
    #[sea_orm(table_name = "book")]
    #[hookable(model = "bookstore.Book", owner = "user_id", actions(read, featured))]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// Owner.
        pub user_id: i32,
        /// Title.
        pub title: String,
        /// Never sent.
        #[hookable(skip)]
        pub secret: String,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

/// Manuscripts: owned by `user_id`; an update sends the previous values of what it changed;
/// `notes` is never sent.
pub mod manuscript {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    /// A manuscript.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "manuscript")]
    #[hookable(model = "bookstore.Manuscript", owner = "user_id", previous_values)]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// Owner.
        pub user_id: i32,
        /// Title.
        pub title: String,
        /// Page count.
        pub pages: i32,
        /// Never sent, nor named.
        #[hookable(skip)]
        pub notes: String,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

/// Authors: no owner (`all_owners`), so their events go to every owner's hooks.
pub mod author {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    /// An author.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "author")]
    #[hookable(model = "bookstore.Author", all_owners, actions(featured))]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// Name.
        pub name: String,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

/// Chapters: owned by their book's owner, found through the relation.
pub mod chapter {
    use rest_hooks::{Hookable, Owner};
    use sea_orm::entity::prelude::*;

    /// A chapter.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "chapter")]
    #[hookable(model = "bookstore.Chapter", owner_with = book_owner)]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// The book.
        pub book_id: i32,
        /// Title.
        pub title: String,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    /// The owner of the chapter's book.
    pub async fn book_owner<C: ConnectionTrait>(chapter: &Model, db: &C) -> Result<Option<Owner>, DbErr> {
        let book = super::book::Entity::find_by_id(chapter.book_id).one(db).await?;
        Ok(book.map(|book| book.user_id.into()))
    }
}

/// Notes: a UUID owner that may be empty, and a serializer of their own.
pub mod note {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;
    use serde_json::{Value, json};

    /// A note.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "note")]
    #[hookable(model = "bookstore.Note", owner = "author_key", serialize_with = shape)]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// Owner.
        pub author_key: Option<Uuid>,
        /// Text.
        pub text: String,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    /// The note's own shape.
    pub fn shape(note: &Model) -> Value {
        json!({ "note": note.id, "text": note.text.to_uppercase() })
    }
}

/// Comments: a serializer that reads the comment's author through the save's connection.
pub mod comment {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;
    use serde_json::{Value, json};

    /// A comment.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "comment")]
    #[hookable(model = "bookstore.Comment", all_owners, serialize_with_db = with_author, actions(flagged))]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// The author, a row of `author`.
        pub author_id: i32,
        /// Text.
        pub text: String,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    /// The comment with its author's name; a comment whose author cannot be read fails.
    pub async fn with_author<C: ConnectionTrait>(comment: &Model, db: &C) -> Result<Value, DbErr> {
        let author = super::author::Entity::find_by_id(comment.author_id).one(db).await?;
        let author = author.ok_or_else(|| DbErr::RecordNotFound(format!("author {}", comment.author_id)))?;
        Ok(json!({ "comment": comment.id, "text": comment.text, "author": author.name }))
    }
}

/// Tags: an entity with a behaviour of its own that calls the recording functions.
pub mod tag {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    /// A tag.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "tag")]
    #[hookable(model = "bookstore.Tag", custom_behavior, all_owners)]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// Name, lower-cased before saving.
        pub name: String,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        async fn before_save<C: ConnectionTrait>(mut self, db: &C, insert: bool) -> Result<Self, DbErr> {
            if let sea_orm::ActiveValue::Set(name) = &self.name {
                self.name = sea_orm::Set(name.to_lowercase());
            }
            rest_hooks::prepare_save(self, db, insert).await
        }

        async fn after_save<C: ConnectionTrait>(model: Model, db: &C, insert: bool) -> Result<Model, DbErr> {
            rest_hooks::record_save(&model, db, insert).await?;
            Ok(model)
        }
    }
}

/// An application's own hook entity: organisation owners and an `is_active` switch.
pub mod webhook {
    use rest_hooks::{HookEntity, HookTarget};
    use sea_orm::Select;
    use sea_orm::entity::prelude::*;

    /// A webhook subscription.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The owning organisation.
        pub organization_id: i64,
        /// Event name.
        pub event: String,
        /// Target URL.
        pub target: String,
        /// Whether it receives events.
        pub is_active: bool,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl HookEntity for Entity {
        fn event_column() -> Column {
            Column::Event
        }

        fn owner_column() -> Column {
            Column::OrganizationId
        }

        fn to_target(hook: Model) -> HookTarget {
            HookTarget::new(hook.id, hook.event, hook.target).with_owner(Some(hook.organization_id.into()))
        }

        fn scope(query: Select<Entity>) -> Select<Entity> {
            query.filter(Column::IsActive.eq(true))
        }

        fn disabled(update: sea_orm::UpdateMany<Entity>, _reason: &str) -> Option<sea_orm::UpdateMany<Entity>> {
            Some(update.col_expr(Column::IsActive, Expr::value(false)))
        }

        fn target_column() -> Option<Column> {
            Some(Column::Target)
        }

        fn fill_new(hook: &mut ActiveModel, _owner: Option<&rest_hooks::Owner>) {
            hook.is_active = sea_orm::Set(true);
        }
    }
}

/// An application's own hook entity with secrets of its own, a version column and an `is_active`
/// switch, as a multi-tenant application has it.
pub mod subscription {
    use rest_hooks::hook::SecretColumns;
    use rest_hooks::{HookEntity, HookTarget, Owner};
    use sea_orm::entity::prelude::*;
    use sea_orm::{Select, Set};

    /// A webhook subscription of an organisation.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_subscription")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The owning organisation.
        pub organization_id: i32,
        /// Event name.
        pub event: String,
        /// Target URL.
        #[sea_orm(column_type = "Text")]
        pub target: String,
        /// Whether it receives events.
        pub is_active: bool,
        /// The application's own version column.
        pub version: i32,
        /// The current secret.
        #[sea_orm(column_type = "String(StringLen::N(128))", nullable)]
        pub secret: Option<String>,
        /// The secret before the last rotation.
        #[sea_orm(column_type = "String(StringLen::N(128))", nullable)]
        pub previous_secret: Option<String>,
        /// Until when the previous secret signs.
        pub previous_secret_until: Option<DateTimeUtc>,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl HookEntity for Entity {
        fn event_column() -> Column {
            Column::Event
        }

        fn owner_column() -> Column {
            Column::OrganizationId
        }

        fn target_column() -> Option<Column> {
            Some(Column::Target)
        }

        fn secret_columns() -> Option<SecretColumns<Column>> {
            Some(SecretColumns::new(Column::Secret).with_previous(Column::PreviousSecret, Column::PreviousSecretUntil))
        }

        fn to_target(hook: Model) -> HookTarget {
            HookTarget::new(hook.id, hook.event, hook.target).with_owner(Some(hook.organization_id.into()))
        }

        fn scope(query: Select<Entity>) -> Select<Entity> {
            query.filter(Column::IsActive.eq(true))
        }

        fn fill_new(hook: &mut ActiveModel, _owner: Option<&Owner>) {
            hook.is_active = Set(true);
            hook.version = Set(1);
        }
    }
}

/// The `webhook` table read by an entity that names only what the finder needs: no target column.
pub mod bare_webhook {
    use rest_hooks::{HookEntity, HookTarget};
    use sea_orm::entity::prelude::*;

    /// A webhook subscription.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The owning organisation.
        pub organization_id: i64,
        /// Event name.
        pub event: String,
        /// Target URL.
        pub target: String,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl HookEntity for Entity {
        fn event_column() -> Column {
            Column::Event
        }

        fn owner_column() -> Column {
            Column::OrganizationId
        }

        fn to_target(hook: Model) -> HookTarget {
            HookTarget::new(hook.id, hook.event, hook.target).with_owner(Some(hook.organization_id.into()))
        }
    }
}

/// Hooks for one book's chapters or for every book's: an own hook entity with an extra filter
/// column, narrowed by the event itself in SQL, and a check in Rust beside it.
pub mod book_webhook {
    use rest_hooks::{Event, HookEntity, HookTarget};
    use sea_orm::entity::prelude::*;
    use sea_orm::{Condition, Select};

    /// A hook on the chapters of one book, or of all books when `book_id` is empty.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "book_webhook")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The owner.
        pub user_id: i32,
        /// The book, or none for every book.
        pub book_id: Option<i32>,
        /// Event name.
        pub event: String,
        /// Target URL.
        pub target: String,
        /// A word the chapter's title must contain, checked in Rust; none for any title.
        pub title_word: Option<String>,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl HookEntity for Entity {
        fn event_column() -> Column {
            Column::Event
        }

        fn owner_column() -> Column {
            Column::UserId
        }

        fn to_target(hook: Model) -> HookTarget {
            HookTarget::new(hook.id, hook.event, hook.target).with_owner(Some(hook.user_id.into()))
        }

        fn target_column() -> Option<Column> {
            Some(Column::Target)
        }

        fn scope_event(query: Select<Entity>, event: &Event) -> Select<Entity> {
            let book = event.field("book_id").and_then(serde_json::Value::as_i64);
            query.filter(Condition::any().add(Column::BookId.is_null()).add(Column::BookId.eq(book)))
        }

        fn api_columns() -> Vec<Column> {
            vec![Column::BookId, Column::TitleWord]
        }

        /// A word must be a word; a book must be the caller's.
        async fn check_api_fields(
            db: &DatabaseConnection,
            fields: &serde_json::Map<String, serde_json::Value>,
            owner: &rest_hooks::Owner,
        ) -> Result<Result<(), rest_hooks::hook::FieldError>, DbErr> {
            use rest_hooks::hook::FieldError;
            if fields.get("title_word").and_then(serde_json::Value::as_str).is_some_and(|word| word.trim().is_empty()) {
                return Ok(Err(FieldError::new("title_word", "give a word, or null for any title")));
            }
            if let Some(book) = fields.get("book_id").and_then(serde_json::Value::as_i64) {
                let found = super::book::Entity::find_by_id(i32::try_from(book).unwrap_or(-1)).one(db).await?;
                if found.is_none_or(|book| book.user_id.to_string() != owner.as_str()) {
                    return Ok(Err(FieldError::new("book_id", format!("you have no book {book}"))));
                }
            }
            Ok(Ok(()))
        }

        fn keep() -> Option<fn(&Model, &Event) -> bool> {
            Some(|hook, event| {
                let title = event.field("title").and_then(serde_json::Value::as_str).unwrap_or_default();
                hook.title_word.as_ref().is_none_or(|word| title.contains(word.as_str()))
            })
        }
    }
}

/// Creates the tables of every test entity.
pub async fn create_tables(db: &DatabaseConnection) {
    let schema = Schema::new(db.get_database_backend());
    let statements = [
        schema.create_table_from_entity(book::Entity),
        schema.create_table_from_entity(manuscript::Entity),
        schema.create_table_from_entity(author::Entity),
        schema.create_table_from_entity(chapter::Entity),
        schema.create_table_from_entity(note::Entity),
        schema.create_table_from_entity(comment::Entity),
        schema.create_table_from_entity(tag::Entity),
        schema.create_table_from_entity(webhook::Entity),
        schema.create_table_from_entity(subscription::Entity),
        schema.create_table_from_entity(book_webhook::Entity),
    ];
    for statement in &statements {
        db.execute(statement).await.expect("create test table");
    }
}
