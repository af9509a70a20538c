use store_core::Keyed;

// Namespace and name fields must be text-like; rustc's error points at the path.
#[derive(Keyed)]
#[keyed(namespace = "metadata.namespace", name = "metadata.name")]
struct ConfigMap {
    metadata: Metadata,
}

struct Metadata {
    namespace: Vec<String>,
    name: String,
}

fn main() {}
