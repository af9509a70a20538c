use store_core::Keyed;

#[derive(Keyed)]
enum Event {
    Added(String),
    Deleted(String),
}

fn main() {}
