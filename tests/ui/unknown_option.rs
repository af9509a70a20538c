use store_core::Keyed;

#[derive(Keyed)]
#[keyed(namespace = "metadata.namespace", nmae = "metadata.name")]
struct ConfigMap {
    metadata: Metadata,
    #[index(nmae = "by_owner")]
    owner: String,
}

struct Metadata {
    namespace: String,
    name: String,
}

fn main() {}
