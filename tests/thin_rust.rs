//! Thin LTO of Rust: a crate graph (rlib + bin with std) built with
//! `-C linker-plugin-lto` and captured from rustc's own link line, mixed C and
//! Rust with inlining across the language boundary, and thin-local LTO.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What rustc would hand its linker for `graph_main.rs` on top of the
/// `graphlib` rlib: the inputs (objects, rlibs) and every other flag.
struct RustLink {
    inputs: Vec<PathBuf>,
    flags: Vec<String>,
}

/// Builds graphlib (rlib, with `lib_flags`) and the graph_main binary (with
/// `-C linker-plugin-lto`), capturing rustc's link line with a recording
/// linker instead of linking.
fn capture_rust_link(dir: &Path, lib_flags: &[&str]) -> RustLink {
    rustc(
        dir,
        &data("rust/graphlib.rs"),
        &[&["--crate-type=rlib"], lib_flags].concat(),
    );
    let recorder = dir.join("record-link.sh");
    let args_file = dir.join("link-args.txt");
    std::fs::write(
        &recorder,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n",
            args_file.display()
        ),
    )
    .unwrap();
    run_ok(Command::new("chmod").arg("+x").arg(&recorder));
    let extern_flag = format!("graphlib={}", dir.join("libgraphlib.rlib").display());
    let linker_flag = format!("linker={}", recorder.display());
    run_ok(
        Command::new("rustc")
            .current_dir(dir)
            .args([
                "--edition=2021",
                "-C",
                "opt-level=2",
                "-C",
                "linker-plugin-lto",
            ])
            // save-temps keeps rustc's temporary objects (symbols.o) for us.
            .args(["-C", &linker_flag, "-C", "save-temps"])
            .args(["--extern", &extern_flag])
            .arg(data("rust/graph_main.rs"))
            .args(["-o", "app"]),
    );
    let args: Vec<String> = std::fs::read_to_string(&args_file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut inputs = Vec::new();
    let mut flags = Vec::new();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let path = dir.join(&arg);
        if arg == "-o" {
            iter.next();
        } else if arg.starts_with("-B") || arg == "-fuse-ld=lld" || arg.contains("-plugin-opt") {
            // rustc's own rust-lld and its LTO plugin flags: the final link
            // here is clang-22 with lld-22 on already optimized objects.
        } else if !arg.starts_with('-') && path.is_file() {
            inputs.push(path);
        } else {
            flags.push(arg);
        }
    }
    RustLink { inputs, flags }
}

/// The expected output: the same program built without LTO.
fn expected_output(dir: &Path) -> String {
    let plain = dir.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    rustc(&plain, &data("rust/graphlib.rs"), &["--crate-type=rlib"]);
    let extern_flag = format!("graphlib={}", plain.join("libgraphlib.rlib").display());
    rustc(
        &plain,
        &data("rust/graph_main.rs"),
        &["--extern", &extern_flag],
    );
    run_program(&plain.join("graph_main"))
}

/// Runs `lto-engine thin` and links the result with rustc's other flags.
fn thin_and_link(dir: &Path, link: &RustLink, flags: &[&str]) -> (PathBuf, String) {
    let out = dir.join("out");
    run_ok(
        engine()
            .arg("thin")
            .args(&link.inputs)
            .arg("-o")
            .arg(&out)
            .args(["--export", "main", "--jobs", "2"])
            .args(flags),
    );
    let prog = dir.join("prog");
    run_ok(
        Command::new(CLANG)
            .arg("-fuse-ld=lld")
            .arg(format!("@{}", out.join("link.rsp").display()))
            .args(&link.flags)
            .arg("-o")
            .arg(&prog),
    );
    (out, run_program(&prog))
}

/// The LTO objects of the modules whose name contains `part`.
fn objects_of(out: &Path, part: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.contains(part) && name.ends_with(".lto.o")
        })
        .collect();
    found.sort();
    found
}

