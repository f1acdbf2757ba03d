use rest_hooks::Hookable;

#[derive(Hookable)]
#[hookable(model = "bookstore.Shelf")]
pub struct Model<T> {
    pub id: i32,
    pub item: T,
}

fn main() {}
