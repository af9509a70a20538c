use store_core::Keyed;

#[derive(Keyed)]
#[keyed(name = "name")]
struct Node {
    #[key]
    id: u64,
    name: String,
}

fn node_key(node: &Pod) -> String {
    node.name.clone()
}

#[derive(Keyed)]
#[keyed(name = "name", with = "node_key", key = String)]
struct Pod {
    name: String,
}

fn main() {}
