//! The finer cache key: an import source stands in its importers' keys by
//! what their imports from it bring, so an edit the importer cannot see
//! keeps its object, and every kind of edit it can see recompiles it. Each
//! must-miss case has the control that hits (an edit of a function nobody
//! imports), and every program is checked against lld's ThinLTO build of
//! the same objects, so a stale object served from the cache would show.
//! The program is tests/data/finer (see finer.h for who imports what).

mod common;
use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const MODULES: [&str; 3] = ["main", "lib", "other"];

struct Project {
    dir: tempfile::TempDir,
    runs: usize,
    /// Link lib.o from an archive (liblib.a) instead of as an object.
    archive: bool,
}

impl Project {
    fn new(archive: bool) -> Project {
        let dir = tempfile::tempdir().unwrap();
        for name in ["finer.h", "lib.c", "main.c", "other.c"] {
            std::fs::copy(data(&format!("finer/{name}")), dir.path().join(name)).unwrap();
        }
        let project = Project {
            dir,
            runs: 0,
            archive,
        };
        for name in MODULES {
            project.compile(name);
        }
        project
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn compile(&self, name: &str) {
        compile_c(
            self.dir.path(),
            &self.path(&format!("{name}.c")),
            &["-O2", "-flto=thin"],
        );
        if self.archive && name == "lib" {
            let _ = std::fs::remove_file(self.path("liblib.a"));
            run_ok(
                Command::new("llvm-ar-22")
                    .current_dir(self.dir.path())
                    .args(["rcs", "liblib.a", "lib.o"]),
            );
        }
    }

    /// Replaces `from` by `to` in `<name>.c` and recompiles it.
    fn edit(&self, name: &str, from: &str, to: &str) {
        let path = self.path(&format!("{name}.c"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{name}.c has no {from:?}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
        self.compile(name);
    }

    fn inputs(&self) -> Vec<String> {
        let lib = if self.archive { "liblib.a" } else { "lib.o" };
        vec!["main.o".into(), lib.into(), "other.o".into()]
    }

    /// `lto-engine thin` with the cache in `cache/`: the report.
    fn engine_run(&mut self, flags: &[&str]) -> (PathBuf, Value) {
        self.runs += 1;
        let out = self.path(&format!("out{}", self.runs));
        let report = self.path(&format!("report{}.json", self.runs));
        run_ok(
            engine()
                .current_dir(self.dir.path())
                .arg("thin")
                .args(self.inputs())
                .arg("-o")
                .arg(&out)
                .args(["--export", "main", "--cache-dir", "cache", "--report"])
                .arg(&report)
                .args(flags),
        );
        (out, read_json(&report))
    }

    /// Runs the engine and checks its program against lld's build of the
    /// same objects; gives main.o's cache entry ("hit", "hit (finer key)"
    /// or "miss: <reason>") and the report.
    fn relink(&mut self) -> (String, Value) {
        let (out, report) = self.engine_run(&[]);
        let ours = run_program(&link(&out, &out.join("link.rsp"), &[]));
        assert_eq!(ours, self.lld_output(), "the engine's program is lld's");
        (status_of(&report, "main.o"), report)
    }

    fn lld_output(&self) -> String {
        let prog = self.path("lld-prog");
        run_ok(
            Command::new(CLANG)
                .current_dir(self.dir.path())
                .args(["-O2", "-fuse-ld=lld", "-flto=thin"])
                .args(self.inputs())
                .arg("-o")
                .arg(&prog),
        );
        run_program(&prog)
    }
}

/// "hit", "hit (finer key)" or "miss: <reason>" of the module whose name
/// ends with `module` (archive members are `liblib.a(lib.o)`).
fn status_of(report: &Value, module: &str) -> String {
    let entry = report["thin"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"].as_str().unwrap().ends_with(module))
        .unwrap_or_else(|| panic!("no module {module}"));
    let cache = &entry["cache"];
    match (cache["status"].as_str().unwrap(), cache["reason"].as_str()) {
        ("hit", None) => "hit".to_string(),
        ("hit", Some(reason)) => {
            assert!(reason.starts_with("finer key: "), "{reason}");
            "hit (finer key)".to_string()
        }
        (status, reason) => format!("{status}: {}", reason.unwrap_or_default()),
    }
}

/// The control every case starts from: an edit of unrelated(), which no
/// module imports, recompiles lib.o alone; LLVM's rule would recompile
/// main.o too, and the report counts it.
fn control(project: &mut Project, round: usize) {
    project.edit(
        "lib",
        &format!("v * {}", 13 + round),
        &format!("v * {}", 14 + round),
    );
    let (main, report) = project.relink();
    assert_eq!(main, "hit (finer key)", "{report:#}");
    assert_eq!(status_of(&report, "lib.o"), "miss: module changed");
    let cache = &report["thin"]["cache"];
    assert_eq!(cache["misses"], 1);
    assert_eq!(cache["hits_by_finer_key"], 1);
    assert_eq!(cache["llvm_rule_misses"], 2);
}

/// A cold link, then two changes of lib.o that main.o's import cannot see
/// (the controls of rounds 0 and 1). The first is measured against the
/// version of lib.o the cold link left in the cache (a cold link probes
/// nothing); the second against the digests the first recorded.
fn fresh() -> Project {
    let mut project = Project::new(false);
    let (out, report) = project.engine_run(&[]);
    assert_eq!(status_of(&report, "main.o"), "miss: new module");
    let ours = run_program(&link(&out, &out.join("link.rsp"), &[]));
    assert_eq!(ours, project.lld_output());
    control(&mut project, 0);
    control(&mut project, 1);
    project
}

/// The kept versions of modules in the cache (`llvmcache-source-<hash>`).
fn kept_versions(project: &Project) -> Vec<PathBuf> {
    files_named(&project.path("cache"), |name| {
        name.starts_with("llvmcache-source-")
    })
}

const IMPORTS_CHANGED: &str = "miss: imports changed (from lib.o)";

#[test]
fn the_imported_functions_body_misses() {
    let mut project = fresh();
    project.edit("lib", "table[v & 3] * v", "table[v & 3] * v * 2");
    assert_eq!(project.relink().0, IMPORTS_CHANGED);
    control(&mut project, 2);
}

#[test]
fn a_callees_attributes_miss() {
    let mut project = fresh();
    project.edit(
        "lib",
        "int __attribute__((noinline)) slow",
        "int __attribute__((noinline, cold)) slow",
    );
    assert_eq!(project.relink().0, IMPORTS_CHANGED);
    control(&mut project, 2);
}

#[test]
fn an_initializer_the_imported_function_reads_misses() {
    let mut project = fresh();
    project.edit("lib", "{3, 5, 7, 11}", "{3, 5, 7, 13}");
    let (main, _) = project.relink();
    assert_eq!(main, IMPORTS_CHANGED);
    control(&mut project, 2);
}

#[test]
fn a_linkage_or_visibility_change_misses() {
    let mut project = fresh();
    // slow() hidden: imported() calls it, so main.o's call changes.
    project.edit(
        "lib",
        "int __attribute__((noinline)) slow",
        "int __attribute__((noinline, visibility(\"hidden\"))) slow",
    );
    assert_eq!(project.relink().0, IMPORTS_CHANGED);
    control(&mut project, 2);
    // slow() weak: another module's copy could prevail.
    project.edit(
        "lib",
        "int __attribute__((noinline, visibility(\"hidden\"))) slow",
        "int __attribute__((noinline, weak)) slow",
    );
    assert_eq!(project.relink().0, IMPORTS_CHANGED);
    control(&mut project, 3);
}

#[test]
fn a_callee_that_becomes_dead_misses() {
    let mut project = fresh();
    // other.o's strong hook() prevails: lib.o's weak copy is dead, and the
    // call main.o imports resolves elsewhere. main.o's own bitcode and what
    // lib.o's import brings are unchanged; the thin link's state is not.
    project.edit(
        "other",
        "int other_marker;",
        "int other_marker;\nint hook(int v) { return v + 200; }",
    );
    let (main, report) = project.relink();
    assert!(main.starts_with("miss: "), "{main}");
    assert_eq!(
        status_of(&report, "lib.o"),
        "miss: exports or symbol resolution changed"
    );
    // And alive again: the state of the first run, whose entry is kept
    // (lld's cache would keep its too).
    project.edit("other", "\nint hook(int v) { return v + 200; }", "");
    assert_eq!(project.relink().0, "hit");
    // The control: other.o changes in what no one uses.
    project.edit("other", "int other_marker;", "int other_marker = 1;");
    assert_eq!(project.relink().0, "hit");
}

#[test]
fn a_settings_change_misses_and_the_old_settings_still_hit() {
    let mut project = fresh();
    let (_, o3) = project.engine_run(&["-O3"]);
    assert_eq!(status_of(&o3, "main.o"), "miss: settings changed");
    let (_, o2) = project.engine_run(&[]);
    assert_eq!(status_of(&o2, "main.o"), "hit");
}

#[test]
fn an_archive_members_first_change_is_measured_against_its_kept_version() {
    let mut project = Project::new(true);
    project.engine_run(&[]);
    project.edit("lib", "v * 13", "v * 14");
    let (main, report) = project.relink();
    assert_eq!(main, "hit (finer key)", "{report:#}");
    assert_eq!(report["thin"]["cache"]["hits_by_finer_key"], 1);
    project.edit("lib", "table[v & 3] * v", "table[v & 3] * v * 3");
    assert_eq!(
        project.relink().0,
        "miss: imports changed (from liblib.a(lib.o))"
    );
}

/// Each kind of change main.o's import sees misses when it is lib.o's
/// first change after a cold link too (measured against the kept version),
/// and the control that follows hits.
#[test]
fn a_first_change_that_touches_an_import_misses() {
    let edits = [
        ("table[v & 3] * v", "table[v & 3] * v * 2"),
        (
            "int __attribute__((noinline)) slow",
            "int __attribute__((noinline, cold)) slow",
        ),
        ("{3, 5, 7, 11}", "{3, 5, 7, 13}"),
        (
            "int __attribute__((noinline)) slow",
            "int __attribute__((noinline, visibility(\"hidden\"))) slow",
        ),
    ];
    for (from, to) in edits {
        let mut project = Project::new(false);
        project.engine_run(&[]);
        assert!(!kept_versions(&project).is_empty());
        project.edit("lib", from, to);
        assert_eq!(project.relink().0, IMPORTS_CHANGED, "{to}");
        control(&mut project, 0);
    }
}

/// When main.o changes together with lib.o, lib.o is not probed for it
/// (main.o is compiled anyway); lib.o's next change is then measured
/// against the version kept by that run, so the control hits, and a change
/// of what main.o imports misses.
#[test]
fn an_importer_changed_with_its_source_measures_the_next_change() {
    let mut project = Project::new(false);
    project.engine_run(&[]);
    project.edit("main", "i < 6", "i < 7");
    project.edit("lib", "v * 13", "v * 14");
    assert_eq!(project.relink().0, "miss: module changed");
    control(&mut project, 1);
    project.edit("lib", "table[v & 3] * v", "table[v & 3] * v * 2");
    assert_eq!(project.relink().0, IMPORTS_CHANGED);
}

/// Without the version the cold link kept (damaged here), a first change
/// costs what LLVM's rule costs, and never a stale object; the positive
/// control is `fresh`'s round 0, the same edit with the version intact.
#[test]
fn a_first_change_without_its_kept_version_recompiles_the_importers() {
    let mut project = Project::new(false);
    project.engine_run(&[]);
    let kept = kept_versions(&project);
    assert!(!kept.is_empty());
    for path in kept {
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x5a;
        std::fs::write(&path, bytes).unwrap();
    }
    project.edit("lib", "v * 13", "v * 14");
    let (main, report) = project.relink();
    assert_eq!(main, IMPORTS_CHANGED);
    assert_eq!(report["thin"]["cache"]["hits_by_finer_key"], 0);
    control(&mut project, 1);
}

/// The text summary counts the hits only the finer key made.
#[test]
fn the_summary_counts_hits_by_the_finer_key() {
    let project = fresh();
    project.edit("lib", "v * 15", "v * 16");
    let output = run_ok(
        engine()
            .current_dir(project.dir.path())
            .arg("thin")
            .args(project.inputs())
            .args([
                "-o",
                "out-summary",
                "--export",
                "main",
                "--cache-dir",
                "cache",
            ]),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "cache: 2 hits, 1 misses in cache (1 by the finer key; LLVM's rule would compile 2)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("module changed: lib.o"), "{stderr}");
}

/// A revert to the state of the cold link hits every module: their entries
/// were stored before lib.o was first probed, under the key that takes
/// each source by its module hash, which the engine looks up when the finer
/// key is missing.
#[test]
fn a_revert_to_the_cold_state_hits_the_cold_entries() {
    let mut project = Project::new(false);
    project.engine_run(&[]);
    // What main.o imports changes, so the edit's finer key (which now
    // stands for the new import) differs from the revert's.
    project.edit("lib", "table[v & 3] * v", "table[v & 3] * v * 2");
    assert_eq!(project.relink().0, IMPORTS_CHANGED);
    project.edit("lib", "table[v & 3] * v * 2", "table[v & 3] * v");
    let (main, report) = project.relink();
    assert_eq!(main, "hit");
    assert_eq!(status_of(&report, "lib.o"), "hit");
    assert_eq!(report["thin"]["cache"]["misses"], 0);
}
