//! The library stays lean: a compiler that depends on it without default
//! features gets neither clap nor indicatif (the CLI's dependencies).

use std::process::Command;

/// The names of the packages in the crate's normal dependency tree.
fn normal_dependencies(features: &[&str]) -> Vec<String> {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let out = Command::new(cargo)
        .args(["tree", "--offline", "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}"])
        .args(features)
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_bare_library_has_no_cli_dependencies() {
    let bare = normal_dependencies(&["--no-default-features"]);
    assert!(bare.iter().any(|p| p == "inkwell"), "{bare:?}");
    for cli_only in ["clap", "indicatif"] {
        assert!(
            !bare.iter().any(|p| p == cli_only),
            "{cli_only} in {bare:?}"
        );
    }
    // Positive control: the default features (the CLI) do bring them in.
    let full = normal_dependencies(&[]);
    for cli_only in ["clap", "indicatif"] {
        assert!(
            full.iter().any(|p| p == cli_only),
            "{cli_only} not in {full:?}"
        );
    }
}

/// Every Rust source under `dir`, recursively.
fn rust_sources(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The shim is reached through `src/llvm/` only: no other source names
/// `ffi::` (its codes are typed in `llvm/codes.rs`) or holds `unsafe` code,
/// but for the one documented exception (the CLI opening the jobserver
/// `MAKEFLAGS` names). The control: `src/llvm/` does both.
#[test]
fn the_shim_and_unsafe_code_stay_in_the_llvm_layer() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for path in rust_sources(&src) {
        let relative = path.strip_prefix(&src).unwrap().to_path_buf();
        let text = std::fs::read_to_string(&path).unwrap();
        if relative.starts_with("llvm") || relative == std::path::Path::new("ffi.rs") {
            inside.push(text);
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let jobserver_exception =
                relative.ends_with("main.rs") && code.contains("Client::from_env_ext");
            if code.contains("ffi::") || (code.contains("unsafe") && !jobserver_exception) {
                outside.push(format!("{}:{}: {line}", relative.display(), number + 1));
            }
        }
    }
    assert!(outside.is_empty(), "{outside:#?}");
    assert!(inside.iter().any(|t| t.contains("ffi::")));
    assert!(inside.iter().any(|t| t.contains("unsafe {")));
}
