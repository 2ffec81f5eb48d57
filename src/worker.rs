//! Crash containment ([`Isolation::Workers`]): worker processes that parse,
//! verify and compile input bitcode, so that what LLVM cannot survive (a
//! SIGSEGV in the bitcode reader, `report_fatal_error`, a pass that never
//! ends) ends a worker, not the host.
//!
//! The host side is [`Pool`]: workers are started on demand, kept alive
//! across modules, and spoken to in JSON lines over their stdin and stdout;
//! bitcode, index slices and objects travel as files in a private
//! directory. The worker side is [`serve_worker`]. A step is one request:
//!
//! - `prepare`: take a module into the thin link's form (summary read, or
//!   computed after parsing and verifying), so that the host reads only
//!   summaries a worker has read without crashing;
//! - `check`: parse and verify every module of a bitcode file (fat LTO and
//!   modules compiled alone, before the host parses them);
//! - `backend`: a ThinLTO backend from an index slice, as distributed
//!   ThinLTO runs it (`lto-engine backend`).

use crate::config::{CodeModel, Config, EmitKind, Isolation, OptLevel, RelocModel, Workers};
use crate::error::{Error, Phase, Result};
use crate::input::{BitcodeInput, InputBytes, ModuleOrigin};
use crate::llvm::{self, Diagnostic};
use crate::report::Step;
use crate::thin::{self, BackendOutput, ThinModule};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The protocol's version: a worker of another version refuses the host
/// with one line (version 2: requests and answers tagged by serde).
const PROTOCOL: u64 = 3;

/// How many stderr lines of a worker are kept for a crash report.
const STDERR_LINES: usize = 20;

/// Worker processes of one session, and the directory their files go
/// through.
pub(crate) struct Pool {
    workers: Workers,
    /// The first line every worker gets: the configuration.
    hello: String,
    /// Workers waiting for a request.
    idle: Mutex<Vec<Process>>,
    dir: PrivateDir,
    /// Names files in `dir` uniquely.
    counter: AtomicUsize,
}

/// One running worker.
struct Process {
    child: Child,
    stdin: ChildStdin,
    /// Its stdout, line by line, read on a thread of its own so that a wait
    /// can time out.
    lines: Receiver<String>,
    /// The last lines it wrote to stderr.
    stderr: Arc<Mutex<VecDeque<String>>>,
}

/// A directory of the pool's own, removed with it.
struct PrivateDir(PathBuf);

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a request is about, for errors and reproducers.
pub(crate) struct Job<'a> {
    /// The module's name.
    pub input: &'a str,
    /// What the step is.
    pub phase: Phase,
    /// The files the step reads (saved as a reproducer on a crash).
    pub files: &'a [&'a Path],
}

impl Pool {
    /// The pool of `config`'s workers, or `None` when the configuration runs
    /// everything in process. Workers start on first use.
    pub(crate) fn for_config(config: &Config) -> Result<Option<Arc<Pool>>> {
        let Isolation::Workers(workers) = &config.isolation else {
            return Ok(None);
        };
        if config.stage_hook.is_some() {
            return Err(Error::Config(
                "a stage hook runs in the host's process: it cannot be combined with \
                 Isolation::Workers"
                    .to_string(),
            ));
        }
        let dir = std::env::temp_dir().join(format!(
            "lto-engine-{}-{}",
            std::process::id(),
            NEXT_POOL.fetch_add(1, Ordering::Relaxed)
        ));
        create_private(&dir)?;
        Ok(Some(Arc::new(Pool {
            workers: workers.clone(),
            hello: to_line(&Hello {
                protocol: PROTOCOL,
                config: WorkerConfig::from(config),
            })?,
            idle: Mutex::new(Vec::new()),
            dir: PrivateDir(dir),
            counter: AtomicUsize::new(0),
        })))
    }

    /// The pool's private directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// A new file path in the pool's directory, ending in `suffix`.
    pub(crate) fn file(&self, suffix: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.dir.0.join(format!("{n}{suffix}"))
    }

