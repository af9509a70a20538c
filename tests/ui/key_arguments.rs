use store_core::Keyed;

#[derive(Keyed)]
struct Node {
    #[key(name = "id")]
    id: u64,
}

#[derive(Keyed)]
struct Disk {
    #[key = "serial"]
    serial: u64,
}

fn main() {}
