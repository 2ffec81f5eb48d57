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
    assert_eq!(
        text.matches("== same output as the build without LTO")
            .count(),
        2,
        "{text}"
    );
}
