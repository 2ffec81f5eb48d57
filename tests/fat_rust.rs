//! Fat LTO of Rust staticlibs that use std, linked with a C `main`, and
//! cross-language inlining between C and Rust.

mod common;
use common::*;
use lto_engine::{Config, Input, InputOptions, LtoKind, Session, WriteTo};
use std::path::Path;

const EXPECTED: &str = "rust: 4 words: w1+w4+w9+w16\nc: total=9\n";

/// Runs `lto-engine fat` over `inputs` into `dir/out`, links, runs; returns
/// the program output and the report JSON.
fn fat_link_run(dir: &Path, inputs: &[&Path], flags: &[&str]) -> (String, serde_json::Value) {
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("lto.o");
    let report = dir.join("report.json");
    run_ok(
        engine()
            .arg("fat")
            .args(inputs)
            .arg("-o")
            .arg(&out)
            .args(flags)
            .arg("--report")
            .arg(&report),
    );
    let prog = link(dir, &out_dir.join("link.rsp"), &[]);
    let json = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    (run_program(&prog), json)
}

fn module_names(report: &serde_json::Value) -> Vec<String> {
    report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn staticlib_with_linker_plugin_lto_members_go_to_lto() {
    let dir = tempfile::tempdir().unwrap();
    rustc(
        dir.path(),
        &data("rust/report.rs"),
        &["--crate-type=staticlib", "-C", "linker-plugin-lto"],
    );
    let main = compile_c(dir.path(), &data("rust/report_main.c"), &["-O2"]);
    let lib = dir.path().join("libreport.a");
    let (stdout, report) = fat_link_run(dir.path(), &[&main, &lib], &[]);
    assert_eq!(stdout, EXPECTED);
    let modules = module_names(&report);
    // The crate's bitcode members went to LTO, std's native members did not.
    assert!(
        modules.iter().any(|m| m.contains("report.report.")),
        "{modules:?}"
    );
    assert!(!modules.iter().any(|m| m.contains("(std-")), "{modules:?}");
    let rsp = std::fs::read_to_string(dir.path().join("out/link.rsp")).unwrap();
    assert!(rsp.contains("libreport.native.a"), "{rsp}");
    // std's native code references the allocator shim (mangled as
    // `..___rustc12___rust_alloc` since Rust 1.9x): preserved.
    let preserved = report["preserved"].as_array().unwrap();
    assert!(
        preserved
            .iter()
            .any(|s| s.as_str().unwrap().ends_with("___rust_alloc")),
        "__rust_alloc is not among {} preserved symbols",
        preserved.len()
    );
}

/// rustc embeds `.llvmbc` only in rlib-type objects, so the staticlib is
/// built together with an rlib (the objects are shared).
fn build_embedded(dir: &Path) -> std::path::PathBuf {
    rustc(
        dir,
        &data("rust/report.rs"),
        &[
            "--crate-type=rlib",
            "--crate-type=staticlib",
            "-C",
            "embed-bitcode=yes",
        ],
    );
    dir.join("libreport.a")
}

#[test]
fn embedded_bitcode_is_native_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let lib = build_embedded(dir.path());
    let main = compile_c(dir.path(), &data("rust/report_main.c"), &["-O2"]);
    let (stdout, report) = fat_link_run(dir.path(), &[&main, &lib], &[]);
    assert_eq!(stdout, EXPECTED);
    assert!(module_names(&report).is_empty(), "no module goes to LTO");
    let rsp = std::fs::read_to_string(dir.path().join("out/link.rsp")).unwrap();
    assert_eq!(
        rsp.lines().collect::<Vec<_>>(),
        [main.to_str().unwrap(), lib.to_str().unwrap()],
        "everything passes through as given"
    );
}

#[test]
fn embedded_bitcode_of_crate_and_std_goes_through_lto_together() {
    let dir = tempfile::tempdir().unwrap();
    let lib = build_embedded(dir.path());
    let main = compile_c(dir.path(), &data("rust/report_main.c"), &["-O2"]);
    let (stdout, report) = fat_link_run(dir.path(), &[&main, &lib], &["--embedded-bitcode"]);
    assert_eq!(stdout, EXPECTED);
    let modules = module_names(&report);
    assert!(
        modules.iter().any(|m| m.contains("(report.report.")),
        "{modules:?}"
    );
    assert!(modules.iter().any(|m| m.contains("(std-")), "{modules:?}");
    assert!(modules.iter().any(|m| m.contains("(core-")), "{modules:?}");
    // compiler_builtins is no_builtins: rustc never LTOs it, neither do we.
    assert!(
        !modules.iter().any(|m| m.contains("compiler_builtins")),
        "{modules:?}"
    );
    // The native copy of the archive holds none of the LTO'd members, so
    // their code is not linked twice.
    let copy = dir.path().join("out/libreport.native.a");
    let data = std::fs::read(&copy).unwrap();
    let archive = object::read::archive::ArchiveFile::parse(&*data).unwrap();
    let members: Vec<String> = archive
        .members()
        .map(|m| String::from_utf8_lossy(m.unwrap().name()).into_owned())
        .collect();
    for module in &modules {
        let member = module
            .split_once('(')
            .map(|(_, m)| m.trim_end_matches(')'))
            .unwrap();
        assert!(
            !members.iter().any(|m| m == member),
            "{member} linked twice"
        );
    }
    assert!(members.iter().any(|m| m.starts_with("compiler_builtins")));
    let internalized = report["internalized"].as_array().unwrap();
    assert!(!internalized.iter().any(|s| s == "rust_report"));
    assert!(internalized.len() > 100, "std's globals are internalized");
}

#[test]
fn calls_across_c_and_rust_are_inlined() {
    let dir = tempfile::tempdir().unwrap();
    rustc(
        dir.path(),
        &data("rust/cross.rs"),
        &["--crate-type=staticlib", "-C", "linker-plugin-lto"],
    );
    let main = compile_c(dir.path(), &data("rust/cross_main.c"), &["-O2", "-flto"]);
    let lib = dir.path().join("libcross.a");

    let session = Session::new(Config::default(), LtoKind::Fat).unwrap();
    session.add_path(&main).unwrap();
    session
        .add(Input::path(&lib).options(InputOptions::default()))
        .unwrap();
    session.preserve(["main"]).unwrap();
    let output = session.run().unwrap();
    let out_dir = dir.path().join("out");
    let files = output
        .write(&WriteTo::object(out_dir.join("lto.o")))
        .unwrap();
    let prog = link(dir.path(), &files.link_rsp, &[]);
    assert_eq!(run_program(&prog), "c_calls_rust=80 rust_calls_c=98\n");

    // Each callee had one caller in the other language; after inlining the
    // internalized callee is gone entirely.
    let syms = symbols(&files.objects[0]);
    for callee in ["c_square", "rust_add_one"] {
        assert!(
            find(&syms, callee).is_none(),
            "{callee} should be inlined into its caller across the language boundary: {:?}",
            find(&syms, callee)
        );
    }
    assert!(output
        .report
        .internalized
        .contains(&"rust_add_one".to_string()));
    assert!(output.report.internalized.contains(&"c_square".to_string()));
}
