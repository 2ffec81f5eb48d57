//! The crate's one error type. Every variant names the input (a path, an
//! archive member `lib.a(member.o)`, a module name) and the phase.

use std::fmt;
use std::io;

/// Where in the pipeline a failure happened.
///
/// One of three vocabularies of the pipeline, each for its own question:
/// `Phase` says where a run *failed* (it has places that are no timed work,
/// such as [`Phase::Read`], [`Phase::Classify`] and [`Phase::Write`]);
/// [`Step`](crate::report::Step) says what a run *spent its time on* (it
/// has work that cannot fail on its own, such as a cache lookup or all
/// backends together); [`StageName`](crate::StageName) names the *points
/// between steps* where a module can be looked at (save-temps, stage hooks,
/// verify-each), in rustc's spelling. Where they meet, the words match:
/// `Phase::Import`, `Step::Import`, `StageName::ThinLtoAfterImport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Reading an input from disk.
    Read,
    /// Telling bitcode, objects and archives apart, reading archive members.
    Classify,
    /// Parsing bitcode into a module.
    Parse,
    /// Checking a parsed input with the IR verifier, before any pass.
    Verify,
    /// Linking modules together (fat LTO).
    Link,
    /// The restriction pass (internalization).
    Restrict,
    /// The thin link: combined index, dead symbols, prevailing copies,
    /// import lists, linkage decisions.
    ThinLink,
    /// ThinLTO backend: renaming and promoting locals.
    Rename,
    /// ThinLTO backend: dropping dead definitions and resolving weak linkages.
    Resolve,
    /// ThinLTO backend: internalizing.
    Internalize,
    /// ThinLTO backend: importing functions from other modules.
    Import,
    /// Running the LTO optimization pipeline.
    Optimize,
    /// Emitting native code.
    Codegen,
    /// The ThinLTO cache: its directory, its entries, pruning.
    Cache,
    /// Writing outputs.
    Write,
    /// Distributed ThinLTO: index files, jobs, running a distributor.
    Distribute,
}

crate::names::named_enum!(
    /// The phase's name in messages: `parse`, `thin link`, ...
    pub(crate) Phase {
        Read => "read",
        Classify => "classify",
        Parse => "parse",
        Verify => "verify",
        Link => "link",
        Restrict => "restrict",
        ThinLink => "thin link",
        Rename => "rename",
        Resolve => "resolve",
        Internalize => "internalize",
        Import => "import",
        Optimize => "optimize",
        Codegen => "codegen",
        Cache => "cache",
        Write => "write",
        Distribute => "distribute",
    }
);

/// Everything that can go wrong, with the input and the phase it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{input}: {phase}: {source}")]
    Io {
        /// The file.
        input: String,
        /// What was being done.
        phase: Phase,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// An input's content is not what it must be: truncated or garbage
    /// bitcode, bitcode from another LLVM, a corrupt archive or object.
    #[error("{input}: {phase}: {reason}")]
    InvalidInput {
        /// The input (file, archive member or module name).
        input: String,
        /// What was being done.
        phase: Phase,
        /// What is wrong with it.
        reason: String,
    },
    /// The same input or module name was given twice.
    #[error("{input}: given twice (module names must be unique)")]
    DuplicateInput {
        /// The repeated name.
        input: String,
    },
    /// Linking the modules failed (for example a symbol defined twice).
    #[error("{input}: link: {reason}")]
    Link {
        /// The module being linked in when it failed.
        input: String,
        /// LLVM's reason.
        reason: String,
    },
    /// LLVM failed in a later phase (optimization, code generation).
    #[error("{input}: {phase}: {reason}")]
    Llvm {
        /// The module concerned.
        input: String,
        /// What was being done.
        phase: Phase,
        /// LLVM's reason.
        reason: String,
    },
    /// An external program the engine ran (a ThinLTO distributor) failed or
    /// did not produce what it had to.
    #[error("{command}: {reason}")]
    External {
        /// The command, as given.
        command: String,
        /// What went wrong.
        reason: String,
    },
    /// A [`StageHook`](crate::StageHook) refused a module.
    #[error("{input}: after {stage}: stage hook: {reason}")]
    Hook {
        /// The module.
        input: String,
        /// The stage the hook was called after.
        stage: crate::report::StageName,
        /// The hook's reason.
        reason: String,
    },
    /// Modules of a session ask for LTO kinds that cannot run together
    /// (fat and thin LTO in one session).
    #[error("{first}: {reason} ({second})")]
    LtoKindMix {
        /// A module of one kind.
        first: String,
        /// A module of the other kind.
        second: String,
        /// Why the two cannot be mixed.
        reason: String,
    },
    /// A worker process died working on an input (a signal such as
    /// SIGSEGV, an abort, an LLVM fatal error, running out of memory): the
    /// run stops, nothing is written, the host goes on. Only with
    /// [`Isolation::Workers`](crate::Isolation::Workers).
    #[error("{input}: {phase}: worker crashed ({status}){}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default(), reproducer.as_ref().map(|p| format!("; reproducer: {}", p.display())).unwrap_or_default())]
    Crashed {
        /// The module the worker was working on.
        input: String,
        /// What it was doing.
        phase: Phase,
        /// How it ended (`signal 11 (SIGSEGV)`, `exit status 1`).
        status: String,
        /// The last line the worker printed about it (an LLVM fatal
        /// error's reason), if any.
        message: Option<String>,
        /// A directory holding the inputs of the step and how to rerun it.
        reproducer: Option<std::path::PathBuf>,
    },
    /// A worker took longer than [`Workers::module_timeout`](crate::Workers::module_timeout)
    /// on one module and was killed.
    #[error("{input}: {phase}: timed out after {} s in a worker{}", limit.as_secs_f64(), reproducer.as_ref().map(|p| format!("; reproducer: {}", p.display())).unwrap_or_default())]
    TimedOut {
        /// The module.
        input: String,
        /// What the worker was doing.
        phase: Phase,
        /// The limit.
        limit: std::time::Duration,
        /// A directory holding the inputs of the step and how to rerun it.
        reproducer: Option<std::path::PathBuf>,
    },
    /// The configuration cannot be used (unknown target, bad option).
    #[error("configuration: {0}")]
    Config(String),
    /// The API was used in a way it cannot honour (an input added after
    /// the run, a second run, a thin result written as one object): a bug
    /// in the caller, not a failure of the inputs or of LLVM.
    #[error("usage: {0}")]
    Usage(String),
}

impl Error {
    /// An I/O error on `input` during `phase`.
    pub fn io(input: impl fmt::Display, phase: Phase, source: io::Error) -> Self {
        Error::Io {
            input: input.to_string(),
            phase,
            source,
        }
    }

    /// LLVM refused a step on `input` in `phase`, saying `reason`.
    pub(crate) fn llvm(input: impl fmt::Display, phase: Phase, reason: impl Into<String>) -> Self {
        Error::Llvm {
            input: input.to_string(),
            phase,
            reason: reason.into(),
        }
    }

    /// An input whose content is invalid.
    pub fn invalid(input: impl fmt::Display, phase: Phase, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            input: input.to_string(),
            phase,
            reason: reason.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
