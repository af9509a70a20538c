use store_core::Keyed;

#[derive(Keyed)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
