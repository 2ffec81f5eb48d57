//! `lto-engine ld`: the engine as the linker clang runs (`--ld-path` to an
//! executable named `ld.lld`), doing the LTO step of real links and handing
//! the rest to `ld.lld-22`.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `dir/ld.lld`, a link to the engine: clang runs it as its linker.
fn linker(dir: &Path) -> PathBuf {
    let path = dir.join("ld.lld");
    if !path.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lto-engine"), &path).unwrap();
    }
    path
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const MAIN: &str = "#include <stdio.h>\nint helper(int);\nint twice(int);\n\
                    int main(void) { printf(\"%d %d\\n\", helper(20), twice(4)); return 0; }\n";
const HELPER: &str =
    "int helper(int x) { return x * 2 + 1; }\nint twice(int x) { return x + x; }\n";

fn clang(dir: &Path) -> Command {
    let mut command = Command::new("clang-22");
    command.current_dir(dir);
    command
}

#[test]
fn clang_links_thin_and_full_lto_through_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let main = write(dir, "main.c", MAIN);
    let helper = write(dir, "helper.c", HELPER);
    // The same program without LTO: what every build must print.
    run_ok(
        clang(dir)
            .arg(&main)
            .arg(&helper)
            .args(["-O2", "-o", "native"]),
    );
    let expected = run_program(&dir.join("native"));
    assert_eq!(expected, "41 8\n");
    let ld = format!("--ld-path={}", linker(dir).display());
    for (flag, name) in [("-flto=thin", "thin"), ("-flto", "full")] {
        let cache = dir.join(format!("cache-{name}"));
        run_ok(
            clang(dir)
                .args([flag, "-O2", "-fuse-ld=lld", &ld])
                .arg(&main)
                .arg(&helper)
                .arg(format!("-Wl,--thinlto-cache-dir={}", cache.display()))
                .arg(format!(
                    "-Wl,--lto-engine-report={}",
                    dir.join(format!("{name}.json")).display()
                ))
                .args(["-o", name]),
        );
        assert_eq!(run_program(&dir.join(name)), expected, "{name}");
        let report: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let kind = if name == "thin" { "thin" } else { "fat" };
        assert_eq!(report["kind"], kind, "{report}");
        // The thin link used the cache directory lld's option named.
        let entries = std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
        if name == "thin" {
            assert!(entries >= 2, "cache entries: {entries}");
        }
    }
}

#[test]
fn archive_members_are_lazy_as_in_lld() {
    // libh.a: b.o defines helper and twice (used), c.o defines helper too
    // and is never needed: lld takes b.o only, so must the engine (two
    // strong definitions of helper would otherwise be an error).
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write(dir, "main.c", MAIN);
    write(dir, "b.c", HELPER);
    write(
        dir,
        "c.c",
        "int helper(int x) { return x * 3; }\nint only_c(void) { return 9; }\n",
    );
    run_ok(clang(dir).args(["-flto=thin", "-O2", "-c", "main.c", "b.c", "c.c"]));
    run_ok(
        Command::new("llvm-ar-22")
            .current_dir(dir)
            .args(["rcs", "libh.a", "b.o", "c.o"]),
    );
    let ld = format!("--ld-path={}", linker(dir).display());
    run_ok(clang(dir).args([
        "-flto=thin",
        "-fuse-ld=lld",
        &ld,
        "main.o",
        "-L.",
        "-lh",
        "-Wl,--lto-engine-report=r.json",
        "-o",
        "engine",
    ]));
    run_ok(clang(dir).args([
        "-flto=thin",
        "-fuse-ld=lld",
        "main.o",
        "-L.",
        "-lh",
        "-o",
        "lld",
    ]));
    assert_eq!(run_program(&dir.join("engine")), "41 8\n");
    assert_eq!(run_program(&dir.join("lld")), "41 8\n");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).unwrap()).unwrap();
    let modules: Vec<String> = report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        modules.iter().any(|m| m.ends_with("libh.a(b.o)")),
        "{modules:?}"
    );
    assert!(
        !modules.iter().any(|m| m.contains("c.o")),
        "the unused member was compiled: {modules:?}"
    );
    // Positive control: with --whole-archive every member is taken, and the
    // two definitions of helper clash.
    let out = clang(dir)
        .args([
            "-flto=thin",
            "-fuse-ld=lld",
            &ld,
            "main.o",
            "-Wl,--whole-archive",
            "libh.a",
            "-Wl,--no-whole-archive",
            "-o",
            "whole",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("helper"), "{stderr}");
}

