//! The examples run for real: `toy_compiler` (a streaming ThinLTO session
//! fed by codegen threads) and `rlib_driver` (fat LTO of a rustc rlib with a
//! driver's own module). Run with `cargo test --test examples`; the test
//! builds the two examples itself (see [`example`]).

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// An example binary, built (or brought up to date) first: a plain `cargo
/// test` builds the examples, but `cargo test --test examples` builds only
/// this test, and a stale example binary would test old code. They are
/// where cargo puts them, `target/<profile>/examples/<name>`, beside the
/// `deps/` directory this test binary runs from.
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    if let Err(error) = BUILT.get_or_init(|| build_examples(profile_dir)) {
        panic!("{error}");
    }
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// `cargo build` of the examples under test (only those: another example
/// being edited does not fail these tests) into the target directory and
/// profile this test was built with (`target[/<triple>]/<profile>`).
fn build_examples(profile_dir: &Path) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--example",
            "toy_compiler",
            "--example",
            "rlib_driver",
        ])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(profile) => {
            command.args(["--profile", profile]);
        }
        None => return Err(format!("{}: no profile directory", profile_dir.display())),
    }
    // `target/<triple>/<profile>` when built with `--target`: the target
    // directory is the one that holds cargo's CACHEDIR.TAG.
    let mut target_dir = profile_dir.parent().unwrap();
    if !target_dir.join("CACHEDIR.TAG").exists() {
        if let (Some(triple), Some(parent)) = (target_dir.file_name(), target_dir.parent()) {
            command.arg("--target").arg(triple);
            target_dir = parent;
        }
    }
    command.arg("--target-dir").arg(target_dir);
    let out = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{command:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// What the toy program computes, written out independently of the
/// example: step_0(x) = x + 7, step_k(x) = step_{k-1}(x) * 3 + k, at x = 2.
fn toy_value(units: usize) -> i32 {
    let mut value: i32 = 2 + 7;
    for k in 1..units {
        value = value.wrapping_mul(3).wrapping_add(k as i32);
    }
    value
}

#[test]
fn toy_compiler_streams_units_and_main_imports_across_them() {
    let dir = tempfile::tempdir().unwrap();
    for units in [6, 2] {
        let out_dir = dir.path().join(format!("units{units}"));
        let out = run_ok(
            Command::new(example("toy_compiler"))
                .arg("--out")
                .arg(&out_dir)
                .args(["--units", &units.to_string()]),
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let last = units - 1;
        let line = format!(
            "program output: toy 0.1: step_{last}(2) = {}\n",
            toy_value(units)
        );
        assert!(stdout.contains(&line), "expected {line:?} in:\n{stdout}");
        assert!(
            stdout.contains(&format!("thin-linked units: {}", units + 1)),
            "{stdout}"
        );
        assert!(stdout.contains("compiled alone: cgu.metadata"), "{stdout}");
        // main calls step_{last} only: importing it is the least ThinLTO does.
        assert!(
            stdout.contains(&format!("main imported from cgu.{last}: step_{last}")),
            "{stdout}"
        );
        assert!(out_dir.join("prog").is_file());
        assert!(out_dir.join("cgu.metadata.o").is_file(), "compiled alone");
    }

    // A bad argument is one line on stderr and a failing exit status.
    let out = Command::new(example("toy_compiler"))
        .args(["--units", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("toy_compiler: error: --units 0"),
        "{stderr}"
    );
}

/// A `no_std` crate whose code needs nothing from core at run time (no
/// panics: wrapping arithmetic, a while loop), so its rlib links alone.
const TOY_CRATE: &str = r#"
#![no_std]

#[no_mangle]
pub extern "C" fn toy_sum(n: u32) -> u32 {
    let mut i = 1u32;
    let mut total = 0u32;
    while i <= n {
        total = total.wrapping_add(i.wrapping_mul(i));
        i = i.wrapping_add(1);
    }
    total
}

#[no_mangle]
pub extern "C" fn toy_unused(n: u32) -> u32 {
    n.wrapping_mul(2654435761).rotate_left(7)
}
"#;

#[test]
fn rlib_driver_runs_fat_lto_over_an_embed_bitcode_rlib() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("toy.rs");
    std::fs::write(&src, TOY_CRATE).unwrap();
    let rlib = dir.path().join("libtoy.rlib");
    // Not the `rustc` helper, which fixes -C opt-level=2 and --out-dir:
    // the flags a build of an LTO-ready, panic-free rlib passes (rustc
    // targets the host, as the helper does).
    run_ok(
        Command::new("rustc")
            .args(["--crate-type=rlib", "--edition=2021", "-C", "opt-level=1"])
            .args(["-C", "embed-bitcode=yes", "-C", "panic=abort"])
            .arg(&src)
            .arg("-o")
            .arg(&rlib),
    );

    let lto_o = dir.path().join("lto.o");
    let out = run_ok(
        Command::new(example("rlib_driver"))
            .arg("--rlib")
            .arg(&rlib)
            .args(["--preserve", "main", "--arg", "12", "-o"])
            .arg(&lto_o),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.is_empty(), "no warnings expected: {stderr}");
    let link_rsp = dir.path().join("link.rsp");
    assert!(
        stdout.contains(&format!("link.rsp: {}", link_rsp.display())),
        "{stdout}"
    );
    // The rlib's code went through LTO from its `.llvmbc` section.
    assert!(stdout.contains("(embedded .llvmbc)"), "{stdout}");
    let internalized = stdout
        .lines()
        .find_map(|l| l.strip_prefix("internalized: "))
        .unwrap_or_else(|| panic!("no internalized line: {stdout}"));
    assert!(internalized.contains("toy_unused"), "{stdout}");

    let prog = link(dir.path(), &link_rsp, &[]);
    let expected: u32 = (1..=12u32).map(|i| i * i).sum();
    assert_eq!(run_program(&prog), format!("toy_sum(12) = {expected}\n"));

    // Only main was preserved: toy_unused (never called) is internalized,
    // then dropped; toy_sum is internalized into its one caller.
    let syms = symbols(&lto_o);
    assert!(find(&syms, "main").is_some_and(|s| s.global && s.defined));
    for name in ["toy_unused", "toy_sum"] {
        assert!(
            find(&syms, name).is_none_or(|s| !s.global),
            "{name} is still global in lto.o: {:?}",
            find(&syms, name)
        );
    }
}
