use store_core::Keyed;

#[derive(Keyed)]
#[keyed(namespace = metadata.namespace, name = "")]
struct NotAString {
    metadata: Metadata,
}

#[derive(Keyed)]
#[keyed(name = "metadata..name")]
struct EmptySegment {
    metadata: Metadata,
}

#[derive(Keyed)]
#[keyed(name)]
struct NoValue {
    metadata: Metadata,
}

#[derive(Keyed)]
#[keyed = "metadata.name"]
struct NotAList {
    metadata: Metadata,
}

#[derive(Keyed)]
#[keyed(with = "not a path", key = String)]
struct BadFunction {
    metadata: Metadata,
}

#[derive(Keyed)]
#[keyed(name = "metadata.name" "x", namespace("a"))]
struct StrayTokens {
    metadata: Metadata,
}

struct Metadata {
    namespace: String,
    name: String,
}

fn main() {}
