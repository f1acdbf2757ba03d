use rest_hooks::Hookable;

#[derive(Hookable)]
#[hookable(model = "bookstore.Genre")]
pub enum Genre {
    Fantasy,
    Poetry,
}

fn main() {}
