use store_core::Keyed;

#[derive(Keyed)]
#[key]
#[index]
struct Node {
    #[keyed(name = "name")]
    #[key]
    name: String,
}

fn main() {}
