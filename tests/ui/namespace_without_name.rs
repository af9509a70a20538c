use store_core::Keyed;

#[derive(Keyed)]
#[keyed(namespace = "metadata.namespace")]
struct ConfigMap {
    metadata: Metadata,
}

struct Metadata {
    namespace: String,
    name: String,
}

fn main() {}
