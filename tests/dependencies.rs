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