/// The engine's import sets, from its report, normalized.
fn engine_imports(report: &Path) -> ImportSets {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let mut sets = ImportSets::new();
    for module in json["thin"]["modules"].as_array().unwrap() {
        let mut sources: Vec<String> = module["imports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| normalized(i["from"].as_str().unwrap()))
            .collect();
        sources.sort();
        sets.insert(normalized(module["name"].as_str().unwrap()), sources);
    }
    sets
}

fn references(object: &Path, part: &str) -> bool {
    symbols(object)
        .iter()
        .any(|s| !s.defined && s.name.contains(part))
}

#[test]
fn crate_graph_with_std_from_rlibs() {
    let dir = tempfile::tempdir().unwrap();
    let link = capture_rust_link(dir.path(), &["-C", "linker-plugin-lto"]);
    assert!(
        link.inputs.iter().any(|p| p.ends_with("libgraphlib.rlib")),
        "{:?}",
        link.inputs
    );
    let report = dir.path().join("report.json");
    let report_flag = report.display().to_string();
    let (out, stdout) = thin_and_link(dir.path(), &link, &["--report", &report_flag]);
    assert_eq!(stdout, expected_output(dir.path()));

    // lld, index-only, on the same inputs and flags: every module imports
    // from the same modules. (lld writes the .imports files beside the
    // inputs: in `dir` for the crate's objects and graphlib's members.)
    run_ok(
        Command::new(CLANG)
            .args(["-fuse-ld=lld", "-flto=thin"])
            .args([
                "-Wl,--thinlto-index-only",
                "-Wl,--thinlto-emit-imports-files",
            ])
            .args(&link.inputs)
            .args(&link.flags)
            .arg("-o")
            .arg(dir.path().join("lld-index-only")),
    );
    let ours = engine_imports(&report);
    let (_, main_sources) = ours
        .iter()
        .find(|(module, _)| module.contains("graph_main"))
        .expect("the binary's module");
    assert!(
        main_sources.iter().any(|s| s.starts_with("graphlib.")),
        "{ours:?}"
    );
    assert_eq!(ours, imports_files(dir.path()));

    // graphlib's bitcode went through thin LTO with the binary's; std's
    // rlibs (native code) passed through untouched.
    let graphlib = objects_of(&out, "libgraphlib.rlib.");
    assert!(!graphlib.is_empty(), "graphlib modules have objects");
    assert!(objects_of(&out, "libstd-").is_empty());
    let rsp = std::fs::read_to_string(out.join("link.rsp")).unwrap();
    assert!(rsp.lines().any(|l| l.contains("libstd-")), "{rsp}");
    // graphlib's rlib holds bitcode and lib.rmeta, which links nothing: no
    // native copy of it is made or linked.
    assert!(!rsp.contains("libgraphlib.native.a"), "{rsp}");
    assert!(!out.join("libgraphlib.native.a").exists());
    // graphlib::mix was imported into the binary's module and inlined.
    let main_objects = objects_of(&out, "graph_main.");
    assert!(!main_objects.is_empty());
    for object in &main_objects {
        assert!(
            !references(object, "8graphlib3mix"),
            "graphlib::mix inlined into {}",
            object.display()
        );
    }
}

/// Module name -> (cache status, object bytes) from a run's report.
fn cached_objects(
    out: &Path,
    report: &Path,
) -> std::collections::BTreeMap<String, (String, Vec<u8>)> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    json["thin"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let object = std::fs::read(out.join(m["object"].as_str().unwrap())).unwrap();
            let status = m["cache"]["status"].as_str().unwrap().to_string();
            (m["name"].as_str().unwrap().to_string(), (status, object))
        })
        .collect()
}

#[test]
fn crate_graph_warm_run_reuses_every_module() {
    let dir = tempfile::tempdir().unwrap();
    let link = capture_rust_link(dir.path(), &["-C", "linker-plugin-lto"]);
    let cache = dir.path().join("cache").display().to_string();
    let report = dir.path().join("report.json");
    let report_flag = report.display().to_string();
    let flags = [
        "--cache-dir",
        cache.as_str(),
        "--report",
        report_flag.as_str(),
    ];

    let (out, stdout) = thin_and_link(dir.path(), &link, &flags);
    let expected = expected_output(dir.path());
    assert_eq!(stdout, expected);
    let cold = cached_objects(&out, &report);
    assert!(cold.len() > 2, "the binary's and graphlib's modules");
    assert!(cold.values().all(|(status, _)| status == "miss"));

    let (out, stdout) = thin_and_link(dir.path(), &link, &flags);
    assert_eq!(stdout, expected);
    let warm = cached_objects(&out, &report);
    assert_eq!(warm.len(), cold.len());
    for (name, (status, object)) in &warm {
        assert_eq!(status, "hit", "{name}");
        assert!(object == &cold[name].1, "{name}: the same object");
    }
}

