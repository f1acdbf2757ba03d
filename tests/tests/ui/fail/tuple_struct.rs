use rest_hooks::Hookable;

#[derive(Hookable)]
#[hookable(model = "bookstore.Isbn")]
pub struct Isbn(String);

fn main() {}
