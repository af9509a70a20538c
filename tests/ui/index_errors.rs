use store_core::Keyed;

#[derive(Keyed)]
struct Lease(#[key] String, #[index] Option<String>);

#[derive(Keyed)]
#[keyed(namespace = "namespace", name = "name")]
struct Pod {
    namespace: String,
    name: String,
    #[index]
    node: String,
    #[index(name = "node")]
    host: String,
    #[index(name = "namespace")]
    tenant: String,
    #[index(name = "")]
    zone: String,
    #[index = "region"]
    region: String,
    #[index(with = 3)]
    labels: Vec<String>,
}

fn main() {}
