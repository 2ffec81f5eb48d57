//! Optimization remarks written to files, lld's way: the same remarks (pass,
//! name, function, location, in the same files) as `ld.lld-22
//! --opt-remarks-filename` on the same inputs, in thin and fat LTO (lld's
//! notes on dead functions included), with a pass filter, and from the
//! CLI's worker processes.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

use common::{THIN_EXPECTED as EXPECTED, THIN_SOURCES as SOURCES};

/// One remark as the comparison sees it: its file (relative), kind, pass,
/// name, function and location.
type Remark = (String, String, String, String, String, String);

/// Every remark in the YAML remark files `dir/<prefix>*`, counted.
fn remarks(dir: &Path, prefix: &str) -> BTreeMap<Remark, usize> {
    let mut found = BTreeMap::new();
    for path in files_named(dir, |n| n.starts_with(prefix)) {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in text.split("\n--- ").map(|d| d.trim_start_matches("--- ")) {
            let mut lines = doc.lines();
            let Some(kind) = lines.next().filter(|k| k.starts_with('!')) else {
                continue;
            };
            let mut field = BTreeMap::new();
            for line in lines {
                for key in ["Pass", "Name", "Function", "DebugLoc"] {
                    if let Some(value) = line.strip_prefix(&format!("{key}:")) {
                        field.insert(key, value.trim().to_string());
                    }
                }
            }
            let get = |k: &str| field.get(k).cloned().unwrap_or_default();
            let remark = (
                file.clone(),
                kind.trim().to_string(),
                get("Pass"),
                get("Name"),
                get("Function"),
                get("DebugLoc"),
            );
            *found.entry(remark).or_insert(0) += 1;
        }
    }
    found
}

/// The names of the files `dir/<prefix>*`.
fn names(dir: &Path, prefix: &str) -> Vec<String> {
    files_named(dir, |n| n.starts_with(prefix))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect()
}

/// Compiles the test program with `flag` (`-flto=thin` or `-flto`) and
/// debug info (remarks carry locations) into `dir`.
fn compile(dir: &Path, flag: &str) -> Vec<String> {
    SOURCES
        .iter()
        .map(|name| {
            compile_c(dir, &data(&format!("thin/{name}.c")), &["-O2", "-g", flag]);
            format!("{name}.o")
        })
        .collect()
}

/// Links `objects` in `dir` with clang-22 (lto `flag`), lld or the engine
/// as its ld.lld, remarks to `out/r.yaml` with `extra` linker options.
fn link(dir: &Path, flag: &str, objects: &[String], out: &str, engine: bool, extra: &[&str]) {
    std::fs::create_dir_all(dir.join(out)).unwrap();
    let mut command = clang_in(dir);
    command.args([flag, "-fuse-ld=lld", "-O2"]).args(objects);
    if engine {
        command.arg(ld_path_arg(dir));
    }
    command.arg(format!("-Wl,--opt-remarks-filename,{out}/r.yaml"));
    for option in extra {
        command.arg(format!("-Wl,{option}"));
    }
    run_ok(command.arg("-o").arg(format!("{out}/prog")));
    assert_eq!(run_program(&dir.join(out).join("prog")), EXPECTED);
}

#[test]
fn thin_remarks_are_lld_s_file_for_file() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let objects = compile(dir, "-flto=thin");
    link(dir, "-flto=thin", &objects, "lld", false, &[]);
    link(dir, "-flto=thin", &objects, "engine", true, &[]);
    // lld's names: the regular LTO task's file (empty here), then one per
    // ThinLTO task, numbered from 1 in link order, its format after a dot.
    let expected_names = vec![
        "r.yaml".to_string(),
        "r.yaml.thin.1.".to_string(),
        "r.yaml.thin.2.".to_string(),
        "r.yaml.thin.3.".to_string(),
        "r.yaml.thin.4.".to_string(),
        "r.yaml.thin.5.".to_string(),
    ];
    assert_eq!(names(&dir.join("lld"), "r.yaml"), expected_names);
    assert_eq!(names(&dir.join("engine"), "r.yaml"), expected_names);
    let lld = remarks(&dir.join("lld"), "r.yaml");
    let engine = remarks(&dir.join("engine"), "r.yaml");
    // The control: there is something to compare, an inlining among it.
    assert!(
        lld.keys().any(|r| r.2 == "inline" && r.3 == "Inlined"),
        "{lld:?}"
    );
    assert_eq!(engine, lld);

    // A pass filter, lld's way: only the inliner's remarks, the same ones.
    link(
        dir,
        "-flto=thin",
        &objects,
        "lld-inline",
        false,
        &["--opt-remarks-passes,inline"],
    );
    link(
        dir,
        "-flto=thin",
        &objects,
        "engine-inline",
        true,
        &["--opt-remarks-passes,inline"],
    );
    let lld = remarks(&dir.join("lld-inline"), "r.yaml");
    let engine = remarks(&dir.join("engine-inline"), "r.yaml");
    assert!(
        !lld.is_empty() && lld.keys().all(|r| r.2 == "inline"),
        "{lld:?}"
    );
    assert_eq!(engine, lld);
}

