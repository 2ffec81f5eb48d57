//! A mutation fuzzer for `bench/fuzz.sh`: mutated inputs must never take
//! the process down. Two modes:
//!
//! ```sh
//! # In process: classify mutated inputs through the public API.
//! cargo run --release --example fuzz -- classify --iterations 1000000 --seed 1 \
//!     [--kind thin|fat] [--engine PATH] [--work DIR] [--out DIR] [--start I | --only I] SEED_FILE...
//! # Out of process: mutate one input of a program, run the CLI on it.
//! cargo run --release --example fuzz -- cli --runs 2500 --seed 1 --engine target/release/lto-engine \
//!     [--timeout SECS] [--out DIR] [--only R] A.o B.o C.o [-- D.o E.o F.o]...
//! ```
//!
//! `classify` takes one seed per iteration, mutates it, writes it to one
//! path in a work directory (`input`, beside `current`: the iteration and
//! the counts so far, for a crash that ends the process) and adds it to a
//! fresh session with `Input::path(p).options(..)` (embedded bitcode and
//! fat LTO objects each on or off). It must never panic or abort; it
//! prints one line with the outcomes (accepted, errors by variant and
//! phase, panics) and the rate.
//!
//! A fat session (`--kind fat`) does nothing in the background: `add`
//! classifies, and that is all that is fuzzed. A thin session (`--kind
//! thin`, the default) also starts loading each bitcode module on its
//! threads as soon as it is added (LLVM reads the module list and LTO
//! info, and computes a summary for bitcode without one): after an `add`
//! that found modules, the loop waits for that (see `wait_for_loading`)
//! and counts its outcome apart (`load: ...`). In process, a crash of
//! LLVM's reader there ends the fuzzer, as it would any host;
//! `--engine PATH` loads in `PATH worker` processes
//! (`Isolation::Workers`), where it must be contained.
//!
//! `cli` runs the CLI on a small multi-file program with one file mutated
//! per run, alternating `thin ... -o DIR` and `fat ... -o OUT.o` (and the
//! programs given, separated by `--`: say one compiled with
//! `-flto=thin`, one with `-flto=full`), each under a timeout, and sorts
//! the outcomes: `accepted`, `clean error` (exit 1, one
//! `lto-engine: error: ` line), `contained crash` (the same, reporting a
//! crashed or timed-out worker) and `uncontained` (anything else: a
//! signal, another exit code, a panic, `LLVM ERROR`, extra stderr lines,
//! the timeout). Each uncontained case is saved under `--out` with its
//! inputs, stderr and a `cmd.sh` that reruns it; the workers' reproducers
//! go to `--out`/reproducers. Exits 1 if any run was uncontained.
//!
//! Every iteration and run draws from its own generator, seeded by
//! `(--seed, index)`, so `--only I` replays one of them alone.

use lto_engine::{Config, Error, Input, InputOptions, Isolation, Jobs, LtoKind, Session, Workers};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error>;

/// xorshift64*: small, fast and good enough to pick mutations; no
/// dependency, and its state is one `u64` that `(seed, index)` fixes.
struct Rng(u64);

