//! Without `model = "..."` the label is the crate name and the UpperCamelCase table name; the
//! default `data` has `pk` and every field not skipped.

mod book_chapter {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "book_chapter")]
    #[hookable(all_owners)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
        #[hookable(skip)]
        pub draft: String,
        pub r#type: Option<i32>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

mod marker {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    // Only a primary key: `fields` is empty.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "marker")]
    #[hookable(all_owners)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

mod membership {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    // A composite key: `pk` is an array.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "membership")]
    #[hookable(model = "clubs.Membership", all_owners)]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub club_id: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub member_id: i32,
        pub role: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

fn main() {
    use rest_hooks::Hookable;
    use serde_json::json;

    // trybuild names the crate; a real one is the crate being compiled.
    let krate = env!("CARGO_CRATE_NAME");
    assert_eq!(book_chapter::Model::MODEL, format!("{krate}.BookChapter"));
    assert!(!book_chapter::Model::OWNED && !book_chapter::Model::CUSTOM_SERIALIZER);
    let chapter = book_chapter::Model { id: 1, title: "Riddles".into(), draft: "secret".into(), r#type: None };
    assert_eq!(
        chapter.hook_data(),
        json!({"model": format!("{krate}.bookchapter"), "pk": 1, "fields": {"title": "Riddles", "type": null}})
    );

    assert_eq!(marker::Model::MODEL, format!("{krate}.Marker"));
    assert_eq!(marker::Model { id: 7 }.hook_data(), json!({"model": format!("{krate}.marker"), "pk": 7, "fields": {}}));

    let membership = membership::Model { club_id: 1, member_id: 2, role: "chair".into() };
    assert_eq!(
        membership.hook_data(),
        json!({"model": "clubs.membership", "pk": [1, 2], "fields": {"role": "chair"}})
    );
}
