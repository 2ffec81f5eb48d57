// `%` on f64 is an `frem`, which code generation turns into a call to
// `fmod`: the real link then loads the compiler_builtins member defining it,
// whose unwind tables name `rust_eh_personality` (a `DW.ref` comdat).
use std::hint::black_box;

#[inline(never)]
fn step(i: usize, names: &mut Vec<String>) -> f64 {
    names.push(format!("item {i}"));
    (black_box(i as f64) * 1.7) % black_box(3.1)
}

#[inline(never)]
fn guarded(n: usize) -> usize {
    std::panic::catch_unwind(|| {
        if black_box(n) == 99 {
            panic!("never")
        }
        n * 2
    })
    .unwrap_or(0)
}

fn main() {
    let mut names = Vec::new();
    let sum: f64 = (0..10).map(|i| step(i, &mut names)).sum();
    println!("{sum:.3} {} {}", names.len(), guarded(21));
}