impl Rng {
    /// The generator of iteration `index` under `seed`: splitmix64 of the
    /// two, so neighbouring indices get unrelated streams.
    fn new(seed: u64, index: u64) -> Self {
        let mut z = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(index)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(z.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `1/n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.next() % n == 0
    }
}

/// Values that make size and offset fields overflow, point past the end
/// or wrap: where a parser's bounds checks matter.
const INTERESTING: [u64; 10] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
];

/// A position in `data` (non-empty), half the time near either end: object
/// headers are at the start, ELF section headers at the end, and uniform
/// positions in a large file rarely hit either.
fn position(rng: &mut Rng, len: usize) -> usize {
    match rng.below(4) {
        0 => rng.below(len.min(512)),
        1 => len - 1 - rng.below(len.min(512)),
        _ => rng.below(len),
    }
}

/// Mutates `seed` into `out`: 1 to 4 stacked edits (bit flips, byte
/// changes, interesting integers, random chunks, zeroed runs, duplicated
/// slices, truncation). Half the time the first 4 bytes are restored, so
/// that the input still classifies as what it was and the mutation reaches
/// the reader behind the magic.
fn mutate(rng: &mut Rng, seed: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(seed);
    for _ in 0..1 + rng.below(4) {
        if out.is_empty() {
            break;
        }
        let len = out.len();
        match rng.below(8) {
            0 => {
                for _ in 0..1 + rng.below(8) {
                    let at = position(rng, len);
                    out[at] ^= 1 << rng.below(8);
                }
            }
            1 => {
                let at = position(rng, len);
                out[at] = match rng.below(3) {
                    0 => INTERESTING[rng.below(5)] as u8,
                    1 => out[at].wrapping_add(1 + rng.below(254) as u8),
                    _ => rng.next() as u8,
                };
            }
            2 => {
                let value = INTERESTING[rng.below(INTERESTING.len())];
                let width = [2, 4, 8][rng.below(3)];
                let at = position(rng, len);
                let bytes = value.to_le_bytes();
                let end = (at + width).min(len);
                out[at..end].copy_from_slice(&bytes[..end - at]);
            }
            3 => {
                let at = position(rng, len);
                let end = (at + 1 + rng.below(64)).min(len);
                for byte in &mut out[at..end] {
                    *byte = rng.next() as u8;
                }
            }
            4 => {
                let at = position(rng, len);
                let end = (at + 1 + rng.below(256)).min(len);
                out[at..end].fill(0);
            }
            5 => {
                let from = rng.below(len);
                let end = (from + 1 + rng.below(1024)).min(len);
                let slice = out[from..end].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, slice);
            }
            6 => out.truncate(rng.below(len)),
            _ => {
                // Cut a piece out: shifts everything after it, as a lost
                // write would.
                let at = rng.below(len);
                let end = (at + 1 + rng.below(256)).min(len);
                out.drain(at..end);
            }
        }
    }
    if rng.one_in(2) && seed.len() >= 4 {
        if out.len() < 4 {
            out.resize(4, 0);
        }
        out[..4].copy_from_slice(&seed[..4]);
    }
}

/// The error's variant and phase, as a counter key: `invalid-parse`,
/// `io-read`, `duplicate`.
fn error_key(error: &Error) -> String {
    let key = match error {
        Error::Io { phase, .. } => format!("io-{phase}"),
        Error::InvalidInput { phase, .. } => format!("invalid-{phase}"),
        Error::Llvm { phase, .. } => format!("llvm-{phase}"),
        Error::DuplicateInput { .. } => "duplicate".to_string(),
        Error::Link { .. } => "link".to_string(),
        Error::Crashed { phase, .. } => format!("crashed-{phase}"),
        Error::TimedOut { phase, .. } => format!("timed-out-{phase}"),
        Error::Config(_) => "config".to_string(),
        Error::Usage(_) => "usage".to_string(),
        _ => "other".to_string(),
    };
    key.replace(' ', "-")
}

/// The name of the module that makes [`wait_for_loading`]'s run fail: it
/// sorts after any path, so the run reports the fuzzed input's failure
/// first when it has one.
const BARRIER: &str = "~barrier";

/// Waits for the background loading a thin session started for the
/// modules `add` found, and returns its outcome: `None` when they all
/// loaded, else the first failure.
///
/// The API's one way to wait for that work is [`Session::run`], which waits
/// for it, fails if a module failed to load, and otherwise runs LTO. A
/// module that cannot load (the bitcode magic and nothing else) is added
/// before the run, so the run always fails right after the wait and never
/// reaches LTO: classification stays cheap, and the background work of one
/// iteration cannot pile up under the next.
fn wait_for_loading(session: &Session) -> Option<Error> {
    if let Err(error) = session.add(Input::bitcode(BARRIER, b"BC\xC0\xDE".to_vec())) {
        return Some(error);
    }
    match session.run() {
        Ok(_) => Some(Error::Usage(
            "the barrier module loaded: the run went on to LTO".to_string(),
        )),
        Err(Error::InvalidInput { input, .. }) if input == BARRIER => None,
        Err(error) => Some(error),
    }
}

struct ClassifyArgs {
    iterations: u64,
    seed: u64,
    kind: LtoKind,
    workers: Option<PathBuf>,
    work: Option<PathBuf>,
    out: Option<PathBuf>,
    start: u64,
    seeds: Vec<PathBuf>,
}

/// Counters of one classify run.
#[derive(Default)]
struct Tally {
    iterations: u64,
    accepted: u64,
    errors: BTreeMap<String, u64>,
    panics: u64,
    loaded: u64,
    load_errors: BTreeMap<String, u64>,
}

impl Tally {
    /// The counts as one line: `classify: iterations=.. accepted=.. errors=..
    /// (by kind) panics=.. [| load: ok=.. failed=.. (by kind)] | secs, rate`.
    fn line(&self, kind: LtoKind, secs: f64) -> String {
        let errors: u64 = self.errors.values().sum();
        let load = if kind == LtoKind::Fat {
            String::new()
        } else {
            let failed: u64 = self.load_errors.values().sum();
            format!(
                " | load: ok={} failed={failed} ({})",
                self.loaded,
                join_counts(&self.load_errors)
            )
        };
        format!(
            "classify: iterations={} accepted={} errors={errors} ({}) panics={}{load} | \
             {secs:.1} s, {:.0} iterations/s",
            self.iterations,
            self.accepted,
            join_counts(&self.errors),
            self.panics,
            self.iterations as f64 / secs.max(1e-9)
        )
    }
}

fn join_counts(counts: &BTreeMap<String, u64>) -> String {
    counts
        .iter()
        .map(|(key, n)| format!("{key}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn classify(args: ClassifyArgs) -> Result<ExitCode, BoxError> {
    let seeds: Vec<Vec<u8>> = args
        .seeds
        .iter()
        .map(|path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display())))
        .collect::<Result<_, _>>()?;
    let temp;
    let work = match &args.work {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            // Memory-backed when the system has it: a disk file system
            // turns a million rewrites of the input into journal I/O.
            let shm = Path::new("/dev/shm");
            temp = if shm.is_dir() {
                tempfile::tempdir_in(shm)?
            } else {
                tempfile::tempdir()?
            };
            temp.path().to_path_buf()
        }
    };
    // The default configuration but for one loading thread: a session
    // starts its thread pool when it is made, and threads started (and the
    // cores counted) once per iteration would cost more than classifying.
    // One input at a time needs no more.
    let mut builder = Config::builder().jobs(Jobs::Fixed(1));
    if let Some(engine) = &args.workers {
        // Crashes of loading become errors; their reproducers go with the
        // fuzzer's output rather than into the system's temp directory.
        let reproducers = args.out.as_ref().unwrap_or(&work).join("reproducers");
        builder = builder.isolation(Isolation::Workers(
            Workers::lto_engine(engine)
                .module_timeout(Duration::from_secs(60))
                .reproducer_dir(reproducers),
        ));
    }
    let config = builder.build()?;
    // One path for every iteration, rewritten in place. A session maps its
    // input files, and truncating a mapped file would make a reader fault;
    // but each iteration's session, and any loading it started, is over
    // before the next write.
    let path = work.join("input");
    let mut tally = Tally::default();
    let mut bytes = Vec::new();
    // What the iteration under way is, and the counts before it, beside its
    // input: a crash takes the process down before it can say, and these
    // two files are then the reproducer (`--start` resumes after it).
    let current = work.join("current");
    let start = Instant::now();
    for i in args.start..args.start + args.iterations {
        let mut rng = Rng::new(args.seed, i);
        let seed = rng.below(seeds.len());
        mutate(&mut rng, &seeds[seed], &mut bytes);
        let options = InputOptions {
            embedded_bitcode: rng.one_in(2),
            fat_lto_objects: rng.one_in(2),
        };
        std::fs::write(&path, &bytes)?;
        std::fs::write(
            &current,
            format!(
                "iteration={i} seed={} kind={} seed_file={} embedded_bitcode={} fat_lto_objects={}\n{}\n",
                args.seed,
                if args.kind == LtoKind::Fat { "fat" } else { "thin" },
                args.seeds[seed].display(),
                options.embedded_bitcode,
                options.fat_lto_objects,
                tally.line(args.kind, start.elapsed().as_secs_f64())
            ),
        )?;
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let session = Session::new(config.clone(), args.kind)?;
            let added = session.add(Input::path(&path).options(options))?;
            let load = if args.kind != LtoKind::Fat && !added.modules.is_empty() {
                Some(wait_for_loading(&session))
            } else {
                None
            };
            Ok::<_, Error>(load)
        }));
        tally.iterations += 1;
        match outcome {
            Ok(Ok(load)) => {
                tally.accepted += 1;
                match load {
                    Some(None) => tally.loaded += 1,
                    Some(Some(error)) => {
                        *tally.load_errors.entry(error_key(&error)).or_default() += 1
                    }
                    None => {}
                }
            }
            Ok(Err(error)) => *tally.errors.entry(error_key(&error)).or_default() += 1,
            Err(_) => {
                tally.panics += 1;
                if let Some(out) = &args.out {
                    std::fs::create_dir_all(out)?;
                    let saved = out.join(format!(
                        "panic-seed{}-iter{i}-{}",
                        args.seed,
                        args.seeds[seed]
                            .file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                    ));
                    std::fs::write(&saved, &bytes)?;
                    eprintln!(
                        "fuzz: panic at iteration {i}: input saved as {}",
                        saved.display()
                    );
                }
            }
        }
    }
    println!("{}", tally.line(args.kind, start.elapsed().as_secs_f64()));
    Ok(if tally.panics > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

struct CliArgs {
    runs: u64,
    seed: u64,
    engine: PathBuf,
    timeout: Duration,
    out: PathBuf,
    only: Option<u64>,
    programs: Vec<Vec<PathBuf>>,
}

/// How one CLI run ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Accepted,
    CleanError,
    ContainedCrash,
    /// What gave it away: a signal, an exit code, a panic, extra lines.
    Uncontained(String),
}

