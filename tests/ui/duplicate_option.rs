use store_core::Keyed;

#[derive(Keyed)]
#[keyed(name = "name")]
#[keyed(name = "id")]
struct Node {
    name: String,
    id: String,
    #[index(name = "a", name = "b")]
    zone: String,
}

#[derive(Keyed)]
struct Disk {
    #[key]
    #[key]
    serial: String,
}

fn main() {}
