use rest_hooks::Hookable;

#[derive(Hookable)]
#[hookable(model = "bookstore.Nothing", all_owners)]
pub struct Nothing;

fn main() {}
