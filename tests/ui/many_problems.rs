use store_core::Keyed;

// Every problem of one input is reported at once, and the stub impl the derive
// emits after an error keeps code using the type free of follow-up errors.
#[derive(Keyed)]
#[keyed(namespace = "meta.namespace", name = "metadata.name", nmae = "x")]
struct ConfigMap {
    metadata: Metadata,
    #[key(x)]
    id: u64,
    #[index(name = "owner", colour = "blue")]
    owner: String,
    #[index(name = "owner")]
    creator: String,
}

struct Metadata {
    namespace: String,
    name: String,
}

fn key_of<T: Keyed>(value: &T) -> String {
    value.key().to_string()
}

fn main() {
    let cm = ConfigMap {
        metadata: Metadata {
            namespace: String::new(),
            name: String::new(),
        },
        id: 1,
        owner: String::new(),
        creator: String::new(),
    };
    let _ = key_of(&cm);
    let _ = ConfigMap::indexes();
}
