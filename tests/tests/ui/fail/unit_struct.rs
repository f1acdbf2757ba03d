use rest_hooks::Hookable;

#[derive(Hookable)]
#[hookable(model = "bookstore.Nothing")]
pub struct Nothing;

fn main() {}
