//! Incremental ThinLTO through the CLI: what hits and what misses (and why)
//! after edits and setting changes, that a hit parses nothing and gives the
//! same bytes, damaged entries, concurrent runs on one cache, and pruning.
//! Every program is also checked against lld's ThinLTO build of the same
//! objects, so a stale object served from the cache would show.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const MODULES: [&str; 5] = ["main", "util", "stats", "report", "leaf"];

/// The cache test program (tests/data/cache) copied into a temporary
/// directory, where the tests edit and recompile it. The engine runs there
/// with relative paths, so modules are named `main.o`, `util.o`, ...
struct Project {
    dir: tempfile::TempDir,
    runs: usize,
}

/// One engine run: its output directory, report and summary (stderr).
struct Run {
    out: PathBuf,
    report: Value,
    stderr: String,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        for name in MODULES {
            let source = format!("{name}.c");
            std::fs::copy(data(&format!("cache/{source}")), dir.path().join(&source)).unwrap();
        }
        std::fs::copy(data("cache/inc.h"), dir.path().join("inc.h")).unwrap();
        let project = Project { dir, runs: 0 };
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
    }

    /// Replaces `from` by `to` in `<name>.c` and recompiles it.
    fn edit(&self, name: &str, from: &str, to: &str) {
        let path = self.path(&format!("{name}.c"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{name}.c has no {from:?}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
        self.compile(name);
    }

    fn objects(&self) -> Vec<String> {
        MODULES.iter().map(|m| format!("{m}.o")).collect()
    }

    /// `lto-engine thin` with the cache in `cache/` plus `flags`.
    fn engine_run(&mut self, flags: &[&str]) -> Run {
        self.runs += 1;
        let out = self.path(&format!("out{}", self.runs));
        let report = self.path(&format!("report{}.json", self.runs));
        let output = run_ok(self.thin_command(&out, &report).args(flags));
        Run {
            report: serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap(),
            out,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn thin_command(&self, out: &Path, report: &Path) -> Command {
        let mut command = engine();
        command
            .current_dir(self.dir.path())
            .arg("thin")
            .args(self.objects())
            .arg("-o")
            .arg(out)
            .args(["--export", "main", "--cache-dir", "cache", "--report"])
            .arg(report);
        command
    }

    /// The program linked from a run's objects, and what it prints.
    fn program_output(&self, run: &Run) -> String {
        let prog = link(&run.out, &run.out.join("link.rsp"), &[]);
        run_program(&prog)
    }

    /// What lld's own ThinLTO build of the current objects prints.
    fn lld_output(&self) -> String {
        let prog = self.path("lld-prog");
        run_ok(
            Command::new(CLANG)
                .current_dir(self.dir.path())
                .args(["-O2", "-fuse-ld=lld", "-flto=thin"])
                .args(self.objects())
                .arg("-o")
                .arg(&prog),
        );
        run_program(&prog)
    }

    /// `llvmcache-*` object entries (not `llvmcache.timestamp`, pruning's
    /// clock, nor the import sources' kept versions, `llvmcache-source-*`,
    /// nor the inliner's decisions beside each object, `llvmcache-inline-*`).
    fn entries(&self) -> Vec<String> {
        file_names(files_named(&self.path("cache"), |n| {
            n.starts_with("llvmcache-")
                && !n.starts_with("llvmcache-source-")
                && !n.starts_with("llvmcache-inline-")
        }))
    }
}

/// The file names of `paths`.
fn file_names(paths: Vec<PathBuf>) -> Vec<String> {
    paths
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Module name -> cache status ("hit", or "miss: <reason>").
fn statuses(run: &Run) -> BTreeMap<String, String> {
    modules(run)
        .iter()
        .map(|m| {
            let cache = &m["cache"];
            let status = match cache["status"].as_str().unwrap() {
                "miss" => format!("miss: {}", cache["reason"].as_str().unwrap()),
                other => other.to_string(),
            };
            (m["name"].as_str().unwrap().to_string(), status)
        })
        .collect()
}

fn modules(run: &Run) -> &Vec<Value> {
    run.report["thin"]["modules"].as_array().unwrap()
}

fn key_of(run: &Run, module: &str) -> String {
    modules(run)
        .iter()
        .find(|m| m["name"] == module)
        .unwrap_or_else(|| panic!("no module {module}"))["cache_key"]
        .as_str()
        .unwrap()
        .to_string()
}

fn all(status: &str) -> BTreeMap<String, String> {
    MODULES
        .iter()
        .map(|m| (format!("{m}.o"), status.to_string()))
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(m, s)| (m.to_string(), s.to_string()))
        .collect()
}

#[test]
fn second_run_reuses_every_object_without_parsing() {
    let mut project = Project::new();
    let cold = project.engine_run(&[]);
    assert_eq!(statuses(&cold), all("miss: new module"));
    assert_eq!(cold.report["thin"]["cache"]["misses"], 5);

    let warm = project.engine_run(&[]);
    assert_eq!(statuses(&warm), all("hit"));
    assert_eq!(warm.report["thin"]["cache"]["hits"], 5);
    for module in modules(&warm) {
        // No parse, no backend step: only the read of the entry, made while
        // the inputs were still being added (the content hash matched the
        // last run's, and the key after the thin link confirmed it).
        let steps: Vec<&str> = module["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        assert_eq!(steps, ["cache read (early)"], "{}", module["name"]);
        let object = module["object"].as_str().unwrap();
        assert_eq!(
            std::fs::read(cold.out.join(object)).unwrap(),
            std::fs::read(warm.out.join(object)).unwrap(),
            "{object} is byte-identical"
        );
    }
    // The entries are LLVM-style names, one per module.
    assert_eq!(project.entries().len(), 5, "one entry per module");
    assert!(
        warm.stderr.contains("cache: 5 hits, 0 misses"),
        "{}",
        warm.stderr
    );

    // Into the same output directory again: the objects there already hold
    // these bytes, so they are left in place, only their time refreshed.
    let object = cold.out.join("main.o.lto.o");
    let before = std::fs::metadata(&object).unwrap();
    let stale = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let file = std::fs::File::options().write(true).open(&object).unwrap();
    file.set_modified(stale).unwrap();
    let report = project.path("same-dir.json");
    let output = run_ok(&mut project.thin_command(&cold.out, &report));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("wrote 5 objects (5 already up to date)"),
        "{stderr}"
    );
    let after = std::fs::metadata(&object).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        after.ino(),
        before.ino(),
        "the same file, not a replacement"
    );
    assert!(
        after.modified().unwrap() > stale,
        "modification time refreshed"
    );
    let expected = "scaled=25\nchecksum=157904548\nleaf=17273\n";
    assert_eq!(project.lld_output(), expected);
    assert_eq!(project.program_output(&warm), expected);
}

#[test]
fn an_edit_recompiles_only_what_it_affects() {
    let mut project = Project::new();
    project.engine_run(&[]);

    // report() is noinline, so nobody imports it: only report.o misses.
    project.edit("report", "\"%s=%d\\n\"", "\"%s: %d\\n\"");
    let run = project.engine_run(&[]);
    assert_eq!(
        statuses(&run),
        expect(&[
            ("main.o", "hit"),
            ("util.o", "hit"),
            ("stats.o", "hit"),
            ("report.o", "miss: module changed"),
            ("leaf.o", "hit"),
        ])
    );
    let output = project.program_output(&run);
    assert_eq!(output, "scaled: 25\nchecksum: 157904548\nleaf: 17273\n");
    assert_eq!(output, project.lld_output());

    // scale() is imported (and inlined) by main.o and stats.o: they miss
    // with the defining module, the others hit.
    project.edit("util", "v * 3 + 1", "v * 5 + 1");
    let run = project.engine_run(&[]);
    assert_eq!(
        statuses(&run),
        expect(&[
            ("main.o", "miss: imports changed (from util.o)"),
            ("util.o", "miss: module changed"),
            ("stats.o", "miss: imports changed (from util.o)"),
            ("report.o", "hit"),
            ("leaf.o", "hit"),
        ])
    );
    let output = project.program_output(&run);
    assert_eq!(output, project.lld_output());
    assert!(output.starts_with("scaled: 41\n"), "{output}");

    // Back to the first util.c: its earlier entries are still there.
    project.edit("util", "v * 5 + 1", "v * 3 + 1");
    let run = project.engine_run(&[]);
    assert_eq!(statuses(&run), all("hit"));
    assert_eq!(project.program_output(&run), project.lld_output());
}

#[test]
fn settings_changes_miss_every_module() {
    let mut project = Project::new();
    let o2 = project.engine_run(&[]);
    let o3 = project.engine_run(&["-O3"]);
    assert_eq!(statuses(&o3), all("miss: settings changed"));
    let cpu = project.engine_run(&["-O3", "--target-cpu", "x86-64-v2"]);
    assert_eq!(statuses(&cpu), all("miss: settings changed"));
    let features = project.engine_run(&[
        "-O3",
        "--target-cpu",
        "x86-64-v2",
        "--target-features",
        "+avx2",
    ]);
    assert_eq!(statuses(&features), all("miss: settings changed"));
    let visibility = project.engine_run(&[
        "-O3",
        "--target-cpu",
        "x86-64-v2",
        "--target-features",
        "+avx2",
        "--lto-whole-program-visibility",
    ]);
    assert_eq!(statuses(&visibility), all("miss: settings changed"));
    for module in project.objects() {
        let keys = [&o2, &o3, &cpu, &features, &visibility].map(|run| key_of(run, &module));
        for (i, key) in keys.iter().enumerate() {
            assert!(
                !keys[..i].contains(key),
                "{module}: keys differ per setting"
            );
        }
    }
    // Each setting keeps its own entries.
    let again = project.engine_run(&["-O3", "--target-cpu", "x86-64-v2"]);
    assert_eq!(statuses(&again), all("hit"));
    let again = project.engine_run(&[]);
    assert_eq!(statuses(&again), all("hit"));
    assert_eq!(project.program_output(&again), project.lld_output());
}

#[test]
fn damaged_entries_are_rebuilt_not_used() {
    let mut project = Project::new();
    let cold = project.engine_run(&[]);
    let entry = |module: &str| project.path(&format!("cache/llvmcache-{}", key_of(&cold, module)));

    // Truncated (as a crash mid-write without our rename would leave it),
    // and one flipped byte in the object.
    let main_entry = entry("main.o");
    let bytes = std::fs::read(&main_entry).unwrap();
    std::fs::write(&main_entry, &bytes[..bytes.len() / 2]).unwrap();
    let util_entry = entry("util.o");
    let mut bytes = std::fs::read(&util_entry).unwrap();
    bytes[100] ^= 0x40;
    std::fs::write(&util_entry, &bytes).unwrap();
    // Garbage left by a killed run is never taken for an entry.
    std::fs::write(project.path("cache/llvmcache-tmp-999999-0"), b"partial").unwrap();

    let run = project.engine_run(&[]);
    let status = statuses(&run);
    assert!(
        status["main.o"].starts_with("miss: entry corrupt (no entry trailer"),
        "{status:?}"
    );
    assert_eq!(
        status["util.o"],
        "miss: entry corrupt (checksum mismatch); rebuilt"
    );
    for module in ["stats.o", "report.o", "leaf.o"] {
        assert_eq!(status[module], "hit");
    }
    assert_eq!(project.program_output(&run), project.lld_output());

    // The rebuilt entries are whole again.
    let run = project.engine_run(&[]);
    assert_eq!(statuses(&run), all("hit"));
    assert_eq!(
        std::fs::read(run.out.join("main.o.lto.o")).unwrap(),
        std::fs::read(cold.out.join("main.o.lto.o")).unwrap()
    );
}

#[test]
fn concurrent_runs_share_one_cache() {
    let project = Project::new();
    let expected = project.lld_output();
    // Three processes start together on an empty cache: all compile every
    // module and store the same entries at the same time.
    let runs: Vec<(PathBuf, PathBuf)> = (0..3)
        .map(|i| {
            (
                project.path(&format!("par{i}")),
                project.path(&format!("par{i}.json")),
            )
        })
        .collect();
    let children: Vec<_> = runs
        .iter()
        .map(|(out, report)| {
            project
                .thin_command(out, report)
                .args(["--jobs", "1"])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for (out, report) in &runs {
        let run = Run {
            out: out.clone(),
            report: serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap(),
            stderr: String::new(),
        };
        assert_eq!(project.program_output(&run), expected);
    }
    let mut project = project;
    let run = project.engine_run(&[]);
    assert_eq!(statuses(&run), all("hit"));
    assert_eq!(project.program_output(&run), expected);
    assert!(
        !project
            .entries()
            .iter()
            .any(|n| n.starts_with("llvmcache-tmp-")),
        "no temporary file is left: {:?}",
        project.entries()
    );
}

#[test]
fn pruning_follows_the_policy() {
    let mut project = Project::new();
    // By count: at most two entries survive the run that stored five.
    let run = project.engine_run(&["--cache-policy", "prune_interval=0s:cache_size_files=2"]);
    assert_eq!(run.report["thin"]["cache"]["pruned"], true);
    // The limit counts every entry, the kept versions of import sources
    // too.
    let entries = files_named(&project.path("cache"), |n| n.starts_with("llvmcache-"));
    assert_eq!(entries.len(), 2, "{entries:?}");

    // By age: entries of the -O2 run, last used two hours ago, go; the -O1
    // run's fresh ones stay.
    std::fs::remove_dir_all(project.path("cache")).unwrap();
    let old = project.engine_run(&[]);
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for module in project.objects() {
        let path = project.path(&format!("cache/llvmcache-{}", key_of(&old, &module)));
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_times(std::fs::FileTimes::new().set_accessed(two_hours_ago))
            .unwrap();
    }
    let new = project.engine_run(&["-O1", "--cache-policy", "prune_interval=0s:prune_after=1h"]);
    for module in project.objects() {
        let old_entry = project.path(&format!("cache/llvmcache-{}", key_of(&old, &module)));
        let new_entry = project.path(&format!("cache/llvmcache-{}", key_of(&new, &module)));
        assert!(!old_entry.exists(), "{module}: expired entry pruned");
        assert!(new_entry.exists(), "{module}: fresh entry kept");
    }
    // Without an interval that has passed, nothing is scanned.
    let run = project.engine_run(&["-O1", "--cache-policy", "prune_interval=1h"]);
    assert_eq!(run.report["thin"]["cache"]["pruned"], false);
}

#[test]
fn a_bad_cache_policy_or_directory_is_a_one_line_error() {
    let project = Project::new();
    let out = project.path("out");
    let report = project.path("r.json");
    let message = cli_error(
        project
            .thin_command(&out, &report)
            .args(["--cache-policy", "prune_after=forever"]),
        "cache policy",
    );
    assert!(message.contains("prune_after=forever"), "{message}");
    assert!(!out.exists(), "nothing was written");

    // A cache directory that cannot be created: named, with the phase.
    std::fs::write(project.path("cache"), b"a file, not a directory").unwrap();
    let message = cli_error(&mut project.thin_command(&out, &report), "cache");
    // The directory as given (`cache`), then the phase.
    assert!(message.contains("error: cache: cache: "), "{message}");
    assert!(!out.exists(), "nothing was written");
}

#[test]
fn a_cache_others_can_write_to_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let session = |cache: &Path| {
        let config = lto_engine::Config::builder()
            .cache(lto_engine::CacheConfig::new(cache))
            .build()
            .unwrap();
        lto_engine::Session::new(config, lto_engine::LtoKind::Thin)
    };
    // Made by the engine: no write permission for group or others.
    let fresh = dir.path().join("fresh/cache");
    session(&fresh).unwrap();
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
    assert_eq!(mode & 0o022, 0, "created with mode {mode:o}");

    // Writable by every user: refused, naming the directory.
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let error = session(&open).unwrap_err().to_string();
    assert!(error.contains("writable by every user"), "{error}");
    assert!(error.contains(&open.display().to_string()), "{error}");
    // Positive control: the same directory without o+w is taken.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    session(&open).unwrap();

    // Owned by another user: as root, a directory given to `nobody`; as
    // anyone else, `/` (root's).
    let is_root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    let foreign = if is_root {
        let foreign = dir.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        foreign
    } else {
        PathBuf::from("/")
    };
    let error = session(&foreign).unwrap_err().to_string();
    assert!(error.contains("owned by user"), "{error}");

    // The CLI says it in one line.
    let out = dir.path().join("out");
    let mut command = engine();
    command
        .arg("thin")
        .arg(data("c/checksum.c"))
        .arg("-o")
        .arg(&out)
        .arg("--cache-dir")
        .arg(&foreign);
    cli_error(&mut command, "owned by user");
}
