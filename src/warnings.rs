//! The session's own warnings about the names the caller preserved, the
//! mistakes a linker would report later and farther from their cause: an
//! entry point LTO internalized, and a preserved name no input defines.

use crate::config::{Config, EmitKind};
use crate::input::LinkItem;
use crate::llvm::{Diagnostic, Severity};
use crate::output::Output;
use object::{Object, ObjectSymbol};
use std::collections::BTreeSet;

/// The `module` of a warning about a preserved name no input defines: the
/// list of preserved names, not one module.
const PRESERVED_SYMBOLS: &str = "preserved symbols";

/// Warnings about `exports` (the names the caller preserved) after a run
/// whose result is `output`.
pub(crate) fn about_preserved(
    exports: &BTreeSet<String>,
    output: &Output,
    config: &Config,
) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    if !exports.contains("main") {
        for module in modules_that_lost(&output.report, "main") {
            warnings.push(warning(
                module,
                "`main` is defined but not preserved, so LTO made it internal (or dropped it): a \
                 program linked from this output has no entry point (`undefined symbol: \
                 main`); preserve it (Session::preserve([\"main\"]), --export main) when \
                 the output is a program",
            ));
        }
    }
    // Only objects have a symbol table to read; distributed backends have
    // not compiled anything yet.
    if config.emit == EmitKind::Object && output.jobs.is_empty() {
        for name in defined_nowhere(exports, output) {
            warnings.push(warning(
                PRESERVED_SYMBOLS,
                &format!(
                    "`{name}` is preserved but no input defines it (misspelled, or an \
                     input missing?); the final link will need it from elsewhere"
                ),
            ));
        }
    }
    warnings
}

fn warning(module: &str, message: &str) -> Diagnostic {
    Diagnostic {
        severity: Severity::Warning,
        message: message.to_string(),
        module: module.to_string(),
        pass: None,
        function: None,
    }
}

/// The modules that defined `name` globally and in which LTO internalized
/// or dropped it.
fn modules_that_lost<'a>(report: &'a crate::report::Report, name: &str) -> Vec<&'a str> {
    if report.is_thin() {
        return report
            .thin
            .modules
            .iter()
            .filter(|m| m.internalized.iter().chain(&m.dropped).any(|n| n == name))
            .map(|m| m.name.as_str())
            .collect();
    }
    if !report.internalized.iter().any(|n| n == name) {
        return Vec::new();
    }
    match (report.fat.internalized_from.get(name), &report.base_module) {
        (Some(module), _) | (None, Some(module)) => vec![module.as_str()],
        (None, None) => Vec::new(),
    }
}

/// The names of `exports` that neither an object of the run nor a native
/// input defines. Empty when a native input cannot be read: it might
/// define them.
fn defined_nowhere<'a>(exports: &'a BTreeSet<String>, output: &Output) -> Vec<&'a str> {
    let mut missing: BTreeSet<&str> = exports.iter().map(String::as_str).collect();
    for object in &output.objects {
        remove_defined(&object.bytes, &mut missing);
    }
    // Native inputs are read only when something is still missing, which
    // a correct session never has.
    for item in &output.native_inputs {
        if missing.is_empty() {
            break;
        }
        match item {
            LinkItem::LtoOutput => {}
            LinkItem::Native(path) => match std::fs::read(path) {
                Ok(bytes) if remove_defined(&bytes, &mut missing) => {}
                _ => return Vec::new(),
            },
            LinkItem::NativeMembers { members, .. } => {
                for (_, bytes) in members {
                    remove_defined(bytes.as_slice(), &mut missing);
                }
            }
        }
    }
    missing.into_iter().collect()
}

/// Removes from `names` what the object, shared library or archive in
/// `bytes` defines; false when `bytes` is none of those.
fn remove_defined(bytes: &[u8], names: &mut BTreeSet<&str>) -> bool {
    if let Ok(archive) = object::read::archive::ArchiveFile::parse(bytes) {
        for member in archive.members().flatten() {
            if let Ok(data) = member.data(bytes) {
                remove_defined(data, names);
            }
        }
        return true;
    }
    let Ok(file) = object::File::parse(bytes) else {
        return false;
    };
    for symbol in file.symbols().chain(file.dynamic_symbols()) {
        if symbol.is_undefined() || symbol.is_local() {
            continue;
        }
        if let Ok(name) = symbol.name() {
            names.remove(name);
        }
    }
    true
}