    /// Sends `request` to an idle worker (started when none is) and returns
    /// its answer. A worker that dies or runs past the time limit is an
    /// error naming `job`, with the job's files saved as a reproducer; an
    /// error the worker reports is returned as it was made there.
    pub(crate) fn call(&self, request: &Request, job: &Job<'_>) -> Result<Answer> {
        let line = to_line(request)?;
        let mut process = match self.take_idle() {
            Some(process) => process,
            None => self.start()?,
        };
        let sent = writeln!(process.stdin, "{line}").and_then(|()| process.stdin.flush());
        let answer = match sent {
            Ok(()) => match self.workers.module_timeout {
                Some(limit) => process.lines.recv_timeout(limit),
                None => process
                    .lines
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
            },
            Err(_) => Err(RecvTimeoutError::Disconnected),
        };
        match answer {
            Ok(text) => {
                self.idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(process);
                let answer: Answer = serde_json::from_str(&text).map_err(|e| {
                    Error::invalid(job.input, job.phase, format!("worker answer: {e}"))
                })?;
                match answer {
                    Answer::Failed(failure) => Err(failure.into_error(job)),
                    answer => Ok(answer),
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = process.child.kill();
                let _ = process.child.wait();
                Err(Error::TimedOut {
                    input: job.input.to_string(),
                    phase: job.phase,
                    limit: self.workers.module_timeout.unwrap_or_default(),
                    reproducer: self.save_reproducer(&line, job, "timed out"),
                })
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = match process.child.wait() {
                    Ok(status) => describe_exit(status),
                    Err(e) => format!("unknown: {e}"),
                };
                // The reader thread has seen EOF on stdout; stderr may lag a
                // moment behind the exit.
                std::thread::sleep(Duration::from_millis(20));
                let stderr = process.stderr.lock().unwrap_or_else(|e| e.into_inner());
                let message = stderr
                    .iter()
                    .rev()
                    .find(|line| line.contains("LLVM fatal error") || line.contains("LLVM ERROR"))
                    .or_else(|| stderr.back())
                    .map(|line| {
                        line.trim_start_matches("lto-engine: ")
                            .chars()
                            .take(300)
                            .collect()
                    });
                drop(stderr);
                Err(Error::Crashed {
                    input: job.input.to_string(),
                    phase: job.phase,
                    status,
                    message,
                    reproducer: self.save_reproducer(&line, job, "crashed"),
                })
            }
        }
    }

    fn take_idle(&self) -> Option<Process> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// Starts a worker and hands it the configuration.
    fn start(&self) -> Result<Process> {
        let program = &self.workers.program;
        let failed = |e: std::io::Error| Error::External {
            command: program.display().to_string(),
            reason: format!("cannot start a worker: {e}"),
        };
        let mut child = Command::new(program)
            .args(&self.workers.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(failed)?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(failed(std::io::Error::other("no pipes")));
        };
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("lto-engine-worker-out".to_string())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(failed)?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let keep = Arc::clone(&tail);
        std::thread::Builder::new()
            .name("lto-engine-worker-err".to_string())
            .spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    let mut tail = keep.lock().unwrap_or_else(|e| e.into_inner());
                    if tail.len() == STDERR_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            })
            .map_err(failed)?;
        writeln!(stdin, "{}", self.hello)
            .and_then(|()| stdin.flush())
            .map_err(failed)?;
        Ok(Process {
            child,
            stdin,
            lines,
            stderr: tail,
        })
    }

    /// Copies the files of a failed step, the request and the configuration
    /// into a new directory, with a note on how to rerun it. Best effort:
    /// `None` when nothing could be saved.
    fn save_reproducer(&self, request: &str, job: &Job<'_>, what: &str) -> Option<PathBuf> {
        let base = self
            .workers
            .reproducer_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let dir = (0..1000).find_map(|n| {
            let dir = base.join(format!("lto-engine-reproducer-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&base).ok()?;
            std::fs::create_dir(&dir).ok().map(|()| dir)
        })?;
        let mut names = Vec::new();
        for file in job.files {
            let name = file.file_name()?.to_string_lossy().into_owned();
            std::fs::copy(file, dir.join(&name)).ok()?;
            names.push(name);
        }
        let note = format!(
            "A worker {what} on {} ({}).\n\
             Files: {}\n\
             Rerun: start `{} {}`, write the first line of hello.json, then request.json \
             (with the file paths pointing here), each on one line, to its stdin.\n",
            job.input,
            job.phase,
            names.join(", "),
            self.workers.program.display(),
            self.workers.args.join(" "),
        );
        std::fs::write(dir.join("README.txt"), note).ok()?;
        std::fs::write(dir.join("hello.json"), &self.hello).ok()?;
        std::fs::write(dir.join("request.json"), request).ok()?;
        Some(dir)
    }
}

static NEXT_POOL: AtomicUsize = AtomicUsize::new(0);

impl Drop for Pool {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for mut process in idle {
            // Closing stdin ends a worker's loop; it has nothing left to do.
            drop(process.stdin);
            let _ = process.child.wait();
        }
    }
}

