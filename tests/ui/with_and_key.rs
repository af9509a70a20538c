use store_core::Keyed;

fn email(user: &User) -> String {
    user.email.clone()
}

#[derive(Keyed)]
#[keyed(with = "email")]
struct User {
    email: String,
}

#[derive(Keyed)]
#[keyed(key = String)]
struct Account {
    email: String,
}

#[derive(Keyed)]
#[keyed(with = "email", key = "email")]
struct Member {
    email: String,
}

fn main() {}
