//! `@file.rsp` expansion with GNU quoting rules (what lld and gcc accept).

use lto_engine::{Error, Phase};
use std::path::Path;

/// Replaces every `@file` argument by the arguments the file holds
/// (recursively, with a depth limit against cycles).
pub fn expand(args: Vec<String>) -> Result<Vec<String>, Error> {
    expand_at_depth(args, 0)
}

fn expand_at_depth(args: Vec<String>, depth: usize) -> Result<Vec<String>, Error> {
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        match arg.strip_prefix('@') {
            Some(file) if !file.is_empty() => {
                if depth > 20 {
                    return Err(Error::invalid(
                        file,
                        Phase::Read,
                        "response files nest too deeply (a cycle?)",
                    ));
                }
                let text = std::fs::read_to_string(Path::new(file))
                    .map_err(|e| Error::io(file, Phase::Read, e))?;
                out.extend(expand_at_depth(split(&text), depth + 1)?);
            }
            _ => out.push(arg),
        }
    }
    Ok(out)
}

/// Splits response-file text: whitespace separates, quotes group, a
/// backslash escapes the next character.
pub fn split(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        args.push(current);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_like_gnu() {
        assert_eq!(
            split("a.o  b.o\n\"c d.o\" 'e f' g\\ h"),
            ["a.o", "b.o", "c d.o", "e f", "g h"]
        );
        assert_eq!(split("\"\""), [""]);
        assert!(split("  \n").is_empty());
    }
}
