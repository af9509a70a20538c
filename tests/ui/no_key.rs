use store_core::Keyed;

#[derive(Keyed)]
struct ConfigMap {
    name: String,
    data: Vec<u8>,
}

#[derive(Keyed)]
#[keyed()]
struct Empty;

fn main() {}
