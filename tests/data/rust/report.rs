// A staticlib that uses std: Vec, String, formatting, printing.
use std::fmt::Write;

#[no_mangle]
pub extern "C" fn rust_report(n: u32) -> u32 {
    let words: Vec<String> = (1..=n).map(|i| format!("w{}", i * i)).collect();
    let mut line = String::new();
    write!(line, "rust: {} words: {}", words.len(), words.join("+")).unwrap();
    println!("{line}");
    words.iter().map(|w| w.len() as u32).sum()
}
