use store_core::Keyed;

fn email(user: &str) -> String {
    user.to_owned()
}

// The `with` function takes `&Self` and returns the key type; rustc's errors point
// at the attribute.
#[derive(Keyed)]
#[keyed(with = "email", key = u64)]
struct User {
    email: String,
}

fn main() {}
