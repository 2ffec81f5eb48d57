//! Calls that only code generation makes (`fmod` for an `frem`, `__divti3`
//! for a 128-bit division): the bitcode's symbol tables do not show them,
//! yet the real link resolves them after LTO, possibly by loading an
//! archive member that names symbols of the LTO unit. Through `lto-engine
//! ld`, in fat LTO with 1, 2 and 4 partitions and in thin LTO, the program
//! must behave as its native build.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The engine's modes: (name, ld options).
const MODES: &[(&str, &[&str])] = &[
    ("fat-1", &["--lto-engine-kind=fat", "--lto-partitions=1"]),
    ("fat-2", &["--lto-engine-kind=fat", "--lto-partitions=2"]),
    ("fat-4", &["--lto-engine-kind=fat", "--lto-partitions=4"]),
    ("thin", &["--lto-engine-kind=thin"]),
];

fn report_of(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn names(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// The names a run internalized: fat lists them; thin lists them per
/// module, when it does.
fn internalized(report: &serde_json::Value) -> Vec<String> {
    names(&report["internalized"])
}

/// Links `dir/<mode>` statically from `inputs` with clang-22 and the
/// engine as ld.lld, with the mode's options; the program and the engine's
/// report of the link.
fn static_link(
    dir: &Path,
    mode: &str,
    options: &[&str],
    inputs: &[&Path],
) -> (PathBuf, serde_json::Value) {
    let prog = dir.join(mode);
    let report = dir.join(format!("{mode}.json"));
    run_ok(
        Command::new("clang-22")
            .args(["-static", "-fuse-ld=lld"])
            .arg(format!("--ld-path={}", engine_as_lld(dir).display()))
            .args(inputs)
            .args(options.iter().map(|o| format!("-Wl,{o}")))
            .arg(format!("-Wl,--lto-engine-report={}", report.display()))
            .arg("-o")
            .arg(&prog),
    );
    (prog, report_of(&report))
}

/// Static links, so that `__divti3` comes from an archive member loaded
/// after LTO (with a shared libgcc_s, the real link would take its copy).
#[test]
fn a_member_loaded_for_a_libcall_finds_the_program_symbols_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let src = |name: &str| data(&format!("libcalls/{name}"));
    let divti = compile_c(dir, &src("divti.c"), &["-O2"]);
    let archive = dir.join("libdivti.a");
    run_ok(
        Command::new("/usr/lib/llvm-22/bin/llvm-ar")
            .arg("rcs")
            .arg(&archive)
            .arg(&divti),
    );
    // The native build calls the member's __divti3, which calls hook once.
    let native = dir.join("native");
    run_ok(
        Command::new("clang-22")
            .args(["-O2", "-static"])
            .arg(src("main.c"))
            .arg(&archive)
            .arg("-o")
            .arg(&native),
    );
    let expected = run_program(&native);
    assert_eq!(expected, "-936105351117724526 1\n");

    let bitcode = dir.join("main.bc.o");
    run_ok(
        Command::new("clang-22")
            .args(["-O2", "-flto=thin", "-c"])
            .arg(src("main.c"))
            .arg("-o")
            .arg(&bitcode),
    );
    for (mode, options) in MODES {
        let (prog, report) = static_link(dir, mode, options, &[&bitcode, &archive]);
        assert_eq!(run_program(&prog), expected, "{mode}");
        // The report says which member a libcall may load, and `hook`,
        // which that member names, stayed visible.
        let members = names(&report["link"]["libcall_members"]);
        assert!(
            members.iter().any(|m| m.ends_with("libdivti.a(divti.o)")),
            "{mode}: {members:?}"
        );
        let preserved = names(&report["preserved"]);
        assert!(preserved.contains(&"hook".to_string()), "{mode}");
        assert!(names(&report["link"]["native_inputs"])
            .iter()
            .any(|n| n.ends_with("crt1.o")));
        // The control: what no native code can name is still internalized
        // (fat) and gone from the program.
        if mode.starts_with("fat") {
            let internalized = internalized(&report);
            assert!(
                internalized.contains(&"unused_helper".to_string()),
                "{mode}: {internalized:?}"
            );
            assert!(!internalized.contains(&"hook".to_string()), "{mode}");
        }
        assert!(find(&symbols(&prog), "unused_helper").is_none(), "{mode}");
    }

    // The CLI and the library: a native archive after the bitcode, the
    // final link by the user from link.rsp. Every native member's
    // references stay visible there, the one a libcall loads included.
    for (kind, options) in [("fat", &["--lto-partitions", "2"][..]), ("thin", &[][..])] {
        let out = dir.join(format!("cli-{kind}"));
        let object = if kind == "fat" {
            out.join("lto.o")
        } else {
            out.clone()
        };
        run_ok(
            engine()
                .arg(kind)
                .arg(&bitcode)
                .arg(&archive)
                .args(["--export", "main", "-o"])
                .arg(&object)
                .args(options),
        );
        let prog = dir.join(format!("cli-{kind}-prog"));
        run_ok(
            Command::new("clang-22")
                .args(["-static", "-fuse-ld=lld"])
                .arg(format!("@{}", out.join("link.rsp").display()))
                .arg("-o")
                .arg(&prog),
        );
        assert_eq!(run_program(&prog), expected, "cli {kind}");
    }
}

/// A bitcode definition of a runtime library function stays: code
/// generation calls it, and dropping it would bind the call to the C
/// library's copy (here: libgcc's `__divti3`, which never calls `hook`).
/// lld-22 keeps it too (its symbol table marks such names as used).
#[test]
fn bitcode_definitions_of_runtime_functions_are_never_internalized() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let both = dir.join("both.c");
    let text = std::fs::read_to_string(data("libcalls/divti.c")).unwrap()
        + &std::fs::read_to_string(data("libcalls/main.c")).unwrap();
    std::fs::write(&both, text).unwrap();
    let native = dir.join("native");
    run_ok(
        Command::new("clang-22")
            .args(["-O2", "-static"])
            .arg(&both)
            .arg("-o")
            .arg(&native),
    );
    let expected = run_program(&native);
    assert_eq!(expected, "-936105351117724526 1\n");
    let bitcode = dir.join("both.bc.o");
    run_ok(
        Command::new("clang-22")
            .args(["-O2", "-flto=thin", "-c"])
            .arg(&both)
            .arg("-o")
            .arg(&bitcode),
    );
    let lld = dir.join("lld");
    run_ok(
        Command::new("clang-22")
            .args(["-static", "-fuse-ld=lld", "--ld-path=/usr/bin/ld.lld-22"])
            .arg(&bitcode)
            .arg("-o")
            .arg(&lld),
    );
    assert_eq!(run_program(&lld), expected, "ld.lld-22");
    for (mode, options) in MODES {
        let (prog, report) = static_link(dir, mode, options, &[&bitcode]);
        assert_eq!(run_program(&prog), expected, "{mode}");
        assert!(
            names(&report["preserved"]).contains(&"__divti3".to_string()),
            "{mode}"
        );
        if mode.starts_with("fat") {
            // The control: an ordinary unused function is internalized.
            let internalized = internalized(&report);
            assert!(internalized.contains(&"unused_helper".to_string()));
            assert!(!internalized.contains(&"__divti3".to_string()));
        }
    }
    // The library and CLI path keep it as well.
    let out = dir.join("cli");
    run_ok(
        engine()
            .arg("fat")
            .arg(&bitcode)
            .args(["--export", "main", "-o"])
            .arg(out.join("lto.o"))
            .arg("--report")
            .arg(out.join("report.json")),
    );
    let report = report_of(&out.join("report.json"));
    let internalized = internalized(&report);
    assert!(!internalized.contains(&"__divti3".to_string()));
    assert!(internalized.contains(&"unused_helper".to_string()));
}