#[test]
fn fat_remarks_are_lld_s() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let objects = compile(dir, "-flto");
    link(dir, "-flto", &objects, "lld", false, &[]);
    link(dir, "-flto", &objects, "engine", true, &[]);
    assert_eq!(names(&dir.join("lld"), "r.yaml"), ["r.yaml"]);
    assert_eq!(names(&dir.join("engine"), "r.yaml"), ["r.yaml"]);
    let lld = remarks(&dir.join("lld"), "r.yaml");
    let engine = remarks(&dir.join("engine"), "r.yaml");
    // lld notes each function the summaries' liveness keeps out of the
    // merged module (`lto`, `deadfunction`); the engine merges every module
    // and notes the same functions, which the optimizer then drops.
    let dead = |set: &BTreeMap<Remark, usize>| -> Vec<String> {
        set.keys()
            .filter(|r| r.2 == "lto" && r.3 == "deadfunction")
            .map(|r| r.4.clone())
            .collect()
    };
    assert_eq!(
        dead(&lld),
        ["also_never_called", "clamp_small", "never_called"]
    );
    assert_eq!(dead(&engine), dead(&lld));
    // The control: the whole pipeline's remarks, code generation's too.
    assert!(lld.keys().any(|r| r.2 == "inline"), "{lld:?}");
    assert!(lld.keys().any(|r| r.2 == "asm-printer"), "{lld:?}");
    assert_eq!(engine, lld);
}

#[test]
fn the_cli_writes_remarks_from_its_worker_processes() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let objects = compile(dir, "-flto=thin");
    // In process and from workers (the CLI's default), the same files.
    for (out, isolation) in [("workers", None), ("in-process", Some("--in-process"))] {
        let mut command = engine();
        command
            .current_dir(dir)
            .arg("thin")
            .args(&objects)
            .args(["--export", "main", "-O2", "-o", out])
            .args(["--opt-remarks-filename", &format!("{out}.yaml")])
            .args(["--opt-remarks-format", "yaml"]);
        if let Some(flag) = isolation {
            command.arg(flag);
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let files = names(dir, &format!("{out}.yaml"));
        assert_eq!(files.len(), 1 + SOURCES.len(), "{files:?}");
        assert!(
            files.contains(&format!("{out}.yaml.thin.1.yaml")),
            "{files:?}"
        );
        let found = remarks(dir, &format!("{out}.yaml.thin."));
        assert!(found.keys().any(|r| r.2 == "inline"), "{found:?}");
    }
    // A bad format is one line naming the module and the file.
    let error = cli_error(
        engine()
            .current_dir(dir)
            .arg("thin")
            .args(&objects)
            .args(["--export", "main", "-o", "bad"])
            .args([
                "--opt-remarks-filename",
                "bad.yaml",
                "--opt-remarks-format",
                "xml",
            ]),
        "bad.yaml",
    );
    assert!(
        error.contains("cannot write remarks to bad.yaml.thin."),
        "{error}"
    );
}

/// A runtime library function a module defines and no IR calls (`fmod`
/// here) is live for lld (its IR symbol table marks it used: code
/// generation may call it), so lld notes no `deadfunction` for it, and
/// neither does the engine; control: an ordinary function beside it,
/// unused, is noted by both.
#[test]
fn fat_dead_function_notes_spare_runtime_library_functions() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut objects = compile(dir, "-flto");
    write_file(
        dir,
        "libcall.c",
        "double fmod(double a, double b) { return a - b * (long)(a / b); }\n\
         double not_a_libcall(double a) { return a * 2; }\n",
    );
    compile_c(
        dir,
        &dir.join("libcall.c"),
        &["-O2", "-g", "-flto", "-fno-builtin"],
    );
    objects.push("libcall.o".to_string());
    link(dir, "-flto", &objects, "lld", false, &[]);
    link(dir, "-flto", &objects, "engine", true, &[]);
    let dead = |out: &str| -> Vec<String> {
        remarks(&dir.join(out), "r.yaml")
            .keys()
            .filter(|r| r.2 == "lto" && r.3 == "deadfunction")
            .map(|r| r.4.clone())
            .collect()
    };
    let lld = dead("lld");
    assert!(lld.contains(&"not_a_libcall".to_string()), "{lld:?}");
    assert!(!lld.contains(&"fmod".to_string()), "{lld:?}");
    assert_eq!(dead("engine"), lld);
}

/// `--opt-remarks-hotness-threshold` (with `--opt-remarks-with-hotness`):
/// the engine writes the remarks lld writes under a count and under
/// `auto`; control: a count leaves remarks out that 0 keeps.
#[test]
fn the_hotness_threshold_filters_as_lld_s() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let objects = compile(dir, "-flto=thin");
    let mut kept = Vec::new();
    for threshold in ["0", "1", "auto"] {
        let extra = [
            "--opt-remarks-with-hotness".to_string(),
            format!("--opt-remarks-hotness-threshold={threshold}"),
        ];
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let lld_out = format!("lld-{threshold}");
        let engine_out = format!("engine-{threshold}");
        link(dir, "-flto=thin", &objects, &lld_out, false, &extra);
        link(dir, "-flto=thin", &objects, &engine_out, true, &extra);
        let lld = remarks(&dir.join(&lld_out), "r.yaml");
        assert_eq!(
            remarks(&dir.join(&engine_out), "r.yaml"),
            lld,
            "threshold {threshold}"
        );
        kept.push(lld.values().sum::<usize>());
    }
    assert!(
        kept[0] > kept[1],
        "a count of 1 leaves remarks out: {kept:?}"
    );
}
