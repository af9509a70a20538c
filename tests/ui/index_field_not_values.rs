use store_core::Keyed;

struct Owner {
    name: String,
}

fn owner_name(owner: &Owner) -> &str {
    &owner.name
}

// An `#[index]` field's type must give index values; rustc's error points at it.
#[derive(Keyed)]
struct Pod {
    #[key]
    name: String,
    #[index]
    owner: Owner,
    #[index(with = "owner_name")]
    creator: Option<Owner>,
}

fn main() {}
