//! What a compiler embedding the engine relies on: a streaming session fed
//! from codegen threads, per-module LTO kinds, a jobserver, stage dumps and
//! hooks, diagnostics as values.

mod common;
use common::*;
use inkwell::context::Context;
use inkwell::module::{FlagBehavior, Linkage, Module};
use inkwell::targets::TargetMachine;
use lto_engine::report::Step;
use lto_engine::{
    Config, Error, Jobs, Jobserver, LtoKind, ModuleLto, ModuleRole, Session, Severity, StageHook,
    StageName, StreamingSession,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Codegen units of the toy program.
const UNITS: usize = 8;

/// Codegen unit `k`: `int stage_k(int x)`, `x + 1` for k = 0, else
/// `stage_{k-1}(x) * 3 + k`, calling into the previous unit.
fn build_unit(context: &Context, k: usize) -> Module<'_> {
    let module = context.create_module(&format!("cgu.{k}"));
    module.set_triple(&TargetMachine::get_default_triple());
    let i32t = context.i32_type();
    let fn_type = i32t.fn_type(&[i32t.into()], false);
    let function = module.add_function(&format!("stage_{k}"), fn_type, None);
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(function, "entry"));
    let x = function.get_first_param().unwrap().into_int_value();
    let value = if k == 0 {
        builder
            .build_int_add(x, i32t.const_int(1, false), "v")
            .unwrap()
    } else {
        let previous = module.add_function(
            &format!("stage_{}", k - 1),
            fn_type,
            Some(Linkage::External),
        );
        let called = builder
            .build_call(previous, &[x.into()], "c")
            .unwrap()
            .try_as_basic_value()
            .unwrap_basic()
            .into_int_value();
        let tripled = builder
            .build_int_mul(called, i32t.const_int(3, false), "t")
            .unwrap();
        builder
            .build_int_add(tripled, i32t.const_int(k as u64, false), "v")
            .unwrap()
    };
    builder.build_return(Some(&value)).unwrap();
    module
}

/// `cgu.main`: `int main(void) { printf("%d\n", stage_<last>(2)); }`.
fn build_main(context: &Context, last: usize) -> Module<'_> {
    let module = context.create_module("cgu.main");
    module.set_triple(&TargetMachine::get_default_triple());
    let i32t = context.i32_type();
    let ptr = context.ptr_type(Default::default());
    let printf = module.add_function(
        "printf",
        i32t.fn_type(&[ptr.into()], true),
        Some(Linkage::External),
    );
    let stage = module.add_function(
        &format!("stage_{last}"),
        i32t.fn_type(&[i32t.into()], false),
        Some(Linkage::External),
    );
    let main = module.add_function("main", i32t.fn_type(&[], false), None);
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(main, "entry"));
    let format = builder.build_global_string_ptr("%d\n", "format").unwrap();
    let value = builder
        .build_call(stage, &[i32t.const_int(2, false).into()], "v")
        .unwrap()
        .try_as_basic_value()
        .unwrap_basic();
    builder
        .build_call(
            printf,
            &[format.as_pointer_value().into(), value.into()],
            "",
        )
        .unwrap();
    builder
        .build_return(Some(&i32t.const_int(0, false)))
        .unwrap();
    module
}

/// What the toy program prints with units `0..=last`.
fn expected(last: usize) -> String {
    let mut value = 3;
    for k in 1..=last {
        value = value * 3 + k as i64;
    }
    format!("{value}\n")
}

/// Writes a thin (or no-LTO) output, links it and runs it.
fn link_and_run(dir: &Path, output: &lto_engine::Output) -> String {
    let files = output.write_thin(&dir.join("out"), false).unwrap();
    let program = link(dir, &files.link_rsp, &[]);
    run_program(&program)
}

fn objects_by_name(output: &lto_engine::Output) -> BTreeMap<String, Vec<u8>> {
    output
        .objects
        .iter()
        .map(|o| (o.name.clone(), o.bytes.clone()))
        .collect()
}

fn config(jobs: Jobs) -> Config {
    Config::builder().jobs(jobs).build().unwrap()
}