/// Sorts a finished run by its exit status and stderr (`None`: killed at
/// the timeout). Warnings may accompany any outcome; a success may print
/// its summary; a failure prints exactly one error line.
fn classify_run(status: Option<ExitStatus>, stderr: &str) -> Class {
    let Some(status) = status else {
        return Class::Uncontained("hang: killed at the timeout".to_string());
    };
    if let Some(signal) = status.signal() {
        return Class::Uncontained(format!("signal {signal}"));
    }
    // The engine's error and warning lines may quote LLVM (a crashed
    // worker's `LLVM ERROR: out of memory`): only text the engine did not
    // write this way gives a panic or an abort away.
    let foreign = stderr.lines().filter(|line| {
        !line.starts_with("lto-engine: error: ") && !line.starts_with("lto-engine: warning: ")
    });
    for line in foreign {
        for (text, what) in [
            ("panicked", "panic"),
            ("LLVM ERROR", "LLVM ERROR"),
            ("LLVM fatal error", "LLVM fatal error"),
            ("Stack dump", "LLVM stack dump"),
        ] {
            if line.contains(text) {
                return Class::Uncontained(what.to_string());
            }
        }
    }
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.starts_with("lto-engine: warning: "))
        .collect();
    match status.code() {
        Some(0) => Class::Accepted,
        Some(1) if lines.len() == 1 && lines[0].starts_with("lto-engine: error: ") => {
            if lines[0].contains("worker crashed") || lines[0].contains("timed out") {
                Class::ContainedCrash
            } else {
                Class::CleanError
            }
        }
        Some(1) => Class::Uncontained(format!("exit 1 with {} stderr lines", lines.len())),
        code => Class::Uncontained(format!("exit code {code:?}")),
    }
}

