use store_core::Keyed;

#[derive(Keyed)]
struct Borrowed<'a> {
    #[key]
    name: &'a str,
}

#[derive(Keyed)]
struct Pair<'a> {
    #[key]
    id: u64,
    #[key]
    name: std::borrow::Cow<'a, str>,
}

fn main() {}
