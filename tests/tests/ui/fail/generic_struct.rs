use rest_hooks::Hookable;

#[derive(Hookable)]
#[hookable(model = "bookstore.Shelf", all_owners)]
pub struct Model<T> {
    pub id: i32,
    pub item: T,
}

fn main() {}