#[test]
fn thin_local_leaves_upstream_crates_native() {
    let dir = tempfile::tempdir().unwrap();
    // graphlib as rustc builds rlibs by default: native code plus .llvmbc.
    let link = capture_rust_link(dir.path(), &["-C", "embed-bitcode=yes"]);
    let expected = expected_output(dir.path());

    // Thin-local: graphlib stays native, so mix stays a call into it.
    let (out, stdout) = thin_and_link(dir.path(), &link, &["--local", "--embedded-bitcode"]);
    assert_eq!(stdout, expected);
    assert!(objects_of(&out, "libgraphlib").is_empty());
    let main_objects = objects_of(&out, "graph_main.");
    assert!(
        main_objects.iter().any(|o| references(o, "8graphlib3mix")),
        "thin-local does not import from upstream crates"
    );

    // Thin with the embedded bitcode: graphlib joins and mix is inlined.
    std::fs::remove_dir_all(&out).unwrap();
    let (out, stdout) = thin_and_link(dir.path(), &link, &["--embedded-bitcode"]);
    assert_eq!(stdout, expected);
    assert!(!objects_of(&out, "libgraphlib").is_empty());
    for object in objects_of(&out, "graph_main.") {
        assert!(!references(&object, "8graphlib3mix"));
    }
}

#[test]
fn thin_local_rejects_bitcode_only_upstream_members() {
    let dir = tempfile::tempdir().unwrap();
    let link = capture_rust_link(dir.path(), &["-C", "linker-plugin-lto"]);
    let text = cli_error(
        engine()
            .arg("thin")
            .arg("--local")
            .args(&link.inputs)
            .arg("-o")
            .arg(dir.path().join("out")),
        "libgraphlib.rlib(",
    );
    assert!(text.contains("only bitcode"), "{text}");
}

#[test]
fn calls_across_c_and_rust_are_inlined() {
    let dir = tempfile::tempdir().unwrap();
    rustc(
        dir.path(),
        &data("rust/cross.rs"),
        &["--crate-type=staticlib", "-C", "linker-plugin-lto"],
    );
    let main = compile_c(
        dir.path(),
        &data("rust/cross_main.c"),
        &["-O2", "-flto=thin"],
    );
    let lib = dir.path().join("libcross.a");
    let out = dir.path().join("out");
    run_ok(
        engine()
            .arg("thin")
            .arg(&main)
            .arg(&lib)
            .arg("-o")
            .arg(&out)
            .args(["--export", "main"]),
    );
    let prog = link(dir.path(), &out.join("link.rsp"), &[]);
    assert_eq!(run_program(&prog), "c_calls_rust=80 rust_calls_c=98\n");
    // C called Rust: rust_add_one was imported into the C module and inlined.
    assert!(!references(&out.join("cross_main.o.lto.o"), "rust_add_one"));
    // Rust called C: c_square was imported into the Rust module and inlined.
    let rust_objects = objects_of(&out, "libcross.a.cross.");
    assert!(!rust_objects.is_empty());
    for object in rust_objects {
        assert!(!references(&object, "c_square"), "{}", object.display());
    }
}

#[test]
fn crate_graph_backends_run_by_clang_through_a_distributor() {
    // rustc's inputs, thin-linked here, each backend run by clang-22 from
    // the index files: graphlib's bitcode-only members have no file of
    // their own, so the thin link writes them out for the jobs.
    let dir = tempfile::tempdir().unwrap();
    let link = capture_rust_link(dir.path(), &["-C", "linker-plugin-lto"]);
    let distributor = dir.path().join("local.py");
    std::fs::write(&distributor, LOCAL_DISTRIBUTOR).unwrap();
    let index_dir = dir.path().join("idx");
    let report = dir.path().join("index.json");
    run_ok(
        engine()
            .arg("index")
            .args(&link.inputs)
            .arg("--index-dir")
            .arg(&index_dir)
            .args(["--export", "main", "--emit-imports"])
            .args(["--distributor", "python3", "--distributor-arg"])
            .arg(&distributor)
            .args(["--remote-compiler", CLANG])
            .arg("--report")
            .arg(&report),
    );
    let prog = dir.path().join("prog");
    run_ok(
        Command::new(CLANG)
            .arg("-fuse-ld=lld")
            .arg(format!("@{}", index_dir.join("link.rsp").display()))
            .args(&link.flags)
            .arg("-o")
            .arg(&prog),
    );
    assert_eq!(run_program(&prog), expected_output(dir.path()));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let modules = json["modules"].as_array().unwrap();
    let graphlib: Vec<&serde_json::Value> = modules
        .iter()
        .filter(|m| m["name"].as_str().unwrap().contains("libgraphlib.rlib("))
        .collect();
    assert!(!graphlib.is_empty());
    for module in &graphlib {
        assert_eq!(module["module_written"], true, "{module}");
    }
    // The bin's CGUs import graphlib::mix from the written copy, and clang
    // inlined it.
    let importers: Vec<&serde_json::Value> = modules
        .iter()
        .filter(|m| {
            m["imports"].as_array().unwrap().iter().any(|source| {
                source
                    .as_str()
                    .unwrap()
                    .starts_with(&index_dir.join("libgraphlib.rlib.").display().to_string())
            })
        })
        .collect();
    assert!(!importers.is_empty(), "someone imports from graphlib");
    for module in importers {
        let object = Path::new(module["object"].as_str().unwrap());
        assert!(!references(object, "mix"), "{}", object.display());
    }
}

