// The Rust half of the demo: a staticlib that uses std and calls C.
use std::collections::BTreeMap;

extern "C" {
    fn c_is_vowel(c: u8) -> i32;
}

#[no_mangle]
pub extern "C" fn rust_summarize(text: *const u8, len: u32) -> u32 {
    // SAFETY: the C caller passes a valid buffer of `len` bytes.
    let bytes = unsafe { std::slice::from_raw_parts(text, len as usize) };
    let text = String::from_utf8_lossy(bytes);
    let mut lengths: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for word in text.split_whitespace() {
        lengths.entry(word.len()).or_default().push(word);
    }
    let longest = lengths.iter().next_back().map(|(_, w)| w.join("/")).unwrap_or_default();
    println!("rust: {} distinct lengths, longest: {longest}", lengths.len());
    bytes.iter().filter(|&&c| unsafe { c_is_vowel(c) } != 0).count() as u32
}