/// The phase an error line names: `<input>: <phase>: <reason>` -> phase.
fn error_phase(line: &str) -> String {
    const PHASES: [&str; 16] = [
        "read",
        "classify",
        "parse",
        "verify",
        "link",
        "restrict",
        "thin link",
        "rename",
        "resolve",
        "internalize",
        "import",
        "optimize",
        "codegen",
        "cache",
        "write",
        "distribute",
    ];
    let rest = line.trim_start_matches("lto-engine: error: ");
    rest.split(": ")
        .skip(1)
        .find(|part| PHASES.contains(part))
        .unwrap_or("other")
        .replace(' ', "-")
}

/// Runs `command` with its output in `dir`, killing it after `timeout`.
fn run_with_timeout(
    command: &mut Command,
    dir: &Path,
    timeout: Duration,
) -> Result<(Option<ExitStatus>, String), BoxError> {
    // Files, not pipes: a crash can print a long trace, and nothing reads a
    // pipe while the run is being waited for.
    let stdout = std::fs::File::create(dir.join("stdout.txt"))?;
    let stderr_path = dir.join("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path)?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() > timeout {
            child.kill().ok();
            child.wait()?;
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = String::from_utf8_lossy(&std::fs::read(&stderr_path)?).into_owned();
    Ok((status, stderr))
}

fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', "'\\''"))
}

/// One CLI run: the arguments and the files they name.
struct Run {
    args: Vec<String>,
    inputs: Vec<PathBuf>,
    output: PathBuf,
}

