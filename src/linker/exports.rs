//! Which definitions a link exports from the LTO unit: version scripts
//! (`--version-script`) and dynamic lists (`--dynamic-list`) as lld reads
//! them, narrowed conservatively: a construct the engine does not read
//! (`extern "C++"` blocks) keeps every definition exported, which costs
//! optimization but never a symbol the link needs.

/// Symbol patterns from a version script: what its `global:` sections
/// name, and whether some `local:` section hides the rest.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct VersionScript {
    /// Patterns listed under `global:` (or outside any section) of any
    /// version node.
    pub global: Vec<String>,
    /// Patterns listed under `local:`.
    pub local: Vec<String>,
}

impl VersionScript {
    /// Reads a version script; `None` when it holds something this reader
    /// does not understand (then nothing is narrowed).
    pub(crate) fn parse(text: &str) -> Option<VersionScript> {
        let text = strip_comments(text);
        if text.contains("extern") {
            return None;
        }
        let mut script = VersionScript::default();
        let mut local = false;
        // Tokens: names, patterns, `global:`, `local:`, braces, `;`.
        let spaced = text
            .replace('{', " { ")
            .replace('}', " } ")
            .replace(';', " ; ")
            .replace(':', ": ");
        for token in spaced.split_whitespace() {
            match token {
                "{" | "}" => local = false,
                ";" => {}
                "global:" => local = false,
                "local:" => local = true,
                _ if token.ends_with(':') => return None,
                pattern => {
                    let pattern = pattern.trim_matches('"').to_string();
                    if local {
                        script.local.push(pattern);
                    } else {
                        script.global.push(pattern);
                    }
                }
            }
        }
        // Version node names (`VER_1 { ... };`, `} VER_0;`) were read as
        // global patterns too: harmless, they only widen what stays.
        Some(script)
    }

    /// Whether `symbol` stays exported: named by a global pattern, or not
    /// hidden by any local one.
    pub(crate) fn exports(&self, symbol: &str) -> bool {
        self.global.iter().any(|p| glob(p, symbol)) || !self.local.iter().any(|p| glob(p, symbol))
    }
}

/// The names a dynamic list (`{ foo; bar*; };`) holds, as patterns.
pub(crate) fn dynamic_list(text: &str) -> Vec<String> {
    strip_comments(text)
        .replace(['{', '}', ';'], " ")
        .split_whitespace()
        .filter(|t| *t != "extern" && !t.starts_with('"'))
        .map(str::to_string)
        .collect()
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start + 2..]
            .find("*/")
            .map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Shell-style glob: `*`, `?` and `[...]` classes, as lld matches version
/// script patterns.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    fn matches(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => matches(&p[1..], t) || (!t.is_empty() && matches(p, &t[1..])),
            (Some(b'?'), Some(_)) => matches(&p[1..], &t[1..]),
            (Some(b'['), Some(&c)) => match p.iter().position(|&b| b == b']') {
                Some(end) if end > 1 => {
                    let class = &p[1..end];
                    let (negate, class) = match class.first() {
                        Some(b'!') | Some(b'^') => (true, &class[1..]),
                        _ => (false, class),
                    };
                    let mut hit = false;
                    let mut i = 0;
                    while i < class.len() {
                        if i + 2 < class.len() && class[i + 1] == b'-' {
                            hit |= class[i] <= c && c <= class[i + 2];
                            i += 3;
                        } else {
                            hit |= class[i] == c;
                            i += 1;
                        }
                    }
                    hit != negate && matches(&p[end + 1..], &t[1..])
                }
                _ => c == b'[' && matches(&p[1..], &t[1..]),
            },
            (Some(&a), Some(&b)) => a == b && matches(&p[1..], &t[1..]),
            _ => false,
        }
    }
    matches(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_as_lld() {
        assert!(glob("foo*", "foobar"));
        assert!(glob("*", "anything"));
        assert!(glob("f?o", "fao"));
        assert!(glob("[a-c]x", "bx"));
        assert!(!glob("[!a-c]x", "bx"));
        assert!(!glob("foo", "foobar"));
    }

    #[test]
    fn reads_version_scripts() {
        let script = VersionScript::parse(
            "/* exported */ VER_1 {\n  global: api_*; keep;\n  local: *; # the rest\n};\n",
        )
        .unwrap();
        assert!(script.exports("api_call"));
        assert!(script.exports("keep"));
        assert!(!script.exports("helper"));
        // No `local:`: nothing is hidden.
        let open = VersionScript::parse("{ global: a; };").unwrap();
        assert!(open.exports("b"));
        // C++ blocks are not read: no narrowing at all.
        assert_eq!(
            VersionScript::parse("{ global: extern \"C++\" { ns::*; }; local: *; };"),
            None
        );
        assert_eq!(dynamic_list("{ foo; bar*; };"), ["foo", "bar*"]);
    }
}