/// Creates `dir` readable and writable by this user only.
fn create_private(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| Error::io(dir.display(), Phase::Write, e))
}

/// `signal 11 (SIGSEGV)`, `exit status 3`.
fn describe_exit(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                4 => " (SIGILL)",
                6 => " (SIGABRT)",
                7 => " (SIGBUS)",
                8 => " (SIGFPE)",
                9 => " (SIGKILL, perhaps out of memory)",
                11 => " (SIGSEGV)",
                _ => "",
            };
            return format!("signal {signal}{name}");
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "ended".to_string(),
    }
}

// ---- the protocol ----

/// A value as one JSON line.
fn to_line(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::Config(format!("worker protocol: cannot write a line: {e}")))
}

/// The first line a worker reads.
#[derive(Serialize, Deserialize)]
struct Hello {
    protocol: u64,
    config: WorkerConfig,
}

/// What a worker needs of the configuration (the host keeps the rest:
/// jobs, cache, hooks, isolation).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkerConfig {
    opt_level: OptLevel,
    target_triple: Option<String>,
    target_cpu: Option<String>,
    target_features: String,
    reloc_model: RelocModel,
    code_model: CodeModel,
    function_sections: bool,
    data_sections: bool,
    emit: EmitKind,
    verify: bool,
    verify_inputs: bool,
    whole_program_visibility: bool,
    save_temps: Option<PathBuf>,
    remarks: Option<String>,
    opt_remarks: Option<crate::config::OptRemarks>,
    codegen_opt_level: Option<OptLevel>,
    llvm_options: Vec<String>,
}

impl From<&Config> for WorkerConfig {
    fn from(config: &Config) -> Self {
        WorkerConfig {
            opt_level: config.opt_level,
            target_triple: config.target_triple.clone(),
            target_cpu: config.target_cpu.clone(),
            target_features: config.target_features.clone(),
            reloc_model: config.reloc_model,
            code_model: config.code_model,
            function_sections: config.function_sections,
            data_sections: config.data_sections,
            emit: config.emit,
            verify: config.verify,
            verify_inputs: config.verify_inputs,
            whole_program_visibility: config.whole_program_visibility,
            save_temps: config.save_temps.clone(),
            remarks: config.remarks.clone(),
            opt_remarks: config.opt_remarks.clone(),
            codegen_opt_level: config.codegen_opt_level,
            llvm_options: config.llvm_options.clone(),
        }
    }
}

impl From<WorkerConfig> for Config {
    fn from(worker: WorkerConfig) -> Self {
        Config {
            opt_level: worker.opt_level,
            target_triple: worker.target_triple,
            target_cpu: worker.target_cpu,
            target_features: worker.target_features,
            reloc_model: worker.reloc_model,
            code_model: worker.code_model,
            function_sections: worker.function_sections,
            data_sections: worker.data_sections,
            emit: worker.emit,
            verify: worker.verify,
            verify_inputs: worker.verify_inputs,
            whole_program_visibility: worker.whole_program_visibility,
            save_temps: worker.save_temps,
            remarks: worker.remarks,
            opt_remarks: worker.opt_remarks,
            codegen_opt_level: worker.codegen_opt_level,
            llvm_options: worker.llvm_options,
            ..Config::default()
        }
    }
}