/// Saves an uncontained run under `case`: its inputs (the mutated one
/// among them), stderr, the reason, and the command with paths relative
/// to `case` (the output under `out/`), as `cmd.sh` and as `args.txt`
/// (the engine, then one argument a line, for a debugger).
fn save_case(
    case: &Path,
    engine: &Path,
    run: &Run,
    stderr: &str,
    reason: &str,
) -> Result<(), BoxError> {
    std::fs::create_dir_all(case.join("out"))?;
    let mut rerun = vec![engine.display().to_string()];
    for arg in &run.args {
        if *arg == run.output.display().to_string() {
            rerun.push(if run.args[0] == "thin" {
                "out".to_string()
            } else {
                "out/lto.o".to_string()
            });
            continue;
        }
        match run
            .inputs
            .iter()
            .find(|input| input.display().to_string() == *arg)
        {
            Some(input) => {
                let name = input.file_name().unwrap_or_default();
                std::fs::copy(input, case.join(name))?;
                rerun.push(name.to_string_lossy().into_owned());
            }
            None => rerun.push(arg.clone()),
        }
    }
    std::fs::write(case.join("stderr.txt"), stderr)?;
    std::fs::write(case.join("reason.txt"), format!("{reason}\n"))?;
    std::fs::write(case.join("args.txt"), rerun.join("\n") + "\n")?;
    let quoted: Vec<String> = rerun.iter().map(|arg| shell_quote(arg)).collect();
    std::fs::write(
        case.join("cmd.sh"),
        format!(
            "#!/bin/sh\n# {reason}\ncd \"$(dirname \"$0\")\" && exec {}\n",
            quoted.join(" ")
        ),
    )?;
    Ok(())
}

