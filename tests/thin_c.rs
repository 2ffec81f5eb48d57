//! Thin LTO of C programs: cross-module import and inlining, the same import
//! decisions as lld, promotion of imported locals, weak resolution, dead
//! modules, and byte-identical objects whatever the job count.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCES: [&str; 5] = ["thin_main", "hot", "weak", "strong", "dead"];

/// Compiles the thin test program with `clang -flto=thin` into `dir`.
fn compile_thin_program(dir: &Path) -> Vec<PathBuf> {
    SOURCES
        .iter()
        .map(|name| {
            compile_c(
                dir,
                &data(&format!("thin/{name}.c")),
                &["-O2", "-flto=thin"],
            )
        })
        .collect()
}

/// Runs `lto-engine thin` over `inputs` into `out` with extra flags.
fn thin(inputs: &[PathBuf], out: &Path, flags: &[&str]) {
    run_ok(
        engine()
            .arg("thin")
            .args(inputs)
            .arg("-o")
            .arg(out)
            .args(["--export", "main"])
            .args(flags),
    );
}

fn undefined(object: &Path, name: &str) -> bool {
    find(&symbols(object), name).is_some_and(|s| !s.defined)
}

fn defines(object: &Path, name: &str) -> bool {
    find(&symbols(object), name).is_some_and(|s| s.defined)
}

#[test]
fn imports_and_inlines_across_modules_like_lld() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = compile_thin_program(dir.path());

    // lld's own ThinLTO build of the same objects is the reference output.
    let lld_prog = dir.path().join("lld-prog");
    run_ok(
        Command::new(CLANG)
            .args(["-O2", "-fuse-ld=lld", "-flto=thin"])
            .args(&inputs)
            .arg("-o")
            .arg(&lld_prog),
    );
    let expected = run_program(&lld_prog);
    assert_eq!(
        expected,
        "acc=15150 secret=24955 big=19312 tunable=2 weight=7 clamp=1000\n"
    );

    let out = dir.path().join("out");
    let report = dir.path().join("report.json");
    let report_flag = report.display().to_string();
    thin(
        &inputs,
        &out,
        &["--jobs", "2", "--emit-imports", "--report", &report_flag],
    );
    let prog = link(dir.path(), &out.join("link.rsp"), &[]);
    assert_eq!(run_program(&prog), expected);

    // add_scaled was imported into main's module and inlined: main's object
    // no longer references it.
    let main_obj = out.join("thin_main.o.lto.o");
    assert!(!undefined(&main_obj, "add_scaled"), "add_scaled inlined");
    // uses_secret was imported, so the local it calls was promoted under a
    // module-hash name that both objects agree on.
    let hot_obj = out.join("hot.o.lto.o");
    let promoted = symbols(&hot_obj)
        .into_iter()
        .find(|s| s.name.starts_with("secret.llvm."))
        .expect("secret promoted");
    assert!(promoted.global && promoted.defined);
    assert!(undefined(&main_obj, &promoted.name));
    // The weak tunable lost to the strong one; the dead module holds no code.
    assert!(!defines(&out.join("weak.o.lto.o"), "tunable"));
    assert!(defines(&out.join("strong.o.lto.o"), "tunable"));
    assert!(!defines(&out.join("dead.o.lto.o"), "never_called"));

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let modules = json["thin"]["modules"].as_array().unwrap();
    let main_report = modules
        .iter()
        .find(|m| m["name"].as_str().unwrap().ends_with("thin_main.o"))
        .unwrap();
    let from_hot = main_report["imports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["from"].as_str().unwrap().ends_with("hot.o"))
        .expect("imports from hot.o");
    let imported: Vec<&str> = from_hot["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(imported.contains(&"add_scaled"), "{imported:?}");
    let steps: Vec<&str> = main_report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        // A worker's backend also reads its index slice and import sources
        // from files.
        .filter(|s| !matches!(*s, "read index" | "read imports"))
        .collect();
    assert_eq!(
        steps,
        [
            "parse",
            "verify",
            "rename",
            "resolve",
            "internalize",
            "import",
            "optimize",
            "codegen"
        ]
    );
    let dead = modules
        .iter()
        .find(|m| m["name"].as_str().unwrap().ends_with("dead.o"))
        .unwrap();
    assert_eq!(dead["live_definitions"], 0);
    assert_eq!(json["thin"]["jobs"], 2);

    // lld on the same objects, index-only: the same modules import from the
    // same modules.
    let lld_dir = dir.path().join("lld");
    std::fs::create_dir_all(&lld_dir).unwrap();
    let copies: Vec<PathBuf> = inputs
        .iter()
        .map(|input| {
            let copy = lld_dir.join(input.file_name().unwrap());
            std::fs::copy(input, &copy).unwrap();
            copy
        })
        .collect();
    run_ok(
        Command::new(CLANG)
            .args(["-fuse-ld=lld", "-flto=thin"])
            .args([
                "-Wl,--thinlto-index-only",
                "-Wl,--thinlto-emit-imports-files",
            ])
            .args(&copies)
            .arg("-o")
            .arg(lld_dir.join("unused")),
    );
    let ours = imports_files(&out);
    assert_eq!(ours.len(), SOURCES.len());
    assert_eq!(ours, imports_files(&lld_dir));
    assert_eq!(ours["thin_main.o"], ["hot.o", "strong.o"]);
}

#[test]
fn job_count_does_not_change_the_objects() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = compile_thin_program(dir.path());
    let one = dir.path().join("jobs1");
    let two = dir.path().join("jobs2");
    thin(&inputs, &one, &["--jobs", "1"]);
    thin(&inputs, &two, &["--jobs", "2"]);
    for name in SOURCES {
        let object = format!("{name}.o.lto.o");
        assert_eq!(
            std::fs::read(one.join(&object)).unwrap(),
            std::fs::read(two.join(&object)).unwrap(),
            "{object} differs between --jobs 1 and --jobs 2"
        );
    }
}

