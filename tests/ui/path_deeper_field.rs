use store_core::Keyed;

// Only the first field of a path is checked by the derive; rustc checks the rest,
// and its error points at the attribute.
#[derive(Keyed)]
#[keyed(namespace = "metadata.namespace", name = "metadata.nmae")]
struct ConfigMap {
    metadata: Metadata,
}

struct Metadata {
    namespace: String,
    name: String,
}

fn main() {}
