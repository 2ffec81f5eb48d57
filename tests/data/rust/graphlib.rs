//! An upstream crate: small helpers the binary calls in hot loops.
use std::collections::HashMap;

#[inline(never)]
fn scramble(x: u64) -> u64 {
    x.rotate_left(7) ^ 0x9e37_79b9_7f4a_7c15
}

/// Small and hot: thin LTO imports it into the caller's module and inlines
/// it. It calls scramble, so it is not a leaf that rustc would make
/// cross-crate inlinable on its own.
pub fn mix(acc: u64, value: u64) -> u64 {
    scramble((acc ^ value).wrapping_mul(0x100000001b3))
}

/// Word frequencies, sorted by count then word.
pub fn frequencies(text: &str) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
    let mut sorted: Vec<(String, usize)> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    sorted
}