#[test]
fn plain_bitcode_gets_a_summary_and_takes_part() {
    // clang -emit-llvm without -flto writes plain bitcode, no summary; the
    // engine computes one, so hot.c is still imported from.
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = compile_thin_program(dir.path());
    let full = dir.path().join("full");
    std::fs::create_dir_all(&full).unwrap();
    inputs[1] = compile_c(&full, &data("thin/hot.c"), &["-O2", "-emit-llvm"]);
    let out = dir.path().join("out");
    let report = dir.path().join("report.json");
    let report_flag = report.display().to_string();
    thin(&inputs, &out, &["--report", &report_flag]);
    let prog = link(dir.path(), &out.join("link.rsp"), &[]);
    assert_eq!(
        run_program(&prog),
        "acc=15150 secret=24955 big=19312 tunable=2 weight=7 clamp=1000\n"
    );
    assert!(!undefined(&out.join("thin_main.o.lto.o"), "add_scaled"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let summarized: Vec<&str> = json["thin"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["summary_added"] == true)
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(summarized.len(), 1);
    assert!(summarized[0].ends_with("full/hot.o"), "{summarized:?}");
}

#[test]
fn save_temps_writes_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = compile_thin_program(dir.path());
    let temps = dir.path().join("temps");
    let temps_flag = temps.display().to_string();
    thin(
        &inputs,
        &dir.path().join("out"),
        &["--save-temps", &temps_flag],
    );
    for stage in THIN_STAGES {
        let path = temps.join(format!("thin_main.o.{stage}.bc"));
        // Each stage parses back as bitcode.
        run_ok(
            Command::new("llvm-dis-22")
                .arg(&path)
                .arg("-o")
                .arg(dir.path().join(format!("{stage}.ll"))),
        );
    }
    let after_import =
        std::fs::read_to_string(dir.path().join("thin-lto-after-import.ll")).unwrap();
    assert!(
        after_import
            .lines()
            .any(|l| l.starts_with("define available_externally") && l.contains("@add_scaled(")),
        "add_scaled imported as available_externally"
    );
}

#[test]
fn report_shows_serial_time_and_idle_backend_threads() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = compile_thin_program(dir.path());
    let run_with_jobs = |jobs: usize| {
        let config = lto_engine::Config::builder()
            .jobs(lto_engine::Jobs::Fixed(jobs))
            .build()
            .unwrap();
        let session = lto_engine::Session::new(config, lto_engine::LtoKind::Thin).unwrap();
        for input in &inputs {
            session.add_path(input).unwrap();
        }
        session.preserve(["main"]).unwrap();
        session.run().unwrap().report
    };
    let report = run_with_jobs(1);
    let thin = thin_report(&report);
    // The thin link is part of what runs before the first backend, and the
    // run's phases before the backends are all in it.
    assert!(thin.serial_before_backends >= thin.thin_link, "{thin:?}");
    assert!(thin.serial_before_backends > std::time::Duration::ZERO);
    // One thread is never idle while modules wait: what remains is
    // starting and stopping the thread, a few milliseconds on a loaded
    // machine. A measure that counted waiting as idle would give about the
    // whole backend wall time; half of it tells the two apart without
    // depending on how busy the machine is.
    assert!(
        thin.idle_core_time * 2 < thin.backend_wall,
        "{:?} of {:?}",
        thin.idle_core_time,
        thin.backend_wall
    );

    // The control: sixteen threads asked for, five started (one per module,
    // of different sizes); the threads of the small ones wait for the
    // largest.
    let report = run_with_jobs(16);
    let thin = thin_report(&report);
    assert_eq!(thin.jobs, SOURCES.len());
    assert!(thin.idle_core_time > std::time::Duration::ZERO, "{thin:?}");
    assert!(thin.idle_core_time < thin.backend_wall * SOURCES.len() as u32);
}

