//! # lto-engine
//!
//! Link-time optimization of LLVM 22 bitcode for compiler prototypes. A
//! compiler hands over its modules (in memory, as bitcode files, or inside
//! objects and rlib / `.a` archives), names the symbols that must stay
//! visible, and gets back an optimized native object for the system linker.
//!
//! ```no_run
//! use lto_engine::{Config, LtoKind, Session};
//!
//! let mut session = Session::new(Config::default())?;
//! session.add_path("main.o")?;          // clang -flto -c: bitcode
//! session.add_path("libdep.a")?;        // archives: bitcode members to LTO, native ones pass through
//! session.preserve(["main"]);
//! let output = session.run(LtoKind::Fat)?;
//! let files = output.write_fat("out/lto.o".as_ref())?; // and out/link.rsp
//! println!("{}", output.report.summary());
//! # Ok::<(), lto_engine::Error>(())
//! ```
//!
//! Policy lives in Rust; the C++ shim in `llvm-wrapper/` exposes LLVM steps
//! one by one. All `unsafe` code is in `ffi` and `llvm`.

pub mod codegen;
pub mod config;
pub mod error;
mod fat;
mod ffi;
pub mod input;
mod jobs;
pub mod llvm;
mod nolto;
pub mod output;
pub mod report;
mod session;
pub mod stages;
mod stream;
pub mod thin;

pub use config::{
    CacheConfig, CodeModel, Config, EmitKind, Jobs, Jobserver, OptLevel, Parallelism, RelocModel,
};
pub use error::{Error, Phase, Result};
pub use input::{InputOptions, LinkItem};
pub use llvm::{Diagnostic, Severity};
pub use output::{Output, OutputObject, WrittenFiles, WrittenThinFiles};
pub use report::Report;
pub use session::{IndexFiles, LtoKind, ModuleLto, ModuleRole, Progress, Session};
pub use stages::{Stage, StageHook};
pub use stream::StreamingSession;
pub use thin::ThinData;
