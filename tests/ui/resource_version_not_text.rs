use store_core::Keyed;

// The resource version field must read as text; rustc's error points at the path.
#[derive(Keyed)]
#[keyed(name = "name", resource_version = "generation")]
struct Lease {
    name: String,
    generation: u64,
}

// A resource version path is checked against the fields like the key's.
#[derive(Keyed)]
#[keyed(name = "name", resource_version = "rv")]
struct Lock {
    name: String,
}

fn main() {}