/// One step asked of a worker; files travel by path.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Request {
    /// Take a module into the thin link's form (`out`: its bitcode with a
    /// summary, when one had to be computed).
    Prepare {
        name: String,
        path: PathBuf,
        out: PathBuf,
    },
    /// Whether embedded bitcode is from a `no_builtins` crate.
    NoBuiltins { name: String, path: PathBuf },
    /// Parse and verify every module of a file.
    Check { name: String, path: PathBuf },
    /// A ThinLTO backend from an index slice; the object goes to `out`.
    Backend {
        name: String,
        stem: String,
        module: PathBuf,
        index: PathBuf,
        out: PathBuf,
        /// Content hashes (hex) by path, checked in place of the index's
        /// when its hashes name modules.
        content_hashes: BTreeMap<String, String>,
        /// Where the backend's optimization remarks go, if anywhere.
        remarks_file: Option<PathBuf>,
        /// Keep the inliner's decisions.
        #[serde(default)]
        keep_inlining: bool,
    },
}

/// A worker's answer to one request.
#[derive(Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub(crate) enum Answer {
    /// To `prepare`.
    Prepared { summary_added: bool },
    /// To `no_builtins`.
    NoBuiltins { no_builtins: bool },
    /// To `check`.
    Checked,
    /// To `backend`.
    Compiled(Compiled),
    /// To any request that failed.
    Failed(Failure),
}

/// What a backend in a worker did besides writing the object.
#[derive(Serialize, Deserialize)]
pub(crate) struct Compiled {
    steps: Vec<StepTime>,
    diagnostics: Vec<Diagnostic>,
    module_id: String,
    imported_from: Vec<String>,
    skipped: bool,
    #[serde(default)]
    inlining: Option<Vec<llvm::InlineDecision>>,
}

/// A step's wall time.
#[derive(Serialize, Deserialize)]
struct StepTime {
    step: Step,
    seconds: f64,
}

/// An error a worker reported.
#[derive(Serialize, Deserialize)]
pub(crate) struct Failure {
    kind: FailureKind,
    phase: Option<Phase>,
    error: String,
}

/// Which [`Error`] a [`Failure`] becomes on the host.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FailureKind {
    Invalid,
    Link,
    Llvm,
    Other,
}

impl Failure {
    fn of(error: &Error) -> Failure {
        let (kind, phase, error) = match error {
            Error::InvalidInput { phase, reason, .. } => {
                (FailureKind::Invalid, Some(*phase), reason.clone())
            }
            Error::Link { reason, .. } => (FailureKind::Link, Some(Phase::Link), reason.clone()),
            Error::Llvm { phase, reason, .. } => (FailureKind::Llvm, Some(*phase), reason.clone()),
            other => (FailureKind::Other, None, other.to_string()),
        };
        Failure { kind, phase, error }
    }

    /// The error as an [`Error`] of the host's (named by the host's name
    /// for the module).
    fn into_error(self, job: &Job<'_>) -> Error {
        let phase = self.phase.unwrap_or(job.phase);
        match self.kind {
            FailureKind::Invalid => Error::invalid(job.input, phase, self.error),
            FailureKind::Link => Error::Link {
                input: job.input.to_string(),
                reason: self.error,
            },
            FailureKind::Llvm | FailureKind::Other => {
                Error::llvm(job.input.to_string(), phase, self.error)
            }
        }
    }
}

/// An answer of a kind the request does not take: a worker out of step
/// with the host.
fn unexpected(job: &Job<'_>) -> Error {
    Error::invalid(
        job.input,
        job.phase,
        "worker answered with an answer to another request",
    )
}

// ---- the host's steps ----