/// The case of a real cargo project (fd-find): rustc's full LTO hands the
/// linker one module; its `frem` becomes a call to `fmod`, which loads a
/// compiler_builtins member whose unwind tables name `rust_eh_personality`
/// through a `DW.ref.rust_eh_personality` comdat. The personality routine
/// must keep its name and stay visible at every partition count.
#[test]
fn a_rust_program_whose_libcall_loads_compiler_builtins_links_at_every_partition_count() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let src = data("libcalls/frem.rs");
    let native = dir.join("native");
    rustc(dir, &src, &["-o", native.to_str().unwrap()]);
    let expected = run_program(&native);
    assert_eq!(expected, "14.500 10 42\n");
    let ld = format!("-Clink-arg=--ld-path={}", engine_as_lld(dir).display());
    for (mode, options) in MODES {
        let report = dir.join(format!("{mode}.json"));
        // Fat: rustc's own full LTO first, as `lto = true` does; thin: the
        // crate's codegen units as ThinLTO bitcode.
        let lto: &[&str] = if mode.starts_with("fat") {
            &["-Clto=fat", "-Ccodegen-units=1"]
        } else {
            &["-Ccodegen-units=4"]
        };
        let mut flags: Vec<String> = [
            "-Clinker-plugin-lto",
            "-Clinker=clang-22",
            "-Clink-arg=-fuse-ld=lld",
            &ld,
        ]
        .iter()
        .chain(lto)
        .map(|s| s.to_string())
        .collect();
        flags.extend(options.iter().map(|o| format!("-Clink-arg=-Wl,{o}")));
        flags.push(format!(
            "-Clink-arg=-Wl,--lto-engine-report={}",
            report.display()
        ));
        flags.extend(["-o".to_string(), dir.join(mode).display().to_string()]);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        rustc(dir, &src, &flags);
        assert_eq!(run_program(&dir.join(mode)), expected, "{mode}");
        let report = report_of(&report);
        let members = names(&report["link"]["libcall_members"]);
        assert!(
            members.iter().any(|m| m.contains("compiler_builtins")),
            "{mode}: {members:?}"
        );
        if mode.starts_with("fat") {
            assert!(
                !internalized(&report).contains(&"rust_eh_personality".to_string()),
                "{mode}"
            );
        }
    }
}