#[test]
fn modules_streamed_from_four_threads_equal_a_batch_session() {
    let stream = StreamingSession::new(config(Jobs::Fixed(2)), LtoKind::Thin).unwrap();
    stream.preserve(["main"]);
    // The main unit comes first, as plain bitcode (no summary): it is
    // loaded (its summary computed) in the background before any other
    // unit has even been generated.
    {
        let context = Context::create();
        let main = build_main(&context, UNITS - 1);
        let plain = lto_engine::ModuleBuffer::new(&main).unwrap();
        stream
            .submit_bitcode("cgu.main", plain.as_bytes().to_vec())
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while stream.loaded() < 1 {
        assert!(Instant::now() < deadline, "cgu.main never loaded");
        std::thread::sleep(Duration::from_millis(2));
    }

    // Four codegen threads, each with its own context, submit as they go.
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let stream = stream.clone();
            std::thread::spawn(move || {
                let context = Context::create();
                for k in (thread..UNITS)
                    .step_by(4)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                {
                    let module = build_unit(&context, k);
                    stream.submit(&format!("cgu.{k}"), &module).unwrap();
                    // Still generating while the others submit.
                    std::thread::sleep(Duration::from_millis(3 * (thread as u64 + 1)));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let streamed = stream.finish().unwrap();
    assert_eq!(stream.loaded(), 0, "the run took the loaded modules");
    let late = Context::create();
    let error = stream
        .submit("cgu.late", &build_unit(&late, 0))
        .unwrap_err();
    assert!(error
        .to_string()
        .contains("after the streaming session finished"));

    // The same modules, in name order, in one batch session.
    let context = Context::create();
    let mut batch = Session::new(config(Jobs::Fixed(2))).unwrap();
    let mut names: Vec<String> = (0..UNITS).map(|k| format!("cgu.{k}")).collect();
    names.push("cgu.main".to_string());
    names.sort();
    for name in &names {
        let module = match name.strip_prefix("cgu.").unwrap().parse::<usize>() {
            Ok(k) => build_unit(&context, k),
            Err(_) => build_main(&context, UNITS - 1),
        };
        batch.add_module(name, &module).unwrap();
    }
    batch.preserve(["main"]);
    let batched = batch.run(LtoKind::Thin).unwrap();

    let streamed_objects = objects_by_name(&streamed);
    assert_eq!(streamed_objects.len(), UNITS + 1);
    assert!(
        streamed_objects == objects_by_name(&batched),
        "streamed and batch objects differ"
    );
    assert_eq!(streamed.cache_keys(), batched.cache_keys());
    // Imports happened: main imported the last unit's function.
    let thin = thin_report(&streamed.report);
    let main = thin.modules.iter().find(|m| m.name == "cgu.main").unwrap();
    let last = format!("cgu.{}", UNITS - 1);
    let from_last = main.imports.iter().find(|s| s.module == last).unwrap();
    assert_eq!(from_last.definitions, [format!("stage_{}", UNITS - 1)]);

    let dir = tempfile::tempdir().unwrap();
    assert_eq!(link_and_run(dir.path(), &streamed), expected(UNITS - 1));
}

#[test]
fn a_module_that_fails_in_the_background_fails_finish_by_name() {
    let stream = StreamingSession::new(Config::default(), LtoKind::Thin).unwrap();
    // Bitcode magic, then garbage: accepted on submission (it looks like
    // bitcode), refused when loaded.
    stream
        .submit_bitcode("broken.bc", b"BC\xC0\xDE\x01\x02\x03\x04".to_vec())
        .unwrap();
    let error = stream.finish().unwrap_err();
    assert!(error.to_string().starts_with("broken.bc: "), "{error}");
    assert!(stream.finish().is_err(), "a session runs once");
}

#[test]
fn rustc_per_module_kinds() {
    use ModuleLto::*;
    for kind in [LtoKind::Fat, LtoKind::Thin, LtoKind::ThinLocal] {
        assert_eq!(ModuleLto::for_role(kind, ModuleRole::Metadata), No);
    }
    assert_eq!(
        ModuleLto::for_role(LtoKind::Thin, ModuleRole::Regular),
        Thin
    );
    assert_eq!(
        ModuleLto::for_role(LtoKind::Fat, ModuleRole::Allocator),
        Fat
    );
    assert_eq!(
        ModuleLto::for_role(LtoKind::ThinLocal, ModuleRole::Allocator),
        No
    );
    assert_eq!(
        ModuleLto::for_role(LtoKind::ThinLocal, ModuleRole::Regular),
        ThinLocal
    );
}

/// Units 0..=3 and main; `no_lto` units opt out of LTO.
fn kinds_session(kind_of: impl Fn(&str) -> ModuleLto) -> Session {
    let context = Context::create();
    let mut session = Session::new(config(Jobs::Fixed(2))).unwrap();
    for k in 0..4 {
        let name = format!("cgu.{k}");
        session
            .add_module_with(&name, &build_unit(&context, k), kind_of(&name))
            .unwrap();
    }
    session
        .add_module_with("cgu.main", &build_main(&context, 3), kind_of("cgu.main"))
        .unwrap();
    session.preserve(["main"]);
    session
}

#[test]
fn a_module_without_lto_is_compiled_alone_and_what_it_uses_stays_visible() {
    // cgu.2 opts out: it is optimized and emitted alone; stage_1, which it
    // calls, must stay visible in the thin objects, and stage_2 is not
    // imported into cgu.3.
    let session = kinds_session(|name| {
        if name == "cgu.2" {
            ModuleLto::No
        } else {
            ModuleLto::Session
        }
    });
    let output = session.run(LtoKind::Thin).unwrap();
    let alone: Vec<&str> = output
        .objects
        .iter()
        .filter(|o| o.lto == ModuleLto::No)
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(alone, ["cgu.2"]);
    assert_eq!(output.report.no_lto[0].name, "cgu.2");
    assert!(output.report.preserved.contains(&"stage_1".to_string()));
    let thin = thin_report(&output.report);
    assert_eq!(thin.modules.len(), 4);
    let unit3 = thin.modules.iter().find(|m| m.name == "cgu.3").unwrap();
    assert!(unit3.imports.is_empty(), "{:?}", unit3.imports);

    let dir = tempfile::tempdir().unwrap();
    let files = output.write_thin(&dir.path().join("out"), false).unwrap();
    let out = dir.path().join("out");
    let unit1 = symbols(&out.join("cgu.1.lto.o"));
    assert!(
        find(&unit1, "stage_1").is_some_and(|s| s.global && s.defined),
        "stage_1 kept for the module compiled alone"
    );
    let unit2 = symbols(&out.join("cgu.2.o"));
    assert!(find(&unit2, "stage_2").is_some_and(|s| s.global && s.defined));
    assert!(find(&unit2, "stage_1").is_some_and(|s| !s.defined));
    let program = link(dir.path(), &files.link_rsp, &[]);
    assert_eq!(run_program(&program), expected(3));

    // Every module opted out: plain separate compilation.
    let session = kinds_session(|_| ModuleLto::No);
    let output = session.run(LtoKind::Thin).unwrap();
    assert_eq!(output.report.kind, lto_engine::report::RunKind::NoLto);
    assert!(output.objects.iter().all(|o| o.lto == ModuleLto::No));
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(link_and_run(dir.path(), &output), expected(3));
}

#[test]
fn fat_lto_beside_a_metadata_module() {
    // A metadata-like unit (cgu.0 here) stays out of the fat module.
    let session = kinds_session(|name| {
        if name == "cgu.0" {
            ModuleLto::for_role(LtoKind::Fat, ModuleRole::Metadata)
        } else {
            ModuleLto::Session
        }
    });
    let output = session.run(LtoKind::Fat).unwrap();
    assert_eq!(output.objects.len(), 2);
    assert_eq!(output.objects[0].lto, ModuleLto::Fat);
    assert_eq!(output.objects[1].lto, ModuleLto::No);
    assert_eq!(
        output.report.modules.len(),
        4,
        "cgu.0 is not in the fat link"
    );
    // stage_1..3 were internalized into main; stage_0 is the other module's.
    assert!(output.report.internalized.contains(&"stage_1".to_string()));
    let dir = tempfile::tempdir().unwrap();
    let files = output.write_fat(&dir.path().join("lto.o")).unwrap();
    assert_eq!(files.compiled_alone, [dir.path().join("cgu.0.o")]);
    let fat = symbols(&files.object);
    assert!(find(&fat, "stage_0").is_some_and(|s| !s.defined));
    let program = link(dir.path(), &files.link_rsp, &[]);
    assert_eq!(run_program(&program), expected(3));
}

#[test]
fn fat_with_thin_or_thin_with_thin_local_is_an_error() {
    let session = kinds_session(|name| {
        if name == "cgu.1" {
            ModuleLto::Fat
        } else {
            ModuleLto::Session
        }
    });
    let error = session.run(LtoKind::Thin).unwrap_err();
    assert!(matches!(error, Error::LtoKindMix { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("cgu.0 asks for thin LTO") && text.contains("cgu.1 asks for fat LTO"),
        "{text}"
    );

    let session = kinds_session(|name| {
        if name == "cgu.main" {
            ModuleLto::ThinLocal
        } else {
            ModuleLto::Thin
        }
    });
    let error = session.run(LtoKind::Thin).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("thin-local LTO leaves them native"),
        "{error}"
    );
    // Setting the kind of a module that was never added is an error too.
    let mut session = kinds_session(|_| ModuleLto::Session);
    assert!(session.set_module_lto("cgu.9", ModuleLto::No).is_err());
}

/// A hook that counts backends between their first and last stage, and
/// makes each last long enough to overlap with others.
fn concurrency_hook(active: Arc<AtomicUsize>, peak: Arc<AtomicUsize>) -> StageHook {
    StageHook::new(move |stage| {
        match stage.stage {
            StageName::ThinLtoInput => {
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(60));
            }
            StageName::ThinLtoAfterPm => {
                active.fetch_sub(1, Ordering::SeqCst);
            }
            _ => {}
        }
        Ok(())
    })
}

#[test]
fn a_jobserver_of_one_token_runs_two_backends_at_most() {
    let run_with = |jobs: Jobs| {
        let (active, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let context = Context::create();
        let mut session = Session::new(
            Config::builder()
                .jobs(jobs)
                .stage_hook(concurrency_hook(active, Arc::clone(&peak)))
                .build()
                .unwrap(),
        )
        .unwrap();
        for k in 0..UNITS {
            session
                .add_module(&format!("cgu.{k}"), &build_unit(&context, k))
                .unwrap();
        }
        session
            .add_module("cgu.main", &build_main(&context, UNITS - 1))
            .unwrap();
        session.preserve(["main"]);
        let output = session.run(LtoKind::Thin).unwrap();
        (output, peak.load(Ordering::SeqCst))
    };

    // make -j2: one token in the pipe, one implicit.
    let client = jobserver::Client::new(1).unwrap();
    let (output, peak) = run_with(Jobs::Jobserver(Jobserver::new(client.clone())));
    // Both tokens used (a serial run would pass "at most two" too), never more.
    assert_eq!(peak, 2, "{peak} backends ran at once under 1 + 1 tokens");
    let thin = thin_report(&output.report);
    assert!(thin.jobserver);
    assert!(thin.max_concurrent_backends <= 2);
    assert_eq!(client.available().unwrap(), 1, "the token was given back");
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(link_and_run(dir.path(), &output), expected(UNITS - 1));

    // Without the jobserver, four threads do overlap: the measure works.
    let (_, peak) = run_with(Jobs::Fixed(4));
    assert!(peak > 2, "four threads, 60 ms each, peaked at {peak}");
}

#[test]
fn the_cli_takes_backend_tokens_from_makeflags() {
    let dir = tempfile::tempdir().unwrap();
    let context = Context::create();
    let mut inputs = Vec::new();
    for k in 0..UNITS {
        let path = dir.path().join(format!("cgu{k}.bc"));
        build_unit(&context, k).write_bitcode_to_path(&path);
        inputs.push(path);
    }
    let main = dir.path().join("main.bc");
    build_main(&context, UNITS - 1).write_bitcode_to_path(&main);
    inputs.push(main);
    let client = jobserver::Client::new(1).unwrap();
    let report = dir.path().join("report.json");
    let mut command = engine();
    command
        .arg("thin")
        .args(&inputs)
        .args(["--export", "main", "-o"])
        .arg(dir.path().join("out"))
        .arg("--report")
        .arg(&report);
    client.configure(&mut command);
    command.env("MAKEFLAGS", format!("-j2 {}", makeflags_auth(&client)));
    run_ok(&mut command);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["thin"]["jobserver"], true, "{json}");
    assert!(json["thin"]["max_concurrent_backends"].as_u64().unwrap() <= 2);
    let program = link(dir.path(), &dir.path().join("out/link.rsp"), &[]);
    assert_eq!(run_program(&program), expected(UNITS - 1));
}

/// The `--jobserver-auth=` part `make` would put in MAKEFLAGS for `client`.
fn makeflags_auth(client: &jobserver::Client) -> String {
    let mut probe = std::process::Command::new("true");
    client.configure_make(&mut probe);
    probe
        .get_envs()
        .find(|(key, _)| *key == "MAKEFLAGS")
        .and_then(|(_, value)| value)
        .map(|value| value.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn every_stage_is_saved_as_bitcode_and_shown_to_the_hook() {
    let dir = tempfile::tempdir().unwrap();
    let temps = dir.path().join("temps");
    std::fs::create_dir_all(&temps).unwrap();
    let seen: Arc<Mutex<Vec<(String, StageName, bool)>>> = Arc::default();
    let hook = {
        let seen = Arc::clone(&seen);
        StageHook::new(move |stage| {
            // What the module holds now: is stage_2 defined in cgu.3?
            let has_body = stage
                .module
                .get_function("stage_2")
                .is_some_and(|f| f.count_basic_blocks() > 0);
            seen.lock()
                .unwrap()
                .push((stage.module_name.to_string(), stage.stage, has_body));
            Ok(())
        })
    };
    let context = Context::create();
    let mut session = Session::new(
        Config::builder()
            .save_temps(temps.clone())
            .stage_hook(hook)
            .verify(true)
            .build()
            .unwrap(),
    )
    .unwrap();
    for k in 0..4 {
        session
            .add_module(&format!("cgu.{k}"), &build_unit(&context, k))
            .unwrap();
    }
    session
        .add_module("cgu.main", &build_main(&context, 3))
        .unwrap();
    session.preserve(["main"]);
    let output = session.run(LtoKind::Thin).unwrap();

    let seen = seen.lock().unwrap();
    for module in ["cgu.0", "cgu.1", "cgu.2", "cgu.3", "cgu.main"] {
        let stages: Vec<StageName> = seen
            .iter()
            .filter(|(m, _, _)| m == module)
            .map(|(_, s, _)| *s)
            .collect();
        assert_eq!(
            stages,
            [
                StageName::ThinLtoInput,
                StageName::ThinLtoAfterRename,
                StageName::ThinLtoAfterResolve,
                StageName::ThinLtoAfterInternalize,
                StageName::ThinLtoAfterImport,
                StageName::ThinLtoAfterPm,
            ],
            "{module}"
        );
        // Named as rustc names them, in save-temps files too.
        let names: Vec<&str> = stages.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, THIN_STAGES, "{module}");
        for stage in THIN_STAGES {
            let file = temps.join(format!("{module}.{stage}.bc"));
            let parse_context = Context::create();
            let parsed = Module::parse_bitcode_from_path(&file, &parse_context)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            parsed.verify().unwrap();
        }
    }
    // The hook watched stage_2 being imported into cgu.3.
    let cgu3: Vec<(StageName, bool)> = seen
        .iter()
        .filter(|(m, _, _)| m == "cgu.3")
        .map(|(_, s, b)| (*s, *b))
        .collect();
    assert_eq!(cgu3[3], (StageName::ThinLtoAfterInternalize, false));
    assert_eq!(cgu3[4], (StageName::ThinLtoAfterImport, true));
    let dir2 = tempfile::tempdir().unwrap();
    assert_eq!(link_and_run(dir2.path(), &output), expected(3));

    // Fat LTO's stages.
    let fat_temps = dir.path().join("fat");
    std::fs::create_dir_all(&fat_temps).unwrap();
    let mut session = Session::new(
        Config::builder()
            .save_temps(fat_temps.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    for k in 0..2 {
        session
            .add_module(&format!("cgu.{k}"), &build_unit(&context, k))
            .unwrap();
    }
    session.preserve(["stage_1"]);
    session.run(LtoKind::Fat).unwrap();
    for stage in ["lto.input", "lto.after-restriction", "lto.after-opt"] {
        let parse_context = Context::create();
        Module::parse_bitcode_from_path(fat_temps.join(format!("{stage}.bc")), &parse_context)
            .unwrap()
            .verify()
            .unwrap();
    }
}

#[test]
fn the_verifier_and_the_hook_can_stop_a_run() {
    let run = |hook: StageHook, verify: bool| {
        let context = Context::create();
        let mut session = Session::new(
            Config::builder()
                .stage_hook(hook)
                .verify(verify)
                .build()
                .unwrap(),
        )
        .unwrap();
        session
            .add_module("cgu.0", &build_unit(&context, 0))
            .unwrap();
        session.preserve(["stage_0"]);
        session.run(LtoKind::Thin).unwrap_err()
    };
    // A hook that leaves a block without terminator after the import: the
    // verifier catches it before the optimizer sees it.
    let breaker = StageHook::new(|stage| {
        if stage.stage == StageName::ThinLtoAfterImport {
            let context = stage.module.get_context();
            let i32t = context.i32_type();
            let broken = stage
                .module
                .add_function("broken", i32t.fn_type(&[], false), None);
            context.append_basic_block(broken, "entry");
        }
        Ok(())
    });
    let error = run(breaker, true);
    let text = error.to_string();
    assert!(
        text.starts_with("cgu.0: import: module fails verification after thin-lto-after-import"),
        "{text}"
    );
    assert!(text.contains("does not have terminator"), "{text}");

    let refuse = StageHook::new(|stage| {
        if stage.stage == StageName::ThinLtoAfterRename {
            Err("renamed module refused".to_string())
        } else {
            Ok(())
        }
    });
    let error = run(refuse, false);
    assert!(matches!(
        error,
        Error::Hook {
            stage: StageName::ThinLtoAfterRename,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "cgu.0: after thin-lto-after-rename: stage hook: renamed module refused"
    );
}

#[test]
fn llvm_warnings_and_remarks_come_back_as_values() {
    // Two modules disagree on a module flag whose behaviour is Warning:
    // the fat link warns, naming the module linked in.
    let context = Context::create();
    let first = build_unit(&context, 0);
    let second = build_unit(&context, 1);
    let i32t = context.i32_type();
    first.add_basic_value_flag("toy-abi", FlagBehavior::Warning, i32t.const_int(1, false));
    second.add_basic_value_flag("toy-abi", FlagBehavior::Warning, i32t.const_int(2, false));
    let mut session = Session::new(Config::default()).unwrap();
    session.add_module("cgu.0", &first).unwrap();
    session.add_module("cgu.1", &second).unwrap();
    session.preserve(["stage_1"]);
    let output = session.run(LtoKind::Fat).unwrap();
    let warning = output
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Warning)
        .unwrap_or_else(|| panic!("no warning in {:?}", output.diagnostics));
    assert!(warning.message.contains("toy-abi"), "{warning:?}");
    assert!(
        warning.message.contains("conflicting values"),
        "{warning:?}"
    );
    // Modules are linked in input order into the first: cgu.1 is linked in.
    assert_eq!(warning.module, "cgu.1");

    // An inline-asm `.warning` in a thin backend, and inlining remarks.
    let unit = build_unit(&context, 1);
    unit.set_inline_assembly(".warning \"toy compiler was here\"");
    let mut session = Session::new(Config::builder().remarks("inline").build().unwrap()).unwrap();
    session
        .add_module("cgu.0", &build_unit(&context, 0))
        .unwrap();
    session.add_module("cgu.1", &unit).unwrap();
    session.preserve(["stage_1"]);
    let output = session.run(LtoKind::Thin).unwrap();
    let asm = output
        .diagnostics
        .iter()
        .find(|d| d.message.contains("toy compiler was here"))
        .unwrap_or_else(|| panic!("no asm warning in {:?}", output.diagnostics));
    assert_eq!(asm.severity, Severity::Warning);
    assert_eq!(asm.module, "cgu.1");
    let inlined = output
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Remark && d.message.contains("'stage_0' inlined"))
        .unwrap_or_else(|| panic!("no inline remark in {:?}", output.diagnostics));
    assert_eq!(inlined.pass.as_deref(), Some("inline"));
    assert_eq!(inlined.function.as_deref(), Some("stage_1"));
    assert_eq!(inlined.module, "cgu.1");
    // Without a remark pattern, no remarks.
    let mut session = Session::new(Config::default()).unwrap();
    session
        .add_module("cgu.0", &build_unit(&context, 0))
        .unwrap();
    session
        .add_module("cgu.1", &build_unit(&context, 1))
        .unwrap();
    session.preserve(["stage_1"]);
    let output = session.run(LtoKind::Thin).unwrap();
    assert!(output.diagnostics.is_empty(), "{:?}", output.diagnostics);

    // A bad pattern is a configuration error before any work.
    let error = Session::new(Config::builder().remarks("(").build().unwrap()).unwrap_err();
    assert!(
        error.to_string().contains("invalid remark pattern"),
        "{error}"
    );
}

/// Streams units 0..UNITS and main into a thin session with `cache`;
/// `edit_last` adds a function to the last unit (which only main imports
/// from).
fn stream_cached(cache: &Path, edit_last: bool) -> lto_engine::Output {
    let stream = StreamingSession::new(
        Config::builder()
            .jobs(Jobs::Fixed(2))
            .cache(lto_engine::CacheConfig::new(cache))
            .build()
            .unwrap(),
        LtoKind::Thin,
    )
    .unwrap();
    stream.preserve(["main"]);
    let context = Context::create();
    for k in 0..UNITS {
        let module = build_unit(&context, k);
        if k == UNITS - 1 && edit_last {
            let i32t = context.i32_type();
            let extra = module.add_function("extra", i32t.fn_type(&[], false), None);
            let builder = context.create_builder();
            builder.position_at_end(context.append_basic_block(extra, "entry"));
            builder
                .build_return(Some(&i32t.const_int(7, false)))
                .unwrap();
        }
        stream.submit(&format!("cgu.{k}"), &module).unwrap();
    }
    stream
        .submit("cgu.main", &build_main(&context, UNITS - 1))
        .unwrap();
    stream.finish().unwrap()
}

#[test]
fn a_streaming_session_reads_cache_entries_of_unchanged_modules_early() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cold = stream_cached(&cache, false);
    assert!(cold.objects.iter().all(|o| !o.reused_from_cache));

    // Nothing changed: every entry was read while modules were submitted;
    // after the thin link each key is confirmed and nothing is compiled.
    let warm = stream_cached(&cache, false);
    let thin = thin_report(&warm.report);
    for module in &thin.modules {
        let steps: Vec<Step> = module.steps.iter().map(|(s, _)| *s).collect();
        assert_eq!(steps, [Step::CacheReadEarly], "{}", module.name);
    }
    assert_eq!(objects_by_name(&warm), objects_by_name(&cold));

    // The last unit edited: it misses; main, unchanged but importing from
    // it, was read early under its old key, which no longer holds: it
    // misses too. The other units hit on their early reads.
    let edited = stream_cached(&cache, true);
    let thin = thin_report(&edited.report);
    let status = |name: &str| {
        let module = thin.modules.iter().find(|m| m.name == name).unwrap();
        (module.cache.to_string(), module.steps[0].0)
    };
    assert_eq!(status("cgu.7").0, "miss: module changed");
    assert_eq!(status("cgu.main").0, "miss: imports changed (from cgu.7)");
    for k in 0..UNITS - 1 {
        let early = ("hit".to_string(), Step::CacheReadEarly);
        assert_eq!(status(&format!("cgu.{k}")), early);
    }
    let run_dir = tempfile::tempdir().unwrap();
    assert_eq!(link_and_run(run_dir.path(), &edited), expected(UNITS - 1));
}
