use rest_hooks::Hookable;

#[derive(Hookable)]
#[hookable(model = "bookstore.Isbn", all_owners)]
pub struct Isbn(String);

fn main() {}
