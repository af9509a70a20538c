use store_core::Keyed;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
struct Opaque(u64);

// The derive cannot know a type's traits: rustc reports the missing bound, at
// the key field's type.
#[derive(Keyed)]
struct Node {
    #[key]
    id: Opaque,
}

fn main() {}
