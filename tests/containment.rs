//! Crash containment (`Isolation::Workers`): what kills a worker is an
//! error naming the module, with a reproducer; the host goes on; a worker's
//! objects are the in-process objects; a warm cached run needs no worker.
//!
//! Workers that crash, hang or die on purpose are small shell scripts named
//! as the worker program (the host only sees a process that dies); the real
//! worker is `lto-engine worker`.

mod common;
use common::*;
use lto_engine::{CacheConfig, Config, Error, Isolation, LtoKind, Phase, Session, Workers};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The C test program as thin (or full) LTO bitcode objects.
fn program(dir: &Path, flag: &str) -> Vec<PathBuf> {
    ["main.c", "scale.c", "checksum.c"]
        .iter()
        .map(|source| {
            let out = dir.join(flag.trim_start_matches('-'));
            std::fs::create_dir_all(&out).unwrap();
            compile_c(&out, &data(&format!("c/{source}")), &["-O2", flag])
        })
        .collect()
}

/// A worker that reads its configuration, then runs `then` on its first
/// request.
fn script_worker(then: &str) -> Workers {
    Workers::new("sh")
        .arg("-c")
        .arg(format!("read hello; read request; {then}"))
}

fn session(kind: LtoKind, isolation: Isolation, cache: Option<&Path>) -> Session {
    let mut config = Config::default();
    config.isolation = isolation;
    config.cache = cache.map(CacheConfig::new);
    Session::new(config, kind).unwrap()
}

fn run(session: &Session, inputs: &[PathBuf]) -> lto_engine::Result<lto_engine::Output> {
    for input in inputs {
        session.add_path(input)?;
    }
    session.preserve(["main"]).unwrap();
    session.run()
}

#[test]
fn a_worker_killed_by_a_signal_is_an_error_naming_the_module_with_a_reproducer() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = program(dir.path(), "-flto=thin");
    let reproducers = dir.path().join("reproducers");
    let workers = script_worker("echo 'LLVM went wrong here' >&2; kill -SEGV $$")
        .reproducer_dir(&reproducers);
    for kind in [LtoKind::Thin, LtoKind::Fat] {
        let error = run(
            &session(kind, Isolation::Workers(workers.clone()), None),
            &inputs,
        )
        .expect_err("the worker dies");
        let Error::Crashed {
            input,
            status,
            message,
            reproducer,
            ..
        } = &error
        else {
            panic!("{kind:?}: {error:?}");
        };
        assert!(
            inputs.iter().any(|i| i.display().to_string() == *input),
            "{error}"
        );
        assert_eq!(status, "signal 11 (SIGSEGV)");
        assert_eq!(message.as_deref(), Some("LLVM went wrong here"));
        // The reproducer holds the module and how to rerun the step.
        let reproducer = reproducer.as_ref().expect("a reproducer");
        let name = Path::new(input).file_name().unwrap();
        assert!(reproducer.join(name).is_file(), "{}", reproducer.display());
        assert!(reproducer.join("README.txt").is_file());
        assert!(reproducer.join("request.json").is_file());
        let text = error.to_string();
        assert!(
            text.contains("worker crashed (signal 11 (SIGSEGV))"),
            "{text}"
        );
        assert!(!text.contains('\n'), "one line: {text}");
    }
}

#[test]
fn a_worker_that_hangs_is_killed_at_the_module_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = program(dir.path(), "-flto=thin");
    let workers = script_worker("sleep 60")
        .module_timeout(Duration::from_millis(500))
        .reproducer_dir(dir.path().join("reproducers"));
    let start = Instant::now();
    let error = run(
        &session(LtoKind::Thin, Isolation::Workers(workers), None),
        &inputs,
    )
    .expect_err("the worker hangs");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
    match &error {
        Error::TimedOut { limit, phase, .. } => {
            assert_eq!(*limit, Duration::from_millis(500));
            assert_eq!(*phase, Phase::ThinLink);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        error.to_string().contains("timed out after 0.5 s"),
        "{error}"
    );
}

#[test]
fn workers_give_the_in_process_objects() {
    let dir = tempfile::tempdir().unwrap();
    let workers = || Isolation::Workers(Workers::lto_engine(env!("CARGO_BIN_EXE_lto-engine")));
    for (kind, flag) in [
        (LtoKind::Thin, "-flto=thin"),
        (LtoKind::Thin, "-flto"),
        (LtoKind::Fat, "-flto"),
    ] {
        let inputs = program(dir.path(), flag);
        let contained = run(&session(kind, workers(), None), &inputs).unwrap();
        let in_process = run(&session(kind, Isolation::InProcess, None), &inputs).unwrap();
        assert_eq!(contained.objects.len(), in_process.objects.len());
        for (a, b) in contained.objects.iter().zip(&in_process.objects) {
            assert_eq!(a.name, b.name);
            assert!(a.bytes == b.bytes, "{kind:?} {flag}: {} differs", a.name);
        }
        assert_eq!(contained.cache_keys(), in_process.cache_keys());
        // Positive control: the objects are real (the program links and
        // runs as the native build does).
        let out = dir.path().join(format!("out-{kind:?}-{}", flag.len()));
        let files = contained.write(&lto_engine::WriteTo::dir(&out)).unwrap();
        let program = link(&out, &files.link_rsp, &[]);
        assert!(!run_program(&program).is_empty());
    }
}