/// Takes `input` into the thin link's form in a worker: its summary read
/// there first (or computed there, after parsing and verifying). Inputs
/// that are not a file of their own are written to the pool's directory
/// for the worker. The host then reads only what the worker read.
pub(crate) fn prepare(pool: &Pool, input: &BitcodeInput) -> Result<ThinModule> {
    // A copy stays for the pool's life: the backend may compile from it.
    let (path, _copied) = file_of(pool, input)?;
    let out = pool.file(".prepared.bc");
    let files = [path.as_path()];
    let job = Job {
        input: &input.name,
        phase: Phase::ThinLink,
        files: &files,
    };
    let request = Request::Prepare {
        name: input.name.clone(),
        path: path.clone(),
        out: out.clone(),
    };
    let Answer::Prepared { summary_added } = pool.call(&request, &job)? else {
        return Err(unexpected(&job));
    };
    let (bytes, file) = if summary_added {
        (read_output(&out, &input.name)?, out)
    } else {
        (input.bytes.clone(), path)
    };
    Ok(ThinModule {
        name: input.name.clone(),
        id: input.name.clone(),
        bytes,
        origin: input.origin.clone(),
        input_bytes: input.bytes.as_slice().len(),
        summary_added,
        file_stem: String::new(),
        file: Some(file),
    })
}

/// Whether embedded bitcode (`bytes`, of the input `name`) comes from a
/// `no_builtins` crate, asked of a worker: the check reads the bitcode's
/// function attributes.
pub(crate) fn no_builtins(pool: &Pool, name: &str, bytes: &[u8]) -> Result<bool> {
    let path = write_file(pool, ".embedded.bc", bytes)?;
    let copy = RemoveOnDrop(path.clone());
    let files = [path.as_path()];
    let job = Job {
        input: name,
        phase: Phase::Classify,
        files: &files,
    };
    let request = Request::NoBuiltins {
        name: name.to_string(),
        path: path.clone(),
    };
    let answer = pool.call(&request, &job)?;
    drop(copy);
    match answer {
        Answer::NoBuiltins { no_builtins } => Ok(no_builtins),
        _ => Err(unexpected(&job)),
    }
}

/// Parses and verifies every module of `input` in a worker.
pub(crate) fn check(pool: &Pool, input: &BitcodeInput) -> Result<()> {
    let (path, copied) = file_of(pool, input)?;
    let _copy = copied.then(|| RemoveOnDrop(path.clone()));
    let files = [path.as_path()];
    let job = Job {
        input: &input.name,
        phase: Phase::Verify,
        files: &files,
    };
    let request = Request::Check {
        name: input.name.clone(),
        path: path.clone(),
    };
    match pool.call(&request, &job)? {
        Answer::Checked => Ok(()),
        _ => Err(unexpected(&job)),
    }
}

/// What a worker's backend produces besides its object.
#[derive(Clone, Copy, Default)]
pub(crate) struct BackendOutputs<'a> {
    /// Where its optimization remarks go, if anywhere.
    pub remarks_file: Option<&'a Path>,
    /// Keep the inliner's decisions.
    pub keep_inlining: bool,
}

/// Runs one backend request in a worker: the output, and the worker's
/// whole answer.
fn backend_call(
    pool: &Pool,
    name: &str,
    stem: &str,
    module_path: &Path,
    index: &Path,
    content_hashes: &BTreeMap<String, [u8; 20]>,
    outputs: BackendOutputs<'_>,
) -> Result<(BackendOutput, Compiled)> {
    let out = pool.file(".lto.o");
    let files = [module_path, index];
    let job = Job {
        input: name,
        phase: Phase::Codegen,
        files: &files,
    };
    let request = Request::Backend {
        name: name.to_string(),
        stem: stem.to_string(),
        module: module_path.to_path_buf(),
        index: index.to_path_buf(),
        out: out.clone(),
        content_hashes: content_hashes
            .iter()
            .map(|(path, hash)| (path.clone(), thin::hex(hash)))
            .collect(),
        remarks_file: outputs.remarks_file.map(Path::to_path_buf),
        keep_inlining: outputs.keep_inlining,
    };
    let Answer::Compiled(mut compiled) = pool.call(&request, &job)? else {
        return Err(unexpected(&job));
    };
    let bytes = std::fs::read(&out).map_err(|e| Error::io(out.display(), Phase::Read, e))?;
    let _ = std::fs::remove_file(&out);
    let steps = compiled
        .steps
        .iter()
        .map(|step| (step.step, Duration::from_secs_f64(step.seconds)))
        .collect();
    let diagnostics = compiled
        .diagnostics
        .iter()
        .cloned()
        .map(|mut diagnostic| {
            // The host's name for the module.
            diagnostic.module = name.to_string();
            diagnostic
        })
        .collect();
    Ok((
        BackendOutput {
            bytes,
            steps,
            diagnostics,
            inlining: compiled.inlining.take(),
        },
        compiled,
    ))
}

