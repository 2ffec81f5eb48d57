//! What a compiler embedding the engine relies on: a streaming session fed
//! from codegen threads, per-module LTO kinds, a jobserver, stage dumps and
//! hooks, diagnostics as values.

mod common;
use common::*;
use inkwell::context::Context;
use inkwell::module::{FlagBehavior, Linkage, Module};
use lto_engine::report::Step;
use lto_engine::{
    Backends, Config, Error, Input, Jobs, Jobserver, LtoKind, ModuleLto, ModuleOrder, ModuleRole,
    Session, Severity, StageHook, StageName, WriteTo,
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
    target_host(&module);
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
    target_host(&module);
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
    let files = output.write(&WriteTo::dir(dir.join("out"))).unwrap();
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

/// The toy program's modules added to a session of `kind` from four codegen
/// threads, each with its own context, as they are generated (units taken
/// by each thread in descending order, main first); `lto_of` gives a
/// module's part.
fn streamed(kind: LtoKind, lto_of: fn(&str) -> ModuleLto) -> lto_engine::Output {
    let session = Session::new(config(Jobs::Fixed(2)), kind).unwrap();
    session.preserve(["main"]).unwrap();
    // The main unit comes first, as plain bitcode (no summary): in a thin
    // session it is loaded (its summary computed) in the background before
    // any other unit has even been generated.
    {
        let context = Context::create();
        let main = build_main(&context, UNITS - 1);
        let plain = lto_engine::ModuleBuffer::new(&main).unwrap();
        session
            .add(Input::bitcode("cgu.main", plain.as_bytes()).lto(lto_of("cgu.main")))
            .unwrap();
    }
    if kind == LtoKind::Thin && lto_of("cgu.main") == ModuleLto::Session {
        let deadline = Instant::now() + Duration::from_secs(30);
        while session.loaded() < 1 {
            assert!(Instant::now() < deadline, "cgu.main never loaded");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let session = session.clone();
            std::thread::spawn(move || {
                let context = Context::create();
                for k in (thread..UNITS)
                    .step_by(4)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                {
                    let module = build_unit(&context, k);
                    let name = format!("cgu.{k}");
                    session
                        .add(Input::module(&module).lto(lto_of(&name)))
                        .unwrap();
                    // Still generating while the others add theirs.
                    std::thread::sleep(Duration::from_millis(3 * (thread as u64 + 1)));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let output = session.run().unwrap();
    assert_eq!(session.loaded(), 0, "the run took the loaded modules");
    let late = Context::create();
    let error = session.add_module(&build_unit(&late, 0)).unwrap_err();
    assert!(matches!(error, Error::Usage(_)), "{error:?}");
    assert!(error.to_string().contains("added after the session ran"));
    output
}

/// The same modules added from one thread, in reverse name order.
fn batched(kind: LtoKind, lto_of: fn(&str) -> ModuleLto) -> lto_engine::Output {
    let context = Context::create();
    let session = Session::new(config(Jobs::Fixed(2)), kind).unwrap();
    let mut names: Vec<String> = (0..UNITS).map(|k| format!("cgu.{k}")).collect();
    names.push("cgu.main".to_string());
    names.sort();
    for name in names.iter().rev() {
        let module = match name.strip_prefix("cgu.").unwrap().parse::<usize>() {
            Ok(k) => build_unit(&context, k),
            Err(_) => build_main(&context, UNITS - 1),
        };
        session
            .add(Input::module(&module).lto(lto_of(name)))
            .unwrap();
    }
    session.preserve(["main"]).unwrap();
    session.run().unwrap()
}

fn every_module_in_lto(_: &str) -> ModuleLto {
    ModuleLto::Session
}

/// Units 2 and 5 without LTO, the others thin.
fn two_units_alone(name: &str) -> ModuleLto {
    match name {
        "cgu.2" | "cgu.5" => ModuleLto::No,
        _ => ModuleLto::Session,
    }
}

#[test]
fn modules_added_from_four_threads_equal_one_thread_for_thin_fat_and_mixed() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, lto_of, objects) in [
        (
            LtoKind::Thin,
            every_module_in_lto as fn(&str) -> ModuleLto,
            UNITS + 1,
        ),
        (LtoKind::Fat, every_module_in_lto, 1),
        (LtoKind::Thin, two_units_alone, UNITS + 1),
    ] {
        let streamed = streamed(kind, lto_of);
        let batched = batched(kind, lto_of);
        let streamed_objects = objects_by_name(&streamed);
        assert_eq!(streamed_objects.len(), objects, "{kind:?}");
        assert!(
            streamed_objects == objects_by_name(&batched),
            "{kind:?}: objects from four threads and from one differ"
        );
        assert_eq!(streamed.cache_keys(), batched.cache_keys());
        let out = dir.path().join(format!("{kind:?}-{objects}"));
        std::fs::create_dir_all(&out).unwrap();
        assert_eq!(link_and_run(&out, &streamed), expected(UNITS - 1));
    }
    // Positive control: another module order (the order of adding, which
    // here differs between the two) changes which module fat LTO links
    // into, so byte equality above is not a given.
    let added_order = |reverse: bool| {
        let context = Context::create();
        let config = Config::builder()
            .module_order(ModuleOrder::Added)
            .build()
            .unwrap();
        let session = Session::new(config, LtoKind::Fat).unwrap();
        let mut ks: Vec<usize> = (0..UNITS).collect();
        if reverse {
            ks.reverse();
        }
        for k in ks {
            session.add_module(&build_unit(&context, k)).unwrap();
        }
        session
            .add_module(&build_main(&context, UNITS - 1))
            .unwrap();
        session.preserve(["main"]).unwrap();
        session.run().unwrap()
    };
    let (forward, backward) = (added_order(false), added_order(true));
    assert_eq!(forward.report.base_module.as_deref(), Some("cgu.0"));
    assert_eq!(
        backward.report.base_module.as_deref(),
        Some(format!("cgu.{}", UNITS - 1).as_str())
    );

    // Imports happened: main imported the last unit's function.
    let streamed = streamed(LtoKind::Thin, every_module_in_lto);
    let thin = thin_report(&streamed.report);
    let main = thin.modules.iter().find(|m| m.name == "cgu.main").unwrap();
    let last = format!("cgu.{}", UNITS - 1);
    let from_last = main.imports.iter().find(|s| s.module == last).unwrap();
    assert_eq!(from_last.definitions, [format!("stage_{}", UNITS - 1)]);
}

#[test]
fn a_module_that_fails_in_the_background_fails_finish_by_name() {
    let session = Session::new(Config::default(), LtoKind::Thin).unwrap();
    // Bitcode magic, then garbage: accepted when added (it looks like
    // bitcode), refused when loaded.
    session
        .add(Input::bitcode(
            "broken.bc",
            b"BC\xC0\xDE\x01\x02\x03\x04".to_vec(),
        ))
        .unwrap();
    let error = session.run().unwrap_err();
    assert!(error.to_string().starts_with("broken.bc: "), "{error}");
    let again = session.run().unwrap_err();
    assert!(
        matches!(again, Error::Usage(_)),
        "a session runs once: {again:?}"
    );
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

/// Units 0..=3 and main in a session of `kind`; `kind_of` gives each
/// module's part.
fn kinds_session(kind: LtoKind, kind_of: impl Fn(&str) -> ModuleLto) -> Session {
    let context = Context::create();
    let session = Session::new(config(Jobs::Fixed(2)), kind).unwrap();
    for k in 0..4 {
        let name = format!("cgu.{k}");
        session
            .add(Input::module(&build_unit(&context, k)).lto(kind_of(&name)))
            .unwrap();
    }
    session
        .add(Input::module(&build_main(&context, 3)).lto(kind_of("cgu.main")))
        .unwrap();
    session.preserve(["main"]).unwrap();
    session
}

#[test]
fn a_module_without_lto_is_compiled_alone_and_what_it_uses_stays_visible() {
    // cgu.2 opts out: it is optimized and emitted alone; stage_1, which it
    // calls, must stay visible in the thin objects, and stage_2 is not
    // imported into cgu.3.
    let session = kinds_session(LtoKind::Thin, |name| {
        if name == "cgu.2" {
            ModuleLto::No
        } else {
            ModuleLto::Session
        }
    });
    let output = session.run().unwrap();
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
    let files = output.write(&WriteTo::dir(dir.path().join("out"))).unwrap();
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
    let session = kinds_session(LtoKind::Thin, |_| ModuleLto::No);
    let output = session.run().unwrap();
    assert_eq!(output.report.kind, lto_engine::report::RunKind::NoLto);
    assert!(output.objects.iter().all(|o| o.lto == ModuleLto::No));
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(link_and_run(dir.path(), &output), expected(3));
}

#[test]
fn fat_lto_beside_a_metadata_module() {
    // A metadata-like unit (cgu.0 here) stays out of the fat module.
    let session = kinds_session(LtoKind::Fat, |name| {
        if name == "cgu.0" {
            ModuleLto::for_role(LtoKind::Fat, ModuleRole::Metadata)
        } else {
            ModuleLto::Session
        }
    });
    let output = session.run().unwrap();
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
    let files = output
        .write(&WriteTo::object(dir.path().join("lto.o")))
        .unwrap();
    assert_eq!(
        files.objects,
        [dir.path().join("lto.o"), dir.path().join("cgu.0.o")]
    );
    let fat = symbols(&files.objects[0]);
    assert!(find(&fat, "stage_0").is_some_and(|s| !s.defined));
    let program = link(dir.path(), &files.link_rsp, &[]);
    assert_eq!(run_program(&program), expected(3));
}

#[test]
fn fat_with_thin_or_thin_with_thin_local_is_an_error() {
    let session = kinds_session(LtoKind::Thin, |name| {
        if name == "cgu.1" {
            ModuleLto::Fat
        } else {
            ModuleLto::Session
        }
    });
    let error = session.run().unwrap_err();
    assert!(matches!(error, Error::LtoKindMix { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("cgu.0 asks for thin LTO") && text.contains("cgu.1 asks for fat LTO"),
        "{text}"
    );

    let session = kinds_session(LtoKind::Thin, |name| {
        if name == "cgu.main" {
            ModuleLto::ThinLocal
        } else {
            ModuleLto::Thin
        }
    });
    let error = session.run().unwrap_err();
    assert!(
        error
            .to_string()
            .contains("thin-local LTO leaves them native"),
        "{error}"
    );
    // The second kind gives the mix away even when the session's kind is
    // the other one.
    let session = kinds_session(LtoKind::Fat, |name| {
        if name == "cgu.3" {
            ModuleLto::Thin
        } else {
            ModuleLto::Session
        }
    });
    assert!(matches!(session.run(), Err(Error::LtoKindMix { .. })));
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
        let session = Session::new(
            Config::builder()
                .jobs(jobs)
                .stage_hook(concurrency_hook(active, Arc::clone(&peak)))
                .build()
                .unwrap(),
            LtoKind::Thin,
        )
        .unwrap();
        for k in 0..UNITS {
            session.add_module(&build_unit(&context, k)).unwrap();
        }
        session
            .add_module(&build_main(&context, UNITS - 1))
            .unwrap();
        session.preserve(["main"]).unwrap();
        let output = session.run().unwrap();
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
    let session = Session::new(
        Config::builder()
            .save_temps(temps.clone())
            .stage_hook(hook)
            .verify(true)
            .build()
            .unwrap(),
        LtoKind::Thin,
    )
    .unwrap();
    for k in 0..4 {
        session.add_module(&build_unit(&context, k)).unwrap();
    }
    session.add_module(&build_main(&context, 3)).unwrap();
    session.preserve(["main"]).unwrap();
    let output = session.run().unwrap();

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
    let session = Session::new(
        Config::builder()
            .save_temps(fat_temps.clone())
            .build()
            .unwrap(),
        LtoKind::Fat,
    )
    .unwrap();
    for k in 0..2 {
        session.add_module(&build_unit(&context, k)).unwrap();
    }
    session.preserve(["stage_1"]).unwrap();
    session.run().unwrap();
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
        let session = Session::new(
            Config::builder()
                .stage_hook(hook)
                .verify(verify)
                .build()
                .unwrap(),
            LtoKind::Thin,
        )
        .unwrap();
        session.add_module(&build_unit(&context, 0)).unwrap();
        session.preserve(["stage_0"]).unwrap();
        session.run().unwrap_err()
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
    let session = Session::new(Config::default(), LtoKind::Fat).unwrap();
    session.add_module(&first).unwrap();
    session.add_module(&second).unwrap();
    session.preserve(["stage_1"]).unwrap();
    let output = session.run().unwrap();
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
    let session = Session::new(
        Config::builder().remarks("inline").build().unwrap(),
        LtoKind::Thin,
    )
    .unwrap();
    session.add_module(&build_unit(&context, 0)).unwrap();
    session.add_module(&unit).unwrap();
    session.preserve(["stage_1"]).unwrap();
    let output = session.run().unwrap();
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
    let session = Session::new(Config::default(), LtoKind::Thin).unwrap();
    session.add_module(&build_unit(&context, 0)).unwrap();
    session.add_module(&build_unit(&context, 1)).unwrap();
    session.preserve(["stage_1"]).unwrap();
    let output = session.run().unwrap();
    assert!(output.diagnostics.is_empty(), "{:?}", output.diagnostics);

    // A bad pattern is a configuration error before any work.
    let error = Session::new(
        Config::builder().remarks("(").build().unwrap(),
        LtoKind::Thin,
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("invalid remark pattern"),
        "{error}"
    );
}

/// Streams units 0..UNITS and main into a thin session with `cache`;
/// `edit_last` adds a function to the last unit (which only main imports
/// from).
fn stream_cached(cache: &Path, edit_last: bool) -> lto_engine::Output {
    let stream = Session::new(
        Config::builder()
            .jobs(Jobs::Fixed(2))
            .cache(lto_engine::CacheConfig::new(cache))
            .build()
            .unwrap(),
        LtoKind::Thin,
    )
    .unwrap();
    stream.preserve(["main"]).unwrap();
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
        stream.add_module(&module).unwrap();
    }
    stream.add_module(&build_main(&context, UNITS - 1)).unwrap();
    stream.run().unwrap()
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

    // The last unit edited (a function added that nobody calls): it
    // misses; main, unchanged but importing from it, was read early under
    // its old key, which no longer holds: the unit's first change, so main
    // misses as LLVM's rule says (the finer key takes a source from its
    // first change on, tests/finer_key.rs). The other units hit on their
    // early reads.
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

#[test]
fn distributed_backends_honour_a_module_without_lto() {
    // cgu.2 opts out: it is compiled alone in process, the others become
    // backend jobs; stage_1, which cgu.2 calls, must stay visible in
    // cgu.1's job object.
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    let session = kinds_session(LtoKind::Thin, |name| {
        if name == "cgu.2" {
            ModuleLto::No
        } else {
            ModuleLto::Session
        }
    });
    let options = lto_engine::distributed::IndexOptions::new(&idx);
    let output = session.run_with(Backends::IndexFiles(options)).unwrap();
    let alone: Vec<&str> = output.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(alone, ["cgu.2"]);
    let jobs: Vec<&str> = output.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(jobs, ["cgu.0", "cgu.1", "cgu.3", "cgu.main"]);
    assert!(output.report.preserved.contains(&"stage_1".to_string()));
    for job in &output.jobs {
        let object = lto_engine::distributed::backend_from_index(
            &Config::default(),
            job.module_path.as_ref(),
            &job.index_file,
        )
        .unwrap();
        std::fs::write(&job.native_object, &object.bytes).unwrap();
    }
    let files = output.write(&WriteTo::dir(&idx)).unwrap();
    assert_eq!(files.objects, [idx.join("cgu.2.o")]);
    let cgu1 = output.jobs.iter().find(|j| j.name == "cgu.1").unwrap();
    let unit1 = symbols(&cgu1.native_object);
    assert!(
        find(&unit1, "stage_1").is_some_and(|s| s.global && s.defined),
        "stage_1 kept for the module compiled alone"
    );
    let program = link(dir.path(), &files.link_rsp, &[]);
    assert_eq!(run_program(&program), expected(3));

    // Positive control: without the opt-out, stage_1 is inlined into the
    // next unit and internalized: the visibility above came from cgu.2.
    let session = kinds_session(LtoKind::Thin, |_| ModuleLto::Session);
    let options = lto_engine::distributed::IndexOptions::new(dir.path().join("idx2"));
    let output = session.run_with(Backends::IndexFiles(options)).unwrap();
    assert!(output.objects.is_empty());
    assert!(!output.report.preserved.contains(&"stage_1".to_string()));
}

#[test]
fn misuses_are_usage_errors_not_wrong_outputs() {
    let dir = tempfile::tempdir().unwrap();
    // A thin result has one object per module: it cannot be written as
    // one object (nothing is written).
    let output = kinds_session(LtoKind::Thin, |_| ModuleLto::Session)
        .run()
        .unwrap();
    let single = dir.path().join("thin.o");
    let error = output.write(&WriteTo::object(&single)).unwrap_err();
    assert!(matches!(error, Error::Usage(_)), "{error:?}");
    assert!(
        error.to_string().contains("write it to a directory"),
        "{error}"
    );
    assert!(!single.exists());
    // Positive control: a directory takes it.
    let files = output
        .write(&WriteTo::dir(dir.path().join("thin")))
        .unwrap();
    assert_eq!(files.objects.len(), 5);

    // A fat result written to a directory is one `<first module>.lto.o`.
    let fat = kinds_session(LtoKind::Fat, |_| ModuleLto::Session)
        .run()
        .unwrap();
    let files = fat.write(&WriteTo::dir(dir.path().join("fat"))).unwrap();
    assert_eq!(files.objects, [dir.path().join("fat/cgu.0.lto.o")]);

    // Fat LTO has no backends to distribute.
    let options = lto_engine::distributed::IndexOptions::new(dir.path().join("idx"));
    let error = kinds_session(LtoKind::Fat, |_| ModuleLto::Session)
        .run_with(Backends::IndexFiles(options))
        .unwrap_err();
    assert!(matches!(error, Error::Usage(_)), "{error:?}");

    // A file's modules are named by its path.
    let session = Session::new(Config::default(), LtoKind::Thin).unwrap();
    let error = session
        .add(Input::path(dir.path().join("x.bc")).name("x"))
        .unwrap_err();
    assert!(matches!(error, Error::Usage(_)), "{error:?}");

    // Two modules under one name: the second is refused.
    let context = Context::create();
    session.add_module(&build_unit(&context, 0)).unwrap();
    let error = session.add_module(&build_unit(&context, 0)).unwrap_err();
    assert!(matches!(error, Error::DuplicateInput { .. }), "{error:?}");
    // ... and under a name of its own it is taken.
    let added = session
        .add(Input::module(&build_unit(&context, 0)).name("cgu.0-copy"))
        .unwrap();
    assert_eq!(added.modules, ["cgu.0-copy"]);
}

#[test]
fn adding_a_path_says_what_it_held() {
    let dir = tempfile::tempdir().unwrap();
    let context = Context::create();
    let bitcode = dir.path().join("unit.bc");
    build_unit(&context, 0).write_bitcode_to_path(&bitcode);
    let source = dir.path().join("n.c");
    std::fs::write(&source, "int n(void) { return 1; }\n").unwrap();
    let native = compile_c(dir.path(), &source, &[]);
    let archive = dir.path().join("libmixed.a");
    run_ok(
        std::process::Command::new("llvm-ar-22")
            .arg("rcs")
            .arg(&archive)
            .arg(&bitcode)
            .arg(&native),
    );
    let session = Session::new(Config::default(), LtoKind::Thin).unwrap();
    let added = session.add_path(&bitcode).unwrap();
    assert_eq!(added.modules, [bitcode.display().to_string()]);
    assert!(added.native_files.is_empty() && added.native_members.is_empty());
    let added = session.add_path(&native).unwrap();
    assert!(added.modules.is_empty());
    assert_eq!(added.native_files, [native]);
    let added = session.add_path(&archive).unwrap();
    assert_eq!(added.modules, [format!("{}(unit.bc)", archive.display())]);
    assert_eq!(
        added.native_members,
        [format!("{}(n.o)", archive.display())]
    );
}

/// Serializing for thin LTO names the caller's unnamed globals (the summary
/// writer needs names), as documented on `Input::module`; fat LTO leaves
/// the module as it is (the control).
#[test]
fn thin_sessions_name_the_callers_unnamed_globals_fat_ones_do_not() {
    for (kind, renamed) in [(LtoKind::Thin, true), (LtoKind::Fat, false)] {
        let context = Context::create();
        let module = build_unit(&context, 0);
        let global = module.add_global(context.i32_type(), None, "");
        global.set_initializer(&context.i32_type().const_int(5, false));
        global.set_linkage(Linkage::Internal);
        assert!(global.get_name().to_bytes().is_empty());
        let session = Session::new(Config::default(), kind).unwrap();
        session.add_module(&module).unwrap();
        let name = global.get_name().to_string_lossy().into_owned();
        assert_eq!(name.starts_with("anon."), renamed, "{kind:?}: {name:?}");
    }
}

/// `preserve` after `run` is a usage error, as `add` after `run` is; the
/// control: before the run it is accepted and takes effect.
#[test]
fn preserve_after_run_is_a_usage_error() {
    let context = Context::create();
    let unit = build_unit(&context, 0);
    let session = Session::new(Config::default(), LtoKind::Fat).unwrap();
    session.add_module(&unit).unwrap();
    session.preserve(["stage_0"]).unwrap();
    let output = session.run().unwrap();
    assert!(output.report.internalized.is_empty());
    assert!(output.report.preserved.contains(&"stage_0".to_string()));
    match session.preserve(["late"]) {
        Err(Error::Usage(message)) => assert!(message.contains("before Session::run"), "{message}"),
        other => panic!("{other:?}"),
    }
}

/// One rule for empty sessions: nothing added is a usage error at `run`,
/// fat or thin. The controls: with only a native object, fat writes its
/// (empty) LTO object and thin writes to a directory, but refuses to
/// write "its object" to a path it would leave empty.
#[test]
fn an_empty_session_is_a_usage_error() {
    for kind in [LtoKind::Fat, LtoKind::Thin] {
        let session = Session::new(Config::default(), kind).unwrap();
        match session.run() {
            Err(Error::Usage(message)) => assert!(message.contains("no input"), "{message}"),
            other => panic!("{kind:?}: {other:?}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let native = compile_c(dir.path(), &data("c/scale.c"), &["-O2"]);
    for kind in [LtoKind::Fat, LtoKind::Thin] {
        let session = Session::new(Config::default(), kind).unwrap();
        session.add_path(&native).unwrap();
        let output = session.run().unwrap();
        let object = dir.path().join(format!("{kind:?}/lto.o"));
        match (kind, output.write(&WriteTo::object(&object))) {
            (LtoKind::Fat, Ok(files)) => {
                assert!(object.exists());
                let listed = std::fs::read_to_string(files.link_rsp).unwrap();
                // The empty object is for build rules; the link needs
                // only the natives.
                assert_eq!(listed.trim(), native.display().to_string(), "{listed}");
            }
            (LtoKind::Thin, Err(Error::Usage(message))) => {
                assert!(message.contains("no LTO object"), "{message}");
                assert!(!object.exists());
                let files = output
                    .write(&WriteTo::dir(dir.path().join("thin-dir")))
                    .unwrap();
                let listed = std::fs::read_to_string(files.link_rsp).unwrap();
                assert!(listed.contains("scale.o"), "{listed}");
            }
            (kind, other) => panic!("{kind:?}: {other:?}"),
        }
    }
}

/// An in-memory module is verified when it is added, on the caller's
/// thread, with its value names: a call into another context's module is
/// refused by `add` (it used to surface at `run` as "Never resolved value"
/// in bitcode), and so is invalid IR, named as built. The controls: the
/// same modules built right are accepted; with `verify_inputs` off, `add`
/// takes what it is given.
#[test]
fn in_memory_modules_are_verified_when_added() {
    let other = Context::create();
    let context = Context::create();
    let foreign = build_unit(&other, 0);
    let i32t = context.i32_type();
    let caller = context.create_module("cgu.caller");
    target_host(&caller);
    let function = caller.add_function("caller", i32t.fn_type(&[], false), None);
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(function, "entry"));
    let callee = foreign.get_function("stage_0").unwrap();
    let value = builder
        .build_call(
            callee,
            &[other.i32_type().const_int(1, false).into()],
            "result",
        )
        .unwrap()
        .try_as_basic_value()
        .unwrap_basic();
    builder.build_return(Some(&value)).unwrap();

    // Invalid IR: `%late` used before it is defined.
    let broken = context.create_module("cgu.broken");
    target_host(&broken);
    let function = broken.add_function("broken", i32t.fn_type(&[i32t.into()], false), None);
    let entry = context.append_basic_block(function, "entry");
    let next = context.append_basic_block(function, "next");
    builder.position_at_end(next);
    let x = function.get_first_param().unwrap().into_int_value();
    let late = builder.build_int_add(x, x, "late").unwrap();
    builder.build_return(Some(&late)).unwrap();
    builder.position_at_end(entry);
    let early = builder.build_int_mul(late, x, "early").unwrap();
    let _ = early;
    builder.build_unconditional_branch(next).unwrap();

    for kind in [LtoKind::Fat, LtoKind::Thin] {
        let session = Session::new(Config::default(), kind).unwrap();
        match session.add_module(&caller) {
            Err(Error::InvalidInput { input, reason, .. }) => {
                assert_eq!(input, "cgu.caller");
                assert!(reason.contains("another module"), "{kind:?}: {reason}");
            }
            other => panic!("{kind:?}: {other:?}"),
        }
        match session.add_module(&broken) {
            Err(error @ Error::InvalidInput { .. }) => {
                let text = error.to_string();
                assert!(text.starts_with("cgu.broken: verify: invalid IR"), "{text}");
                assert!(text.contains("%late"), "value names kept: {text}");
            }
            other => panic!("{kind:?}: {other:?}"),
        }
        // Controls: a module built right is accepted; unchecked, the
        // broken one is too.
        session.add_module(&build_unit(&context, 0)).unwrap();
        let mut config = Config::default();
        config.verify_inputs = false;
        let unchecked = Session::new(config, kind).unwrap();
        unchecked.add_module(&broken).unwrap();
    }
}

/// Each module's instruction count is in the report of a thin run as of a
/// fat one (thin counts from the summaries, fat after parsing): the same,
/// non-zero numbers, by module; and fat's optimize step is timed.
#[test]
fn thin_and_fat_reports_count_each_modules_instructions() {
    let counts = |kind: LtoKind| -> BTreeMap<String, u64> {
        let context = Context::create();
        let session = Session::new(Config::default(), kind).unwrap();
        for k in 0..3 {
            session.add_module(&build_unit(&context, k)).unwrap();
        }
        session.add_module(&build_main(&context, 2)).unwrap();
        session.preserve(["main"]).unwrap();
        let output = session.run().unwrap();
        if kind == LtoKind::Fat {
            // The run optimized: its optimize step took time.
            let optimize = output
                .report
                .phases
                .iter()
                .find(|(s, _)| *s == Step::Optimize);
            assert!(
                optimize.is_some_and(|(_, d)| !d.is_zero()),
                "{:?}",
                output.report.phases
            );
        }
        output
            .report
            .modules
            .iter()
            .map(|m| (m.name.clone(), m.instructions))
            .collect()
    };
    let fat = counts(LtoKind::Fat);
    let thin = counts(LtoKind::Thin);
    assert_eq!(fat.len(), 4);
    assert!(fat.values().all(|&n| n > 0), "{fat:?}");
    assert_eq!(fat, thin);
}

/// The session warns where the final link would fail later, farther from
/// the cause: `main` defined but not preserved (LTO makes it internal), and
/// a preserved name that no input defines (a typo). The controls: `main`
/// preserved, and names defined by a bitcode module or by a native object
/// only, give no warning; a wrong program is not at stake, so both stay
/// warnings.
#[test]
fn forgetting_main_or_preserving_a_name_nobody_defines_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let native = compile_c(dir.path(), &data("c/scale.c"), &["-O2"]);
    for kind in [LtoKind::Fat, LtoKind::Thin] {
        let run = |preserve: &[&str]| -> Vec<String> {
            let context = Context::create();
            let session = Session::new(Config::default(), kind).unwrap();
            session.add_module(&build_main(&context, 0)).unwrap();
            session.add_module(&build_unit(&context, 0)).unwrap();
            session.add_path(&native).unwrap();
            session.preserve(preserve.iter().copied()).unwrap();
            let output = session.run().unwrap();
            output
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Warning)
                .map(ToString::to_string)
                .collect()
        };
        let forgot = run(&[]);
        assert_eq!(forgot.len(), 1, "{kind:?}: {forgot:?}");
        assert!(
            forgot[0].starts_with("warning: cgu.main: `main` is defined but not preserved"),
            "{kind:?}: {forgot:?}"
        );
        let typo = run(&["main", "mian"]);
        assert_eq!(typo.len(), 1, "{kind:?}: {typo:?}");
        assert!(
            typo[0].starts_with(
                "warning: preserved symbols: `mian` is preserved but no input defines it"
            ),
            "{kind:?}: {typo:?}"
        );
        let right = run(&["main", "stage_0", "lto_api_version"]);
        assert!(right.is_empty(), "{kind:?}: {right:?}");
    }
}

/// A hook that makes the first stage of every backend, fat run and module
/// compiled alone last long enough for work on other threads to overlap,
/// and counts, apart from the engine's own count, how many of those were
/// in it at once (`peak`).
fn slow_first_stages(peak: Arc<AtomicUsize>) -> StageHook {
    let active = Arc::new(AtomicUsize::new(0));
    StageHook::new(move |stage| {
        if matches!(
            stage.stage,
            StageName::ThinLtoInput | StageName::LtoAfterOpt | StageName::NoOpt
        ) {
            let now = active.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            active.fetch_sub(1, Ordering::SeqCst);
        }
        Ok(())
    })
}

/// Every path that runs work in parallel takes its slots from the
/// session's jobs: under a jobserver whose only token is the process's own
/// (make -j1), no two pieces of work ever run at once, on any path (loading
/// thin modules, cache keys, backends, a module compiled alone, index files
/// and the copies they need, fat partitions). The control: with three
/// tokens (make -j3), some path runs work side by side, never more than
/// three. A stage hook counts the LLVM stages it sees at once as well, a
/// measure the engine's own count does not feed.
#[test]
fn a_jobserver_of_one_token_runs_one_job_at_a_time_on_every_path() {
    let peaks = |tokens_in_pipe: usize| -> Vec<(&'static str, usize)> {
        let client = jobserver::Client::new(tokens_in_pipe).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let in_hook = Arc::new(AtomicUsize::new(0));
        let config = |build: lto_engine::ConfigBuilder| {
            build
                .jobs(Jobs::Jobserver(Jobserver::new(client.clone())))
                .stage_hook(slow_first_stages(Arc::clone(&in_hook)))
                .build()
                .unwrap()
        };
        let context = Context::create();
        let add_program = |session: &Session| {
            for k in 0..UNITS {
                let unit = build_unit(&context, k);
                let lto = if k == 3 {
                    ModuleLto::No
                } else {
                    ModuleLto::Session
                };
                session.add(Input::module(&unit).lto(lto)).unwrap();
            }
            session
                .add_module(&build_main(&context, UNITS - 1))
                .unwrap();
            session.preserve(["main"]).unwrap();
        };
        let mut peaks = Vec::new();

        let cached =
            Config::builder().cache(lto_engine::CacheConfig::new(dir.path().join("cache")));
        let session = Session::new(config(cached), LtoKind::Thin).unwrap();
        add_program(&session);
        let output = session.run().unwrap();
        assert_eq!(link_and_run(dir.path(), &output), expected(UNITS - 1));
        peaks.push(("thin", output.report.max_concurrent_jobs));

        let session = Session::new(config(Config::builder()), LtoKind::Thin).unwrap();
        add_program(&session);
        let index = lto_engine::distributed::IndexOptions::new(dir.path().join("index"));
        let output = session.run_with(Backends::IndexFiles(index)).unwrap();
        assert_eq!(output.jobs.len(), UNITS);
        peaks.push(("index files", output.report.max_concurrent_jobs));

        let session = Session::new(
            config(Config::builder().fat_partitions(lto_engine::FatPartitions::Fixed(4))),
            LtoKind::Fat,
        )
        .unwrap();
        add_program(&session);
        let output = session.run().unwrap();
        assert_eq!(output.report.fat.partitions.len(), 4);
        peaks.push(("fat", output.report.max_concurrent_jobs));
        assert_eq!(
            client.available().unwrap(),
            tokens_in_pipe,
            "tokens given back"
        );
        // Seen from outside the engine's count: LLVM stages on threads.
        peaks.push(("stages seen by the hook", in_hook.load(Ordering::SeqCst)));
        peaks
    };
    let make_j1 = peaks(0);
    eprintln!("make -j1: {make_j1:?}");
    assert!(make_j1.iter().all(|(_, peak)| *peak == 1), "{make_j1:?}");
    let make_j3 = peaks(2);
    eprintln!("make -j3: {make_j3:?}");
    assert!(make_j3.iter().any(|(_, peak)| *peak > 1), "{make_j3:?}");
    assert!(make_j3.iter().all(|(_, peak)| *peak <= 3), "{make_j3:?}");
}
