//! Distributed ThinLTO on a real Dask cluster: a scheduler and two worker
//! processes on 127.0.0.1, each worker in a directory of its own, running
//! the jobs of `dask-distributor/` (`lto-engine-dask`, installed into
//! `.venv-dask` by `ci/setup.sh`). Lua links through each of the three ways
//! in; no job reads the submitting machine's paths; a worker killed in a
//! job; an unreachable scheduler; a failing and a hung job; the action
//! cache on a relink, after an edit and with a damaged entry.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{THIN_EXPECTED as EXPECTED, THIN_SOURCES as SOURCES};

/// A program of the virtual environment `ci/setup.sh` makes.
fn venv(program: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv-dask/bin")
        .join(program);
    assert!(
        path.exists(),
        "{} is missing: run ./ci/setup.sh",
        path.display()
    );
    path
}

fn distributor() -> String {
    venv("lto-engine-dask").display().to_string()
}

/// A scheduler and `workers` worker processes on 127.0.0.1 (no nanny: a
/// killed worker stays dead), killed when dropped. Worker `k` works in
/// `root/worker-k`, keeps its action cache in `root/worker-k-cache`, and
/// has `LTO_TEST_WORKER_DIR` and `extra_env` in its environment.
struct Cluster {
    address: String,
    scheduler: Child,
    workers: Vec<Child>,
    root: PathBuf,
}