#[test]
fn links_without_bitcode_and_options_it_cannot_honour() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write(dir, "main.c", MAIN);
    write(dir, "helper.c", HELPER);
    let ld = format!("--ld-path={}", linker(dir).display());
    // No bitcode: the real linker does the link as given.
    run_ok(clang(dir).args([
        "-O2",
        "-fuse-ld=lld",
        &ld,
        "main.c",
        "helper.c",
        "-o",
        "plain",
    ]));
    assert_eq!(run_program(&dir.join("plain")), "41 8\n");
    // An lld LTO option the engine cannot honour: one clear error line.
    let out = clang(dir)
        .args([
            "-flto=thin",
            "-fuse-ld=lld",
            &ld,
            "main.c",
            "helper.c",
            "-Wl,--thinlto-index-only",
            "-o",
            "never",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("lto-engine: error: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("--thinlto-index-only"), "{line}");
    assert!(!dir.join("never").exists());
    // A library nobody can find: the real linker's own diagnostic and exit.
    let out = clang(dir)
        .args([
            "-flto=thin",
            "-fuse-ld=lld",
            &ld,
            "main.c",
            "helper.c",
            "-lno_such_lib_xyz",
            "-o",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ld.lld") && stderr.contains("unable to find library -lno_such_lib_xyz"),
        "{stderr}"
    );
    // `lto-engine ld` is the same linker by subcommand.
    let out = engine().args(["ld", "--version"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("LLD"),
        "{out:?}"
    );
}

#[test]
fn a_shared_object_exports_what_its_version_script_says() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write(
        dir,
        "lib.c",
        "int helper_internal(int x) { return x * 7; }\n\
         int api_scale(int x) { return helper_internal(x) + 1; }\n",
    );
    write(
        dir,
        "exports.map",
        "LIB_1 {\n  global: api_*;\n  local: *;\n};\n",
    );
    write(
        dir,
        "use.c",
        "#include <stdio.h>\nint api_scale(int);\nint main(void) { printf(\"%d\\n\", api_scale(6)); return 0; }\n",
    );
    let ld = format!("--ld-path={}", linker(dir).display());
    let dynamic = |lib: &str| -> String {
        let out = Command::new("llvm-nm-22")
            .args(["-D", "--defined-only"])
            .arg(dir.join(lib))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for (lib, script) in [("libscripted.so", true), ("libopen.so", false)] {
        let mut command = clang(dir);
        command.args([
            "-flto=thin",
            "-O2",
            "-fPIC",
            "-shared",
            "-fuse-ld=lld",
            &ld,
            "lib.c",
        ]);
        if script {
            command.arg("-Wl,--version-script=exports.map");
        }
        let report = dir.join(format!("{lib}.json"));
        command.arg(format!("-Wl,--lto-engine-report={}", report.display()));
        run_ok(command.args(["-o", lib]));
        // The engine decided as the real linker does: what the script hides
        // was not preserved through LTO.
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let preserved: Vec<&str> = report["preserved"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s.as_str())
            .collect();
        assert!(preserved.contains(&"api_scale"), "{preserved:?}");
        assert_eq!(
            preserved.contains(&"helper_internal"),
            !script,
            "{preserved:?}"
        );
        let symbols = dynamic(lib);
        assert!(symbols.contains("api_scale"), "{lib}: {symbols}");
        // Hidden by `local: *`; exported without the script (the control).
        assert_eq!(
            symbols.contains("helper_internal"),
            !script,
            "{lib}: {symbols}"
        );
    }
    // A program uses the library's export.
    run_ok(clang(dir).args([
        "use.c",
        "-L.",
        "-lscripted",
        "-Wl,-rpath,$ORIGIN",
        "-o",
        "use",
    ]));
    assert_eq!(run_program(&dir.join("use")), "43\n");
}

#[test]
fn lld_distributes_thin_backends_to_the_engine() {
    // lld 22's DTLTO: lld runs the thin link and hands each backend to a
    // distributor as a job for a clang-style remote compiler: here the
    // engine (`lto-engine -c --target=... M.o -fthinlto-index=... -o ...`).
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write(dir, "main.c", MAIN);
    write(dir, "helper.c", HELPER);
    let distributor = write(
        dir,
        "distribute.py",
        "#!/usr/bin/env python3\n\
         import json, subprocess, sys\n\
         jobs = json.load(open(sys.argv[-1]))\n\
         with open('commands.txt', 'a') as log:\n\
         \x20   for job in jobs['jobs']:\n\
         \x20       command = jobs['common']['args'] + job['args']\n\
         \x20       log.write(' '.join(command) + '\\n')\n\
         \x20       subprocess.check_call(command)\n",
    );
    std::fs::set_permissions(
        &distributor,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    run_ok(clang(dir).args([
        "-flto=thin",
        "-O2",
        "-fuse-ld=lld",
        "main.c",
        "helper.c",
        &format!("-Wl,--thinlto-distributor={}", distributor.display()),
        &format!(
            "-Wl,--thinlto-remote-compiler={}",
            env!("CARGO_BIN_EXE_lto-engine")
        ),
        "-o",
        "dtlto",
    ]));
    assert_eq!(run_program(&dir.join("dtlto")), "41 8\n");
    // The engine compiled every backend job.
    let commands = std::fs::read_to_string(dir.join("commands.txt")).unwrap();
    assert_eq!(commands.lines().count(), 2, "{commands}");
    assert!(
        commands
            .lines()
            .all(|l| l.starts_with(env!("CARGO_BIN_EXE_lto-engine"))
                && l.contains("-fthinlto-index=")),
        "{commands}"
    );
    // An option it does not take is an error naming it, not a different
    // object.
    let out = engine()
        .args([
            "-c",
            "-fsanitize=address",
            "x.o",
            "-fthinlto-index=x.bc",
            "-o",
            "y.o",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("-fsanitize=address"));
}

/// A cargo workspace: a library with generics and trait objects and its
/// unit and integration tests, and a binary using it.
fn cargo_workspace(root: &Path) {
    let files: &[(&str, &str)] = &[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"shapes\", \"app\"]\nresolver = \"2\"\n",
        ),
        (
            "shapes/Cargo.toml",
            "[package]\nname = \"shapes\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        (
            "shapes/src/lib.rs",
            "pub trait Area { fn area(&self) -> f64; }\n\
             pub struct Square(pub f64);\npub struct Rect(pub f64, pub f64);\n\
             impl Area for Square { fn area(&self) -> f64 { self.0 * self.0 } }\n\
             impl Area for Rect { fn area(&self) -> f64 { self.0 * self.1 } }\n\
             pub fn total<T: Area>(items: &[T]) -> f64 { items.iter().map(Area::area).sum() }\n\
             pub fn total_dyn(items: &[Box<dyn Area>]) -> f64 { items.iter().map(|s| s.area()).sum() }\n\
             #[cfg(test)]\nmod tests { use crate::Area; #[test] fn square() { assert_eq!(super::Square(3.0).area(), 9.0); } }\n",
        ),
        (
            "shapes/tests/sum.rs",
            "use shapes::*;\n#[test] fn sums() { assert_eq!(total(&[Square(1.0), Square(2.0)]), 5.0); }\n\
             #[test] fn sums_dyn() { let v: Vec<Box<dyn Area>> = vec![Box::new(Square(2.0)), Box::new(Rect(2.0, 3.0))]; assert_eq!(total_dyn(&v), 10.0); }\n",
        ),
        (
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             [dependencies]\nshapes = { path = \"../shapes\" }\n",
        ),
        (
            "app/src/main.rs",
            "use shapes::*;\nfn main() { let v: Vec<Box<dyn Area>> = vec![Box::new(Square(3.0)), Box::new(Rect(1.0, 2.5))]; println!(\"total {}\", total_dyn(&v)); }\n\
             #[cfg(test)]\nmod tests { #[test] fn runs() { assert_eq!(shapes::total(&[shapes::Rect(1.0, 1.0)]), 1.0); } }\n",
        ),
    ];
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn a_cargo_workspace_builds_and_tests_through_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    cargo_workspace(&root);
    let ld = linker(dir.path());
    let report = dir.path().join("report.json");
    let cache = dir.path().join("cache");
    let cargo = |args: &[&str]| {
        let mut command = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        command
            .current_dir(&root)
            .args(args)
            .arg("--offline")
            .env("CARGO_TARGET_DIR", root.join("target"))
            .env(
                "RUSTFLAGS",
                format!(
                    "-Clinker-plugin-lto -Clinker=clang-22 -Clink-arg=-fuse-ld=lld \
                     -Clink-arg=--ld-path={} -Clink-arg=-Wl,--thinlto-cache-dir={} \
                     -Clink-arg=-Wl,--lto-engine-report={}",
                    ld.display(),
                    cache.display(),
                    report.display()
                ),
            )
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        run_ok(&mut command)
    };
    // `cargo test`: every test binary is linked by the engine and passes.
    let out = cargo(&["test"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let passed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("test result: ok"))
        .collect();
    assert!(passed.len() >= 3, "{text}");
    assert!(text.contains("test sums_dyn ... ok"), "{text}");
    let read = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap()
    };
    assert_eq!(read()["kind"], "thin", "the links went through the engine");

    // A release build, then a one-line edit of the binary: the library's
    // modules come from the cache.
    cargo(&["build", "--release", "-p", "app"]);
    let cold = read();
    assert_eq!(cold["thin"]["cache"]["hits"], 0, "{cold}");
    let main = root.join("app/src/main.rs");
    let edited = std::fs::read_to_string(&main)
        .unwrap()
        .replace("total {}", "sum {}");
    std::fs::write(&main, edited).unwrap();
    cargo(&["build", "--release", "-p", "app"]);
    let warm = read();
    let hits = warm["thin"]["cache"]["hits"].as_u64().unwrap();
    let misses = warm["thin"]["cache"]["misses"].as_u64().unwrap();
    assert!(hits >= 1 && misses >= 1, "{warm}");
    let program = root.join("target/release/app");
    assert_eq!(run_program(&program), "sum 11.5\n");
}
