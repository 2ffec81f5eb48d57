//! `explain`: what the run decided about a symbol, and why
//! ([`Config::explain`](crate::Config::explain), [`SymbolExplanation`]).
//! Every answer is read from what the run did (the thin link's index and
//! import lists, its internalization, the inliner's remarks, the emitted
//! objects); the one thing LLVM does not keep, why a callee was not
//! imported, comes from a replay of LLVM's import walk (`imports.rs`),
//! reported only where the replay agrees with LLVM's import lists.

mod fat;
mod imports;
mod thin;

pub(crate) use fat::explain_fat;
pub(crate) use thin::explain_thin;

use crate::report::{OutOfLineCopy, SymbolExplanation};
use object::{Object, ObjectSymbol};

/// Whether the symbol `name` (as in the IR) is what `query` asks for: the
/// same name, its demangled form, the demangled form without a legacy Rust
/// hash (`::h0123456789abcdef`), or without a C++ parameter list.
pub(crate) fn matches(query: &str, name: &str, demangled: Option<&str>) -> bool {
    if query == name {
        return true;
    }
    let Some(demangled) = demangled else {
        return false;
    };
    if query == demangled {
        return true;
    }
    let without_hash = strip_rust_hash(demangled);
    if query == without_hash {
        return true;
    }
    // `ns::f(int)` asked for as `ns::f`; templates keep their arguments.
    match without_hash.find('(') {
        Some(paren) => query == &without_hash[..paren],
        None => false,
    }
}

/// A legacy Rust symbol's demangled form without its hash.
fn strip_rust_hash(demangled: &str) -> &str {
    match demangled.rsplit_once("::h") {
        Some((path, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            path
        }
        _ => demangled,
    }
}

/// The definitions of `names` in an emitted object: `(name, size, local)`.
fn defined_in_object(bytes: &[u8], names: &[&str]) -> Vec<(String, u64, bool)> {
    let Ok(file) = object::File::parse(bytes) else {
        return Vec::new();
    };
    file.symbols()
        .filter(|symbol| symbol.is_definition())
        .filter_map(|symbol| {
            let name = symbol.name().ok()?;
            names
                .contains(&name)
                .then(|| (name.to_string(), symbol.size(), symbol.is_local()))
        })
        .collect()
}

/// The explanation's out-of-line copies, from each object (`(module
/// name, object bytes)`).
fn out_of_line<'a>(
    objects: impl Iterator<Item = (&'a str, &'a [u8])>,
    names: &[&str],
) -> Vec<OutOfLineCopy> {
    objects
        .flat_map(|(module, bytes)| {
            defined_in_object(bytes, names)
                .into_iter()
                .map(move |(symbol, size, local)| OutOfLineCopy {
                    module: module.to_string(),
                    symbol,
                    size,
                    local,
                })
        })
        .collect()
}

/// Names among `names` (with their demangled forms) whose last two path
/// components are the query's: what a user who typed a re-exported path
/// meant. At most five.
fn similar(query: &str, names: &[(&str, Option<String>)]) -> Vec<String> {
    let tail: Vec<&str> = query.rsplit("::").take(2).collect();
    if tail.len() < 2 {
        return Vec::new();
    }
    let suffix = format!("::{}::{}", tail[1], tail[0]);
    names
        .iter()
        .filter_map(|(_, demangled)| {
            let plain = strip_rust_hash(demangled.as_deref()?);
            let plain = plain.split('(').next().unwrap_or(plain);
            plain.ends_with(&suffix).then(|| plain.to_string())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .take(5)
        .collect()
}

/// An explanation of a name nothing in the link defines or refers to.
fn unknown(query: &str) -> SymbolExplanation {
    SymbolExplanation {
        query: query.to_string(),
        symbol: query.to_string(),
        demangled: None,
        copies: Vec::new(),
        prevailing: None,
        outcome: crate::report::LinkOutcome::NotDefined,
        kept_because: Vec::new(),
        final_name: None,
        live: None,
        live_chain: Vec::new(),
        live_root: None,
        imports: Vec::new(),
        inlining: Vec::new(),
        inlining_complete: false,
        out_of_line: Vec::new(),
        partition: None,
        fat_lto: false,
        similar: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_mangled_demangled_and_short_forms() {
        let rust = "_ZN4core3fmt5write17h0123456789abcdefE";
        let demangled = crate::llvm::demangle(rust);
        assert!(matches(rust, rust, demangled.as_deref()));
        assert!(matches("core::fmt::write", rust, demangled.as_deref()));
        assert!(!matches("core::fmt", rust, demangled.as_deref()));
        let cpp = "_ZN2ns6targetEi";
        let demangled = crate::llvm::demangle(cpp);
        assert_eq!(demangled.as_deref(), Some("ns::target(int)"));
        assert!(matches("ns::target", cpp, demangled.as_deref()));
        assert!(matches("ns::target(int)", cpp, demangled.as_deref()));
        assert!(!matches("target", cpp, demangled.as_deref()));
        assert_eq!(crate::llvm::demangle("main"), None);
    }
}
