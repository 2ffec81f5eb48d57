//! A binary crate on top of graphlib and std.
fn main() {
    let text = "the quick brown fox jumps over the lazy dog The fox";
    let top = graphlib::frequencies(text);
    let mut hash = 0xcbf29ce484222325u64;
    for i in 0..1000u64 {
        hash = graphlib::mix(hash, i);
    }
    println!("top={:?} hash={:016x}", &top[..3], hash);
}