/// A ThinLTO backend in a worker: module `module_path` with the index slice
/// `index`, importing from the files the slice names. Errors and
/// diagnostics name the module `name`.
pub(crate) fn backend(
    pool: &Pool,
    name: &str,
    stem: &str,
    module_path: &Path,
    index: &Path,
    content_hashes: &BTreeMap<String, [u8; 20]>,
    outputs: BackendOutputs<'_>,
) -> Result<BackendOutput> {
    backend_call(
        pool,
        name,
        stem,
        module_path,
        index,
        content_hashes,
        outputs,
    )
    .map(|(output, _)| output)
}

/// [`crate::distributed::backend_from_index`] in a worker: the module is
/// named by its path, as in process.
pub(crate) fn indexed_backend(
    pool: &Pool,
    module_path: &Path,
    index: &Path,
    remarks_file: Option<&Path>,
) -> Result<crate::thin::IndexedBackendOutput> {
    let name = module_path.display().to_string();
    let stem = module_path.file_name().map_or_else(
        || "module".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let (output, compiled) = backend_call(
        pool,
        &name,
        &stem,
        module_path,
        index,
        &BTreeMap::new(),
        BackendOutputs {
            remarks_file,
            keep_inlining: false,
        },
    )?;
    Ok(crate::thin::IndexedBackendOutput {
        bytes: output.bytes,
        module_id: compiled.module_id,
        imported_from: compiled.imported_from,
        skipped: compiled.skipped,
        steps: output.steps,
        diagnostics: output.diagnostics,
        inlining: output.inlining,
    })
}

/// The path of a file holding exactly `input`'s bytes, and whether it is
/// a copy made in the pool's directory (else the input's own file).
fn file_of(pool: &Pool, input: &BitcodeInput) -> Result<(PathBuf, bool)> {
    if input.origin == ModuleOrigin::File && input.archive.is_none() {
        return Ok((PathBuf::from(&input.name), false));
    }
    Ok((write_file(pool, ".bc", input.bytes.as_slice())?, true))
}

/// Writes `bytes` to a new file of the pool and returns its path (kept for
/// the pool's life).
pub(crate) fn write_file(pool: &Pool, suffix: &str, bytes: &[u8]) -> Result<PathBuf> {
    let path = pool.file(suffix);
    crate::fs::write_atomically(&path, bytes)?;
    Ok(path)
}

/// Removes a temporary copy when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The bytes of a file a worker wrote for the input `name`.
fn read_output(path: &Path, name: &str) -> Result<InputBytes> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(name, Phase::Read, e))?;
    Ok(InputBytes::owned(bytes))
}

// ---- the worker's side ----

