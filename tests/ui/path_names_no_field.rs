use store_core::Keyed;

#[derive(Keyed)]
#[keyed(namespace = "meta.namespace", name = "metadata.name")]
struct ConfigMap {
    metadata: Metadata,
}

#[derive(Keyed)]
#[keyed(key = "1.id")]
struct Wrapper(Metadata);

struct Metadata {
    namespace: String,
    name: String,
}

fn main() {}