impl Cluster {
    fn start(root: &Path, workers: usize, extra_env: &[(&str, &Path)]) -> Cluster {
        let file = root.join("scheduler.json");
        let scheduler = Command::new(venv("dask"))
            .args(["scheduler", "--host", "127.0.0.1", "--port", "0"])
            // Gone by itself should a test die without dropping it.
            .args([
                "--idle-timeout",
                "300",
                "--no-dashboard",
                "--scheduler-file",
            ])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(root.join("scheduler.log")).unwrap())
            .spawn()
            .expect("dask scheduler");
        let mut cluster = Cluster {
            address: String::new(),
            scheduler,
            workers: Vec::new(),
            root: root.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !file.exists() || read_json(&file)["address"].as_str().is_none() {
            assert!(Instant::now() < deadline, "the scheduler did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster.address = read_json(&file)["address"].as_str().unwrap().to_string();
        for k in 0..workers {
            let dir = cluster.worker_dir(k);
            std::fs::create_dir_all(&dir).unwrap();
            let mut command = Command::new(venv("dask"));
            command
                .args(["worker", "--nthreads", "1", "--no-nanny", "--no-dashboard"])
                .args(["--death-timeout", "60"])
                .arg("--local-directory")
                .arg(&dir)
                .arg(&cluster.address)
                .env("LTO_ENGINE_DASK_CACHE", cluster.cache_dir(k))
                .env("LTO_TEST_WORKER_DIR", &dir)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(root.join(format!("worker-{k}.log"))).unwrap());
            for (name, value) in extra_env {
                command.env(name, value);
            }
            cluster.workers.push(command.spawn().expect("dask worker"));
        }
        for k in 0..workers {
            let log = root.join(format!("worker-{k}.log"));
            while !std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("Registered to")
            {
                assert!(Instant::now() < deadline, "worker {k} did not register");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        cluster
    }

    fn worker_dir(&self, k: usize) -> PathBuf {
        self.root.join(format!("worker-{k}"))
    }

    fn cache_dir(&self, k: usize) -> PathBuf {
        self.root.join(format!("worker-{k}-cache"))
    }

    /// clang-22's ThinLTO link of `inputs` in `root`, its backends given
    /// to this cluster by the distributor (lld's DTLTO).
    fn dtlto_link(&self, root: &Path, inputs: &[String]) -> Command {
        let mut command = clang_in(root);
        command
            .args(["-flto=thin", "-fuse-ld=lld", "-O2"])
            .args(inputs)
            .arg(format!("-Wl,--thinlto-distributor={}", distributor()))
            .arg(format!(
                "-Wl,--thinlto-distributor-arg={}",
                self.scheduler_arg()
            ));
        command
    }

    fn scheduler_arg(&self) -> String {
        format!("--scheduler={}", self.address)
    }

    /// Every action-cache entry of every worker.
    fn entries(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for k in 0..self.workers.len() {
            let actions = self.cache_dir(k).join("actions");
            for shard in std::fs::read_dir(&actions).into_iter().flatten() {
                for entry in std::fs::read_dir(shard.unwrap().path()).unwrap() {
                    found.push(entry.unwrap().path());
                }
            }
        }
        found.sort();
        found
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.workers.iter_mut().chain([&mut self.scheduler]) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `lto-engine index` of the thin program into `root/idx`, its jobs run by
/// the distributor with `args`; the linked program.
fn index_and_link(root: &Path, modules: &[String], dist_args: &[String], name: &str) -> PathBuf {
    index_and_link_with(root, modules, dist_args, name, &[])
}

/// [`index_and_link`], the final link also given `libs`.
fn index_and_link_with(
    root: &Path,
    modules: &[String],
    dist_args: &[String],
    name: &str,
    libs: &[&str],
) -> PathBuf {
    let mut command = engine();
    command
        .current_dir(root)
        .arg("index")
        .args(modules)
        .args(["--index-dir", "idx", "--export", "main", "--distributor"])
        .arg(distributor());
    for arg in dist_args {
        command.arg(format!("--distributor-arg={arg}"));
    }
    run_ok(&mut command);
    let program = root.join(name);
    run_ok(
        clang_in(root)
            .args(["-fuse-ld=lld", "@idx/link.rsp"])
            .args(libs)
            .arg("-o")
            .arg(&program),
    );
    program
}

/// The distributor's `--stats` file.
fn stats(path: &Path) -> serde_json::Value {
    read_json(path)
}

/// A shell script `dir/name` (made executable).
fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = write_file(dir, name, text);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// What a failing command printed on stderr, and how long it took.
fn failure(command: &mut Command) -> (String, Duration) {
    let start = Instant::now();
    let out = command.output().unwrap();
    let took = start.elapsed();
    assert!(!out.status.success(), "{command:?} succeeded");
    (String::from_utf8_lossy(&out.stderr).to_string(), took)
}

/// The distributor's own error line (a linker prints its own after it).
fn distributor_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("lto-engine-dask: "))
        .collect();
    assert_eq!(lines.len(), 1, "one line from the distributor:\n{stderr}");
    lines[0].to_string()
}

#[test]
fn lua_prints_its_output_through_each_way_in() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let modules = compile_lua(root);
    let cluster = Cluster::start(root, 2, &[]);
    let scheduler = cluster.scheduler_arg();
    let lld_link = |name: &str, extra: &[String]| {
        let program = root.join(name);
        run_ok(
            clang_in(root)
                .args(["-flto=thin", "-fuse-ld=lld", "-O2"])
                .args(&modules)
                .args(["-lm", "-ldl"])
                .args(extra)
                .arg("-o")
                .arg(&program),
        );
        run_program(&program)
    };
    // The reference: lld's own in-process ThinLTO.
    let expected = lld_link("lua-lld", &[]);
    assert!(expected.starts_with("fib=196418 "), "{expected}");
    let dist = |stats: &str| {
        vec![
            format!("-Wl,--thinlto-distributor={}", distributor()),
            format!("-Wl,--thinlto-distributor-arg={scheduler}"),
            format!("-Wl,--thinlto-distributor-arg=--stats={stats}"),
        ]
    };
    // 1. ld.lld-22's DTLTO, with clang-22 and with the engine as the
    //    remote compiler.
    for (name, compiler) in [
        ("clang", which("clang-22")),
        ("engine", env!("CARGO_BIN_EXE_lto-engine").to_string()),
    ] {
        let stats_file = root.join(format!("lld-{name}.json"));
        let mut extra = dist(&stats_file.display().to_string());
        extra.push(format!("-Wl,--thinlto-remote-compiler={compiler}"));
        let printed = lld_link(&format!("lua-lld-{name}"), &extra);
        assert_eq!(printed, expected, "ld.lld-22 with {name} jobs");
        let stats = stats(&stats_file);
        assert_eq!(stats["jobs"], modules.len(), "{stats}");
        assert!(stats["shipped_bytes"].as_u64().unwrap() > 0, "{stats}");
    }
    // 2. `lto-engine index --distributor`.
    let program = index_and_link_with(
        root,
        &modules,
        &[
            scheduler.clone(),
            format!("--stats={}", root.join("index.json").display()),
        ],
        "lua-index",
        &["-lm", "-ldl"],
    );
    assert_eq!(run_program(&program), expected, "lto-engine index");
    assert_eq!(stats(&root.join("index.json"))["jobs"], modules.len());
    // 3. `lto-engine ld --thinlto-distributor`, the engine as clang's ld.lld.
    let stats_file = root.join("ld.json");
    let mut extra = dist(&stats_file.display().to_string());
    extra.push(ld_path_arg(root));
    let printed = lld_link("lua-engine-ld", &extra);
    assert_eq!(printed, expected, "lto-engine ld");
    assert_eq!(stats(&stats_file)["jobs"], modules.len());
}

fn which(program: &str) -> String {
    let out = run_ok(Command::new("sh").args(["-c", &format!("command -v {program}")]));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The remote compiler of the path test: clang-22, after checking that
/// every path on its command line (`-o F`, `F`, `-opt=F`) is inside the
/// directory of the worker it runs on.
const PATH_CHECKER: &str = r#"#!/bin/sh
[ "$1" = --version ] && exec clang-22 --version
for arg in "$@"; do
    case "$arg" in
        -*=*) path=${arg#*=} ;;
        -*) continue ;;
        *) path=$arg ;;
    esac
    case "$path" in */*|*.o|*.bc) ;; *) continue ;; esac
    real=$(realpath -m -- "$path")
    case "$real" in
        "${LTO_TEST_WORKER_DIR:-/nonexistent}"/*) ;;
        *) echo "error: $path is outside the worker's directory ($real)" >&2; exit 1 ;;
    esac
done
exec clang-22 "$@"
"#;

#[test]
fn no_job_reads_the_submitting_machine_s_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let modules = compile_thin_program(root);
    let checker = script(root, "check-paths", PATH_CHECKER);
    let cluster = Cluster::start(root, 2, &[]);
    // lld's jobs through the checker, on the cluster: every path is inside
    // the job's directory on its worker.
    let program = root.join("prog");
    run_ok(
        cluster
            .dtlto_link(root, &modules)
            .arg(format!(
                "-Wl,--thinlto-remote-compiler={}",
                checker.display()
            ))
            .arg("-o")
            .arg(&program),
    );
    assert_eq!(run_program(&program), EXPECTED);
    // The control: the same jobs run in place (LLVM's local.py way) read
    // this machine's files, and the checker catches it.
    let local = write_file(
        root,
        "local.py",
        "import json, subprocess, sys\n\
         spec = json.load(open(sys.argv[-1]))\n\
         sys.exit(max(subprocess.call(spec['common']['args'] + j['args']) for j in spec['jobs']))\n",
    );
    let out = clang_in(root)
        .env("LTO_TEST_WORKER_DIR", root.join("worker-0"))
        .args(["-flto=thin", "-fuse-ld=lld", "-O2"])
        .args(&modules)
        .arg("-Wl,--thinlto-distributor=/usr/bin/python3")
        .arg(format!("-Wl,--thinlto-distributor-arg={}", local.display()))
        .arg(format!(
            "-Wl,--thinlto-remote-compiler={}",
            checker.display()
        ))
        .arg("-o")
        .arg(root.join("prog-local"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is outside the worker's directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Modules named by absolute paths, which lld records in the index
    // files as they are: refused with the reason, not run on this
    // machine's files.
    let absolute: Vec<String> = modules
        .iter()
        .map(|m| root.join(m).display().to_string())
        .collect();
    let (stderr, _) = failure(
        cluster
            .dtlto_link(root, &absolute)
            .arg("-o")
            .arg(root.join("prog-abs")),
    );
    let line = distributor_line(&stderr);
    assert!(line.contains("is named by an absolute path"), "{line}");
    // `lto-engine ld` names them relative to the working directory: the
    // same absolute command line links through the engine.
    let program = root.join("prog-engine");
    run_ok(
        cluster
            .dtlto_link(root, &absolute)
            .arg(ld_path_arg(root))
            .arg(format!(
                "-Wl,--thinlto-remote-compiler={}",
                checker.display()
            ))
            .arg("-o")
            .arg(&program),
    );
    assert_eq!(run_program(&program), EXPECTED);
}

#[test]
fn a_relink_ships_and_compiles_nothing_and_a_changed_module_runs_again() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let modules = compile_thin_program(root);
    let cluster = Cluster::start(root, 2, &[]);
    let stats_arg = |name: &str| format!("--stats={}", root.join(name).display());
    let cold = index_and_link(
        root,
        &modules,
        &[cluster.scheduler_arg(), stats_arg("cold.json")],
        "cold",
    );
    assert_eq!(run_program(&cold), EXPECTED);
    let first = stats(&root.join("cold.json"));
    assert_eq!(first["cache_hits"], 0, "{first}");
    assert!(first["shipped_bytes"].as_u64().unwrap() > 0);
    let objects = |dir: &str| -> Vec<Vec<u8>> {
        let mut files = files_named(&root.join(dir), |n| n.ends_with(".lto.o"));
        files.sort();
        files.iter().map(|f| std::fs::read(f).unwrap()).collect()
    };
    let cold_objects = objects("idx");
    assert_eq!(cold_objects.len(), SOURCES.len());
    // Warm: every job from the cache, nothing shipped, the same objects.
    let warm = index_and_link(
        root,
        &modules,
        &[cluster.scheduler_arg(), stats_arg("warm.json")],
        "warm",
    );
    assert_eq!(run_program(&warm), EXPECTED);
    let second = stats(&root.join("warm.json"));
    assert_eq!(second["cache_hits"], SOURCES.len(), "{second}");
    assert_eq!(second["shipped_bytes"], 0, "{second}");
    assert_eq!(objects("idx"), cold_objects);
    // `lto-engine ld` names its files the same way on every link (no
    // process id in them): its relink hits every job too.
    let ld_link = |name: &str| {
        let stats_file = root.join(format!("{name}.json"));
        let program = root.join("ld-prog");
        run_ok(
            cluster
                .dtlto_link(root, &modules)
                .arg(ld_path_arg(root))
                .arg(format!(
                    "-Wl,--thinlto-distributor-arg=--stats={}",
                    stats_file.display()
                ))
                .arg("-o")
                .arg(&program),
        );
        assert_eq!(run_program(&program), EXPECTED);
        assert!(!root.join("ld-prog.lto-engine-dtlto").exists());
        stats(&stats_file)
    };
    assert_eq!(ld_link("ld-cold")["cache_hits"], 0);
    let warm_ld = ld_link("ld-warm");
    assert_eq!(warm_ld["cache_hits"], SOURCES.len(), "{warm_ld}");
    assert_eq!(warm_ld["shipped_bytes"], 0, "{warm_ld}");
    for entry in cluster.entries() {
        std::fs::remove_file(entry).unwrap();
    }
    let _ = index_and_link(
        root,
        &modules,
        &[cluster.scheduler_arg(), stats_arg("refill.json")],
        "refill",
    );
    // A damaged entry is a miss, rebuilt, never used.
    let entries = cluster.entries();
    assert_eq!(entries.len(), SOURCES.len(), "{entries:?}");
    let damaged = &entries[0];
    let bytes = std::fs::read(damaged).unwrap();
    std::fs::write(damaged, &bytes[..bytes.len() / 2]).unwrap();
    let again = index_and_link(
        root,
        &modules,
        &[cluster.scheduler_arg(), stats_arg("damaged.json")],
        "again",
    );
    assert_eq!(run_program(&again), EXPECTED);
    let third = stats(&root.join("damaged.json"));
    assert_eq!(third["cache_hits"], SOURCES.len() - 1, "{third}");
    assert_eq!(objects("idx"), cold_objects);
    // Rebuilt, on whichever worker ran the job again.
    let rebuilt = cluster.entries();
    assert_eq!(rebuilt.len(), SOURCES.len(), "{rebuilt:?}");
    assert!(
        rebuilt.iter().any(|e| std::fs::read(e).unwrap() == bytes),
        "the damaged entry is rebuilt"
    );
    // An edit: the changed module's job misses (a stale object would be a
    // wrong program), and the program prints the edited value.
    let hot = std::fs::read_to_string(data("thin/hot.c")).unwrap();
    let edited = hot.replacen("{5, 7, 11, 13}", "{5, 8, 11, 13}", 1);
    assert_ne!(hot, edited, "the edit must change hot.c");
    let src = write_file(root, "hot.c", &edited);
    let include = format!("-I{}", data("thin").display());
    compile_c(&root.join("thin"), &src, &["-O2", "-flto=thin", &include]);
    let after = index_and_link(
        root,
        &modules,
        &[cluster.scheduler_arg(), stats_arg("edit.json")],
        "edited",
    );
    let fourth = stats(&root.join("edit.json"));
    let hot_job = fourth["per_job"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["module"] == "thin/hot.o")
        .unwrap()
        .clone();
    assert_eq!(hot_job["cache"], "miss", "{fourth}");
    assert!(fourth["shipped_bytes"].as_u64().unwrap() > 0);
    // A cold run of the edited program, without the cache, agrees.
    let reference = index_and_link(
        root,
        &modules,
        &[cluster.scheduler_arg(), "--no-cache".to_string()],
        "reference",
    );
    assert_eq!(run_program(&after), run_program(&reference));
    assert_ne!(run_program(&after), EXPECTED, "the edit changes the output");
}

/// The remote compiler of the worker-loss test: the first job it gets
/// kills the worker running it (`$PPID`, as the worker has no nanny);
/// every later one is clang-22.
const KILL_ONCE: &str = r#"#!/bin/sh
[ "$1" = --version ] && exec clang-22 --version
if mkdir "$LTO_TEST_KILL_MARK" 2>/dev/null; then
    kill -9 "$PPID"
    exit 1
fi
exec clang-22 "$@"
"#;

#[test]
fn a_job_whose_worker_is_killed_runs_again_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let modules = compile_thin_program(root);
    let killer = script(root, "kill-once", KILL_ONCE);
    let mark = root.join("killed");
    let mut cluster = Cluster::start(root, 2, &[("LTO_TEST_KILL_MARK", &mark)]);
    let program = root.join("prog");
    let stats_file = root.join("stats.json");
    run_ok(
        cluster
            .dtlto_link(root, &modules)
            .arg(format!(
                "-Wl,--thinlto-distributor-arg=--stats={}",
                stats_file.display()
            ))
            .arg(format!(
                "-Wl,--thinlto-remote-compiler={}",
                killer.display()
            ))
            .arg("-o")
            .arg(&program),
    );
    assert_eq!(run_program(&program), EXPECTED);
    assert!(mark.exists(), "no job killed its worker");
    let mut dead = 0;
    for worker in cluster.workers.iter_mut() {
        if worker.try_wait().unwrap().is_some() {
            dead += 1;
        }
    }
    assert_eq!(dead, 1, "one worker died");
    let stats = stats(&stats_file);
    assert_eq!(stats["jobs"], SOURCES.len());
}

#[test]
fn failures_are_one_line_a_failing_job_a_hung_job_an_unreachable_scheduler() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let modules = compile_thin_program(root);
    // The jobs, written but not run.
    run_ok(
        engine()
            .current_dir(root)
            .arg("index")
            .args(&modules)
            .args(["--index-dir", "idx", "--export", "main"])
            .args(["--distributor-json", "idx/jobs.json"])
            .args(["--remote-compiler", "clang-22"]),
    );
    // Nothing listens on a port just given back.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (stderr, took) = failure(
        Command::new(distributor())
            .current_dir(root)
            .arg(format!("--scheduler=tcp://127.0.0.1:{port}"))
            .arg("idx/jobs.json"),
    );
    let line = distributor_line(&stderr);
    assert!(
        line.starts_with("lto-engine-dask: error: cannot reach the scheduler at tcp://127.0.0.1:"),
        "{line}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    let cluster = Cluster::start(root, 2, &[]);
    // A module damaged after the thin link: its job fails on the worker,
    // and the line names the module and the compiler's message.
    let weak = root.join("thin/weak.o");
    let good = std::fs::read(&weak).unwrap();
    std::fs::write(&weak, &good[..good.len() / 3]).unwrap();
    let (stderr, _) = failure(
        Command::new(distributor())
            .current_dir(root)
            .arg(cluster.scheduler_arg())
            .arg("idx/jobs.json"),
    );
    let line = distributor_line(&stderr);
    assert!(
        line.starts_with(
            "lto-engine-dask: error: job for thin/weak.o failed on worker tcp://127.0.0.1:"
        ),
        "{line}"
    );
    assert!(line.contains("clang-22 failed (exit status 1)"), "{line}");
    std::fs::write(&weak, &good).unwrap();
    // A hung job: the time limit, then the same kind of line.
    let hang = script(
        root,
        "clang-22",
        "#!/bin/sh\n[ \"$1\" = --version ] && exit 0\nexec sleep 60\n",
    );
    let mut jobs = read_json(root.join("idx/jobs.json"));
    jobs["common"]["args"][0] = hang.display().to_string().into();
    std::fs::write(root.join("idx/hang.json"), jobs.to_string()).unwrap();
    let (stderr, took) = failure(
        Command::new(distributor())
            .current_dir(root)
            .arg(cluster.scheduler_arg())
            .args(["--job-timeout", "2", "--no-cache"])
            .arg("idx/hang.json"),
    );
    let line = distributor_line(&stderr);
    assert!(line.contains("failed on worker"), "{line}");
    assert!(line.ends_with("timed out after 2 s"), "{line}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    // No object was left half-written, and none was written at all.
    assert!(files_named(&root.join("idx"), |n| n.ends_with(".lto.o")).is_empty());
}