#[test]
fn a_warm_cached_run_needs_no_worker() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = program(dir.path(), "-flto=thin");
    let cache = dir.path().join("cache");
    let engine = Workers::lto_engine(env!("CARGO_BIN_EXE_lto-engine"));
    let cold = run(
        &session(LtoKind::Thin, Isolation::Workers(engine), Some(&cache)),
        &inputs,
    )
    .unwrap();
    assert!(cold.objects.iter().all(|o| !o.reused_from_cache));
    // Every input was read by a worker once: the markers say so.
    let markers = std::fs::read_dir(cache.join("validated")).unwrap().count();
    assert_eq!(markers, inputs.len());

    // A worker that would crash on any request: the warm run asks none.
    let crashing = script_worker("kill -SEGV $$");
    let warm = run(
        &session(
            LtoKind::Thin,
            Isolation::Workers(crashing.clone()),
            Some(&cache),
        ),
        &inputs,
    )
    .unwrap();
    assert!(warm.objects.iter().all(|o| o.reused_from_cache));
    for (a, b) in warm.objects.iter().zip(&cold.objects) {
        assert_eq!(a.bytes, b.bytes);
    }

    // Positive control: an input the workers never read goes to one.
    let edited = dir.path().join("edited.c");
    std::fs::write(
        &edited,
        std::fs::read_to_string(data("c/checksum.c")).unwrap()
            + "\nint extra(void) { return 7; }\n",
    )
    .unwrap();
    let mut changed = inputs.clone();
    changed[2] = compile_c(dir.path(), &edited, &["-O2", "-flto=thin"]);
    let error = run(
        &session(LtoKind::Thin, Isolation::Workers(crashing), Some(&cache)),
        &changed,
    )
    .expect_err("the new input goes to the crashing worker");
    assert!(matches!(error, Error::Crashed { .. }), "{error:?}");
}

/// The single-module backend of distributed ThinLTO honours the isolation
/// as every other path does: in a worker it gives the in-process object
/// (and the same imports), and a worker that dies is an error naming the
/// module, not the host's crash.
#[test]
fn the_distributed_backend_runs_in_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = program(dir.path(), "-flto=thin");
    let indexing = session(LtoKind::Thin, Isolation::InProcess, None);
    for input in &inputs {
        indexing.add_path(input).unwrap();
    }
    indexing.preserve(["main"]).unwrap();
    let options = lto_engine::distributed::IndexOptions::new(dir.path().join("index"));
    let output = indexing
        .run_with(lto_engine::Backends::IndexFiles(options))
        .unwrap();
    let job = output
        .jobs
        .iter()
        .find(|job| job.module_path.ends_with("main.o"))
        .expect("main.o's job");
    let module = std::path::Path::new(&job.module_path);
    let backend = |isolation: Isolation| {
        let mut config = Config::default();
        config.isolation = isolation;
        lto_engine::distributed::backend_from_index(&config, module, &job.index_file)
    };
    let in_process = backend(Isolation::InProcess).unwrap();
    let engine = Workers::lto_engine(env!("CARGO_BIN_EXE_lto-engine"));
    let contained = backend(Isolation::Workers(engine)).unwrap();
    assert!(contained.bytes == in_process.bytes, "same object");
    assert_eq!(contained.imported_from, in_process.imported_from);
    assert!(!contained.imported_from.is_empty(), "main imports");
    assert_eq!(contained.module_id, in_process.module_id);

    match backend(Isolation::Workers(script_worker("kill -SEGV $$"))) {
        Err(Error::Crashed { input, .. }) => assert!(input.ends_with("main.o"), "{input}"),
        other => panic!("{other:?}"),
    }
}

/// A worker of another protocol version refuses the host with one line
/// (the host's error carries a crashed worker's last line): the real
/// worker, handed the hello a host sends, with its version rewritten.
#[test]
fn a_worker_of_another_protocol_version_is_refused_with_one_line() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let inputs = program(dir.path(), "-flto=thin");
    // The hello a host sends, kept by a worker that then gives up.
    let saved = dir.path().join("hello.json");
    let keeper = Workers::new("sh").arg("-c").arg(format!(
        "read hello; printf '%s\\n' \"$hello\" > '{}'; exit 3",
        saved.display()
    ));
    run(
        &session(LtoKind::Thin, Isolation::Workers(keeper), None),
        &inputs,
    )
    .expect_err("the keeper gives up");
    let hello = std::fs::read_to_string(&saved).unwrap();
    let serve = |hello: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lto-engine"))
            .arg("worker")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(hello.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let version = r#""protocol":"#;
    assert!(hello.contains(version), "{hello}");
    let older = hello.replacen(version, r#""protocol":1,"was":"#, 1);
    let refused = serve(&older);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("this worker speaks protocol") && stderr.contains("the host 1"),
        "{stderr}"
    );
    // Control: the hello as the host sent it is taken (and the worker ends
    // when its input does).
    let taken = serve(&hello);
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
}
