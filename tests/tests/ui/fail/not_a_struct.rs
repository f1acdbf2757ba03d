use rest_hooks::Hookable;

#[derive(Hookable)]
#[hookable(model = "bookstore.Genre", all_owners)]
pub enum Genre {
    Fantasy,
    Poetry,
}

fn main() {}
