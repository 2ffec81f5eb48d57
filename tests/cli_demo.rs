//! The README's demo command works and shows what LTO did.

mod common;
use common::*;

#[test]
fn demo_runs_and_reports_cross_language_inlining() {
    let out = run_ok(engine().arg("demo"));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("== same output as the build without LTO"),
        "{text}"
    );
    assert!(text.contains("words=9 longest=12"), "{text}");
    assert!(text.contains("vowels=19"), "{text}");
    assert!(
        text.contains("c_is_vowel: inlined into its callers"),
        "C callee inlined into Rust: {text}"
    );
    assert!(text.contains("internalized: wordstat_words"), "{text}");
    // The thin run shows imports across modules and languages.
    assert!(text.contains("== thin LTO"), "{text}");
    assert!(
        text.contains("from wordstat.o: 2 definitions (wordstat_longest, wordstat_words)"),
        "{text}"
    );
    assert!(
        text.contains("(c_is_vowel)"),
        "C function imported into Rust: {text}"
    );
    let rerun = text
        .lines()
        .find_map(|l| l.strip_prefix("== thin LTO again with the cache: "))
        .unwrap_or_else(|| panic!("no cached rerun: {text}"));
    let counts: Vec<&str> = rerun.split_whitespace().take(3).collect();
    assert_eq!(counts[1], "of", "{rerun}");
    assert_eq!(counts[0], counts[2], "every object reused: {rerun}");
    assert!(text.contains("byte-identical"), "{text}");
    assert_eq!(
        text.matches("== same output as the build without LTO")
            .count(),
        2,
        "{text}"
    );
}