/// Serves worker requests on stdin and stdout until stdin closes: the loop
/// of a worker process for [`Isolation::Workers`](crate::Isolation::Workers).
/// The `lto-engine` executable runs it as `lto-engine worker`; a host that
/// names its own program as the worker calls it from that program's worker
/// mode. Its first input line is the host's configuration; each further
/// line is a request, answered by one line. It is not meant to be run by
/// hand. It installs the engine's fatal-error handler
/// ([`install_fatal_error_handler`](crate::install_fatal_error_handler)):
/// the worker process is the engine's.
pub fn serve_worker() -> Result<()> {
    crate::llvm::init_targets();
    // The process is the engine's: its parent reads the one line.
    crate::llvm::install_fatal_error_handler();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let Some(Ok(hello)) = lines.next() else {
        return Ok(());
    };
    // The version first, on its own: a host of another version may send a
    // configuration of another shape.
    let version: serde_json::Value = serde_json::from_str(&hello)
        .map_err(|e| Error::Config(format!("worker: bad configuration line: {e}")))?;
    if version["protocol"].as_u64() != Some(PROTOCOL) {
        return Err(Error::Config(format!(
            "worker: this worker speaks protocol {PROTOCOL}, the host {}: run the host's own \
             lto-engine as its worker",
            version["protocol"]
        )));
    }
    let hello: Hello = serde_json::from_str(&hello)
        .map_err(|e| Error::Config(format!("worker: bad configuration line: {e}")))?;
    let config = Config::from(hello.config);
    // LLVM's options are process-wide: set before any request's LLVM work.
    crate::llvm::parse_llvm_options(&config.llvm_options).map_err(Error::Config)?;
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let line = line.map_err(|e| Error::io("stdin", Phase::Read, e))?;
        let request: Request = serde_json::from_str(&line)
            .map_err(|e| Error::Config(format!("worker: bad request: {e}")))?;
        let answer =
            serve(&config, request).unwrap_or_else(|error| Answer::Failed(Failure::of(&error)));
        writeln!(stdout, "{}", to_line(&answer)?)
            .and_then(|()| stdout.flush())
            .map_err(|e| Error::io("stdout", Phase::Write, e))?;
    }
    Ok(())
}

/// One request.
fn serve(config: &Config, request: Request) -> Result<Answer> {
    match request {
        Request::Prepare { name, path, out } => {
            let input = read_input(&name, &path)?;
            let module = thin::prepare(&input, config)?;
            trial_thin_link(&module.bytes, &name)?;
            if module.summary_added {
                crate::fs::write_atomically(&out, module.bytes.as_slice())?;
            }
            Ok(Answer::Prepared {
                summary_added: module.summary_added,
            })
        }
        Request::NoBuiltins { name, path } => {
            let bytes =
                std::fs::read(&path).map_err(|e| Error::io(path.display(), Phase::Read, e))?;
            let no_builtins = llvm::bitcode_is_no_builtins(&bytes)
                .map_err(|reason| Error::invalid(name, Phase::Parse, reason))?;
            Ok(Answer::NoBuiltins { no_builtins })
        }
        Request::Check { name, path } => {
            let input = read_input(&name, &path)?;
            check_all(config, &input)?;
            Ok(Answer::Checked)
        }
        Request::Backend {
            name,
            stem,
            module,
            index,
            out,
            content_hashes,
            remarks_file,
            keep_inlining,
        } => {
            let content_hashes = content_hashes
                .iter()
                .map(|(path, text)| {
                    let hash = thin::from_hex::<20>(text).ok_or_else(|| {
                        Error::Config(format!(
                            "malformed content hash {text:?} in a backend request"
                        ))
                    })?;
                    Ok((path.clone(), hash))
                })
                .collect::<Result<BTreeMap<_, _>>>()?;
            let output = thin::backend_for(
                config,
                &module,
                &index,
                Some(thin::HostNames {
                    name: &name,
                    stem: &stem,
                    content_hashes: &content_hashes,
                }),
                remarks_file.as_deref(),
                keep_inlining,
            )?;
            crate::fs::write_atomically(&out, &output.bytes)?;
            Ok(Answer::Compiled(Compiled {
                steps: output
                    .steps
                    .iter()
                    .map(|&(step, time)| StepTime {
                        step,
                        seconds: time.as_secs_f64(),
                    })
                    .collect(),
                diagnostics: output.diagnostics,
                module_id: output.module_id,
                imported_from: output.imported_from,
                skipped: output.skipped,
                inlining: output.inlining,
            }))
        }
    }
}