fn cli(args: CliArgs) -> Result<ExitCode, BoxError> {
    let seeds: Vec<Vec<(PathBuf, Vec<u8>)>> = args
        .programs
        .iter()
        .map(|program| {
            program
                .iter()
                .map(|path| {
                    let bytes =
                        std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                    Ok((std::path::absolute(path)?, bytes))
                })
                .collect::<Result<Vec<_>, BoxError>>()
        })
        .collect::<Result<_, _>>()?;
    let work = args.out.join("work");
    std::fs::create_dir_all(&work)?;
    // The CLI saves the inputs of each crashed worker under the temporary
    // directory: here, beside the cases, not in /tmp.
    let reproducers = std::path::absolute(args.out.join("reproducers"))?;
    std::fs::create_dir_all(&reproducers)?;
    // The engine's own limit on one module, under the harness's: a module
    // that hangs is the engine's to report (a contained timeout); the
    // harness's kill is for a run that hangs anywhere else.
    let module_timeout = (args.timeout / 2).as_secs().max(1).to_string();
    let mut counts: BTreeMap<Class, u64> = BTreeMap::new();
    let mut error_phases: BTreeMap<String, u64> = BTreeMap::new();
    let mut crash_phases: BTreeMap<String, u64> = BTreeMap::new();
    let mut bytes = Vec::new();
    let range = match args.only {
        Some(r) => r..r + 1,
        None => 0..args.runs,
    };
    let start = Instant::now();
    for r in range.clone() {
        let mut rng = Rng::new(args.seed, r);
        let thin = r % 2 == 0;
        let program = &seeds[(r / 2) as usize % seeds.len()];
        let victim = rng.below(program.len());
        let (victim_path, seed) = &program[victim];
        mutate(&mut rng, seed, &mut bytes);
        let mutated = work.join(victim_path.file_name().unwrap_or_default());
        std::fs::write(&mutated, &bytes)?;
        let inputs: Vec<PathBuf> = program
            .iter()
            .enumerate()
            .map(|(i, (path, _))| {
                if i == victim {
                    mutated.clone()
                } else {
                    path.clone()
                }
            })
            .collect();
        let mut cli_args = vec![if thin { "thin" } else { "fat" }.to_string()];
        cli_args.extend(inputs.iter().map(|p| p.display().to_string()));
        let output = if thin {
            work.join("out-thin")
        } else {
            work.join("out-fat.o")
        };
        cli_args.extend([
            "-o".to_string(),
            output.display().to_string(),
            "--export".to_string(),
            "main".to_string(),
            "--module-timeout".to_string(),
            module_timeout.clone(),
        ]);
        let (status, stderr) = run_with_timeout(
            Command::new(&args.engine)
                .args(&cli_args)
                .env("TMPDIR", &reproducers),
            &work,
            args.timeout,
        )?;
        let run = Run {
            args: cli_args,
            inputs,
            output,
        };
        let class = classify_run(status, &stderr);
        if matches!(class, Class::CleanError | Class::ContainedCrash) {
            let line = stderr
                .lines()
                .find(|l| l.starts_with("lto-engine: error: "))
                .unwrap_or("");
            let phases = if class == Class::CleanError {
                &mut error_phases
            } else {
                &mut crash_phases
            };
            *phases.entry(error_phase(line)).or_default() += 1;
        }
        if let Class::Uncontained(reason) = &class {
            let case = args.out.join("uncontained").join(format!(
                "run-{r:06}-{}-{}",
                run.args[0],
                victim_path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
            ));
            save_case(&case, &args.engine, &run, &stderr, reason)?;
            let first = stderr.lines().next().unwrap_or("(no stderr)");
            eprintln!(
                "fuzz: run {r}: uncontained ({reason}): {first}; saved in {}",
                case.display()
            );
        }
        *counts.entry(class).or_default() += 1;
        if args.only.is_none() && (r + 1) % 250 == 0 {
            eprintln!(
                "fuzz: {} runs, {:.0} s",
                r + 1,
                start.elapsed().as_secs_f64()
            );
        }
    }
    let count = |class: &Class| counts.get(class).copied().unwrap_or(0);
    let uncontained: u64 = counts
        .iter()
        .filter(|(class, _)| matches!(class, Class::Uncontained(_)))
        .map(|(_, n)| n)
        .sum();
    let reasons: BTreeMap<&str, u64> = counts
        .iter()
        .filter_map(|(class, n)| match class {
            Class::Uncontained(reason) => Some((reason.as_str(), *n)),
            _ => None,
        })
        .collect();
    let runs = range.end - range.start;
    println!(
        "cli: runs={runs} accepted={} clean_error={} ({}) contained_crash={} ({}) uncontained={uncontained}{} | {:.1} s, {:.2} runs/s",
        count(&Class::Accepted),
        count(&Class::CleanError),
        join_counts(&error_phases),
        count(&Class::ContainedCrash),
        join_counts(&crash_phases),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                reasons
                    .iter()
                    .map(|(reason, n)| format!("{reason}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        start.elapsed().as_secs_f64(),
        runs as f64 / start.elapsed().as_secs_f64().max(1e-9)
    );
    Ok(if uncontained > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

const USAGE: &str = "usage: fuzz classify --iterations N --seed S [--kind thin|fat] [--engine PATH] [--work DIR] \
                     [--out DIR] [--start I | --only I] SEED_FILE...\n       fuzz cli --runs N --seed S \
                     --engine PATH [--timeout SECS] [--out DIR] [--only R] FILE... [-- FILE...]...";

fn run() -> Result<ExitCode, BoxError> {
    let mut argv = std::env::args().skip(1);
    let mode = argv.next().ok_or(USAGE)?;
    let mut count = 1000;
    let mut seed = 1;
    let mut kind = LtoKind::Thin;
    let mut work = None;
    let mut out = None;
    let mut only = None;
    let mut start = 0;
    let mut engine = None;
    let mut timeout = Duration::from_secs(60);
    let mut programs = vec![Vec::new()];
    while let Some(arg) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--iterations" | "--runs" => count = value()?.parse()?,
            "--seed" => seed = value()?.parse()?,
            "--kind" => {
                kind = match value()?.as_str() {
                    "thin" => LtoKind::Thin,
                    "fat" => LtoKind::Fat,
                    other => return Err(format!("--kind {other}: thin or fat").into()),
                }
            }
            "--work" => work = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--only" => only = Some(value()?.parse()?),
            "--start" => start = value()?.parse()?,
            "--engine" => engine = Some(PathBuf::from(value()?)),
            "--timeout" => timeout = Duration::from_secs(value()?.parse()?),
            "--" => programs.push(Vec::new()),
            _ if arg.starts_with("--") => {
                return Err(format!("{arg}: unknown option\n{USAGE}").into())
            }
            _ => programs
                .last_mut()
                .unwrap_or(&mut Vec::new())
                .push(PathBuf::from(arg)),
        }
    }
    programs.retain(|program| !program.is_empty());
    if programs.is_empty() {
        return Err(USAGE.into());
    }
    match mode.as_str() {
        "classify" => classify(ClassifyArgs {
            seed,
            kind,
            workers: engine,
            work,
            out,
            start: only.unwrap_or(start),
            iterations: if only.is_some() { 1 } else { count },
            seeds: programs.concat(),
        }),
        "cli" => cli(CliArgs {
            runs: count,
            seed,
            engine: engine.ok_or(format!("cli needs --engine\n{USAGE}"))?,
            timeout,
            out: out.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("lto-engine-fuzz-{}", std::process::id()))
            }),
            only,
            programs,
        }),
        _ => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("fuzz: error: {error}");
            ExitCode::from(2)
        }
    }
}