/// `lto-engine thin` on the crate graph with `--explain SYM --explain-json`
/// (plus `flags`): the explanations and the JSON report.
fn explain_graph(
    dir: &Path,
    link: &RustLink,
    symbol: &str,
    flags: &[&str],
) -> (Vec<serde_json::Value>, serde_json::Value) {
    let report = dir.join("explain-report.json");
    let out = run_ok(
        engine()
            .arg("thin")
            .args(&link.inputs)
            .arg("-o")
            .arg(dir.join("explain-out"))
            .args(["--export", "main", "--jobs", "2"])
            .args(["--explain", symbol, "--explain-json", "--report"])
            .arg(&report)
            .args(flags),
    );
    let explanations = serde_json::from_slice(&out.stdout).unwrap();
    (explanations, read_json(&report))
}

/// Inline sites as (module, caller, inlined) triples.
fn inline_sites(explanation: &serde_json::Value) -> Vec<(String, String, bool)> {
    let mut sites: Vec<(String, String, bool)> = explanation["inlining"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["module"].as_str().unwrap().to_string(),
                s["caller"].as_str().unwrap().to_string(),
                s["inlined"].as_bool().unwrap(),
            )
        })
        .collect();
    sites.sort();
    sites
}

/// `explain` on a Rust crate graph by the demangled name: graphlib's `mix`
/// is imported into the binary's module and inlined there. From a warm
/// cache filled by a run that did not explain, every module is a hit and
/// the inliner's decisions come from the cache, the same as a cold run's.
#[test]
fn explain_answers_from_a_warm_cache_without_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let link = capture_rust_link(dir.path(), &["-C", "linker-plugin-lto"]);
    let (cold, _) = explain_graph(dir.path(), &link, "graphlib::mix", &[]);
    assert_eq!(cold.len(), 1, "{cold:#?}");
    let mix = &cold[0];
    assert!(
        mix["symbol"]
            .as_str()
            .unwrap()
            .starts_with("_ZN8graphlib3mix"),
        "{mix:#}"
    );
    let imported: Vec<&serde_json::Value> = mix["imports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["outcome"]["outcome"] == "imported")
        .collect();
    assert!(!imported.is_empty(), "{mix:#}");
    let sites = inline_sites(mix);
    assert!(sites.iter().any(|(_, _, inlined)| *inlined), "{mix:#}");
    assert_eq!(mix["inlining_complete"], true);

    // A run without explain fills the cache; the explaining run after it
    // compiles nothing and still knows where `mix` was inlined.
    let cache = dir.path().join("cache").display().to_string();
    run_ok(
        engine()
            .arg("thin")
            .args(&link.inputs)
            .arg("-o")
            .arg(dir.path().join("fill"))
            .args(["--export", "main", "--jobs", "2", "--cache-dir", &cache]),
    );
    let (warm, report) =
        explain_graph(dir.path(), &link, "graphlib::mix", &["--cache-dir", &cache]);
    let statuses: Vec<&str> = report["thin"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["cache"]["status"].as_str().unwrap())
        .collect();
    assert!(statuses.iter().all(|s| *s == "hit"), "{statuses:?}");
    assert_eq!(warm[0]["inlining_complete"], true, "{:#}", warm[0]);
    assert_eq!(inline_sites(&warm[0]), sites);
    assert_eq!(warm[0]["imports"], mix["imports"]);
}