/// What the host's thin link does with a module's summary, done first here
/// on the module alone: the summary read into an index, its definitions
/// listed and resolved, liveness and imports computed over its graph. A
/// malformed summary that would crash those steps crashes this worker
/// instead of the host.
fn trial_thin_link(bytes: &InputBytes, name: &str) -> Result<()> {
    let invalid = |reason: String| Error::invalid(name, Phase::ThinLink, reason);
    let mut index = llvm::ThinIndex::new();
    index.add(bytes, 0, name).map_err(invalid)?;
    let mut prevailing: Vec<(u64, u32)> = index
        .definitions()
        .map_err(invalid)?
        .into_iter()
        .filter(|d| {
            matches!(
                d.linkage,
                llvm::LinkageClass::Strong | llvm::LinkageClass::Weak
            )
        })
        .map(|d| (d.guid, d.module))
        .collect();
    prevailing.sort_unstable();
    prevailing.dedup_by_key(|p| p.0);
    index.set_prevailing(&prevailing).map_err(invalid)?;
    index.compute_dead(&[], true);
    index.compute_imports(true);
    Ok(())
}

/// A file as an input named `name`.
fn read_input(name: &str, path: &Path) -> Result<BitcodeInput> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), Phase::Read, e))?;
    Ok(BitcodeInput {
        name: name.to_string(),
        bytes: InputBytes::owned(bytes),
        origin: ModuleOrigin::File,
        archive: None,
    })
}

/// Parses every module of `input` into a fresh context and checks it.
fn check_all(config: &Config, input: &BitcodeInput) -> Result<()> {
    let data = input.bytes.as_slice();
    let count = llvm::bitcode_module_count(data)
        .map_err(|reason| crate::input::parse_error(&input.name, data, reason))?;
    for index in 0..count {
        let context = crate::codegen::module_context(config, true)?;
        let module = llvm::parse_bitcode(&context, data, &input.name, index).map_err(|reason| {
            crate::input::parse_error(&input.name, data, llvm::with_error_text(&context, reason))
        })?;
        crate::stages::check_input(config, &input.name, &module, None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_reaches_a_worker_whole() {
        let config = Config {
            opt_level: OptLevel::Os,
            target_triple: Some("aarch64-unknown-linux-gnu".to_string()),
            target_cpu: Some("neoverse-n1".to_string()),
            target_features: "+crc".to_string(),
            reloc_model: RelocModel::Static,
            code_model: CodeModel::Large,
            function_sections: false,
            data_sections: false,
            emit: EmitKind::Assembly,
            verify: true,
            verify_inputs: false,
            whole_program_visibility: true,
            save_temps: Some(PathBuf::from("temps")),
            remarks: Some("inline".to_string()),
            codegen_opt_level: Some(OptLevel::O1),
            llvm_options: vec!["-import-instr-limit=5".to_string()],
            ..Config::default()
        };
        let line = to_line(&WorkerConfig::from(&config)).unwrap();
        let back = Config::from(serde_json::from_str::<WorkerConfig>(&line).unwrap());
        // Every field a backend reads, compared through Debug (Config has
        // no PartialEq: it holds hooks).
        let fields = |c: &Config| {
            format!(
                "{:?} {:?} {:?} {:?} {:?} {:?} {} {} {:?} {} {} {} {:?} {:?} {:?} {:?}",
                c.opt_level,
                c.target_triple,
                c.target_cpu,
                c.target_features,
                c.reloc_model,
                c.code_model,
                c.function_sections,
                c.data_sections,
                c.emit,
                c.verify,
                c.verify_inputs,
                c.whole_program_visibility,
                c.save_temps,
                c.remarks,
                c.codegen_opt_level,
                c.llvm_options
            )
        };
        assert_eq!(fields(&back), fields(&config));
        // Positive control: the defaults differ in every one of them.
        assert_ne!(fields(&Config::default()), fields(&config));
    }

    #[test]
    fn exits_are_described_by_signal_or_status() {
        use std::os::unix::process::ExitStatusExt;
        let segv = std::process::ExitStatus::from_raw(11);
        assert_eq!(describe_exit(segv), "signal 11 (SIGSEGV)");
        let exit3 = std::process::ExitStatus::from_raw(3 << 8);
        assert_eq!(describe_exit(exit3), "exit status 3");
    }
}