/// The report names, module by module, what the thin link internalized,
/// promoted (under the name the object holds) and dropped as dead: the
/// decisions lld makes on the same objects, read from its save-temps
/// object. What other modules call stays global (the control).
#[test]
fn report_names_what_was_internalized_promoted_and_dropped_as_lld_does() {
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = ["decide_main", "decide_api"]
        .iter()
        .map(|name| {
            compile_c(
                dir.path(),
                &data(&format!("thin/{name}.c")),
                &["-O2", "-flto=thin"],
            )
        })
        .collect();
    let session =
        lto_engine::Session::new(lto_engine::Config::default(), lto_engine::LtoKind::Thin).unwrap();
    for input in &inputs {
        session.add_path(input).unwrap();
    }
    session.preserve(["main"]).unwrap();
    let output = session.run().unwrap();
    let out = dir.path().join("out");
    output.write(&lto_engine::WriteTo::dir(&out)).unwrap();

    let report = &output.report;
    let module = |stem: &str| {
        report
            .thin
            .modules
            .iter()
            .find(|m| m.name.ends_with(stem))
            .unwrap()
    };
    let api = module("decide_api.o");
    assert_eq!(api.internalized, ["helper"]);
    assert_eq!(api.dropped, ["unused_global"]);
    assert_eq!(api.promoted.len(), 1, "{:?}", api.promoted);
    assert_eq!(api.promoted[0].name, "local_step");
    let promoted = api.promoted[0].promoted_name.clone();
    assert!(promoted.starts_with("local_step.llvm."), "{promoted}");
    let main = module("decide_main.o");
    assert!(main.internalized.is_empty() && main.promoted.is_empty() && main.dropped.is_empty());
    assert_eq!(report.internalized, ["helper"]);
    let json = report.to_json();
    let api_json = json["thin"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"].as_str().unwrap().ends_with("decide_api.o"))
        .unwrap()
        .clone();
    assert_eq!(api_json["promoted"][0]["promoted_name"], promoted.as_str());
    assert_eq!(api_json["dropped"][0], "unused_global");

    let lld_prog = dir.path().join("lld-prog");
    run_ok(
        Command::new(CLANG)
            .args(["-O2", "-fuse-ld=lld", "-flto=thin", "-Wl,-save-temps"])
            .args(&inputs)
            .arg("-o")
            .arg(&lld_prog),
    );
    let ours = symbols(&out.join("decide_api.o.lto.o"));
    let theirs = symbols(&dir.path().join("lld-prog.lto.decide_api.o"));
    for (who, syms) in [("engine", &ours), ("lld", &theirs)] {
        let helper = find(syms, "helper").unwrap_or_else(|| panic!("{who}: helper"));
        assert!(helper.defined && !helper.global, "{who}: helper internal");
        let renamed = find(syms, &promoted).unwrap_or_else(|| panic!("{who}: {promoted}"));
        assert!(
            renamed.defined && renamed.global,
            "{who}: {promoted} global"
        );
        assert!(
            !find(syms, "unused_global").is_some_and(|s| s.defined),
            "{who}: unused_global dropped"
        );
        for called in ["small_api", "big_api"] {
            assert!(
                find(syms, called).is_some_and(|s| s.defined && s.global),
                "{who}: {called} stays global"
            );
        }
    }
    let prog = link(dir.path(), &out.join("link.rsp"), &[]);
    assert_eq!(run_program(&prog), run_program(&lld_prog));
    assert_eq!(run_program(&prog), "small=51 big=44783\n");
}
