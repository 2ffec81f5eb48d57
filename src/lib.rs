//! # lto-engine
//!
//! Link-time optimization of LLVM 22 bitcode for compiler prototypes. A
//! compiler hands over its modules (in memory, as bitcode files, or inside
//! objects and rlib / `.a` archives), names the symbols that must stay
//! visible, and gets back optimized native objects for the system linker,
//! plus a `link.rsp` that finishes the link.
//!
//! ## Fat LTO
//!
//! Every module is linked, in input order, into the first one (as a linker
//! resolves comdats, weak definitions and constructor order), everything not
//! preserved is internalized, the `lto<O2>` pipeline runs, one object comes
//! out.
//!
//! ```
//! use inkwell::context::Context;
//! use lto_engine::{Config, LtoKind, Session, WriteTo};
//! # fn module<'c>(context: &'c Context, name: &str, ir: &str) -> inkwell::module::Module<'c> {
//! #     let buffer = inkwell::memory_buffer::MemoryBuffer::create_from_memory_range_copy(ir.as_bytes(), name);
//! #     let module = context.create_module_from_ir(buffer).unwrap();
//! #     use inkwell::targets::*;
//! #     Target::initialize_native(&InitializationConfig::default()).unwrap();
//! #     let triple = TargetMachine::get_default_triple();
//! #     let machine = Target::from_triple(&triple).unwrap().create_target_machine(
//! #         &triple, "generic", "", inkwell::OptimizationLevel::Default,
//! #         RelocMode::PIC, CodeModel::Default).unwrap();
//! #     module.set_triple(&triple);
//! #     module.set_data_layout(&machine.get_target_data().get_data_layout());
//! #     module
//! # }
//!
//! // Two codegen units of a compiler, as inkwell modules (parsed from IR
//! // text here to keep the example short), each with its target's triple
//! // and data layout, as codegen sets them.
//! let context = Context::create();
//! let helper = module(&context, "cgu.0", "define i32 @twice(i32 %x) {
//!     %r = mul i32 %x, 2
//!     ret i32 %r
//! }");
//! let entry = module(&context, "cgu.1", "declare i32 @twice(i32)
//! define i32 @entry(i32 %x) {
//!     %t = call i32 @twice(i32 %x)
//!     %r = add i32 %t, 1
//!     ret i32 %r
//! }");
//!
//! let session = Session::new(Config::default(), LtoKind::Fat)?;
//! session.add_module(&helper)?; // serialized now: the context may go
//! session.add_module(&entry)?;
//! session.preserve(["entry"])?;
//! let output = session.run()?;
//!
//! // `twice` was internalized (and inlined into `entry`, then dropped).
//! assert_eq!(output.report.internalized, ["twice"]);
//! assert_eq!(output.objects.len(), 1);
//! let out = std::env::temp_dir().join(format!("lto-engine-doc-{}", std::process::id()));
//! let files = output.write(&WriteTo::object(out.join("lto.o")))?; // and link.rsp beside it
//! assert!(files.link_rsp.exists());
//! # std::fs::remove_dir_all(&out).ok();
//! # Ok::<(), lto_engine::Error>(())
//! ```
//!
//! ## Thin LTO, from codegen threads
//!
//! The same [`Session`] is cloned into the compiler's threads; each adds
//! its modules as it finishes them, while the session loads them for the
//! thin link in the background. [`Session::run`] runs the thin link and one
//! backend per module in parallel (under the build tool's jobserver when
//! the host hands one over, see [`Jobs`]).
//!
//! ```
//! use inkwell::context::Context;
//! use lto_engine::{Config, Input, LtoKind, ModuleRole, Session};
//! # fn module<'c>(context: &'c Context, name: &str, ir: &str) -> inkwell::module::Module<'c> {
//! #     let buffer = inkwell::memory_buffer::MemoryBuffer::create_from_memory_range_copy(ir.as_bytes(), name);
//! #     let module = context.create_module_from_ir(buffer).unwrap();
//! #     use inkwell::targets::*;
//! #     Target::initialize_native(&InitializationConfig::default()).unwrap();
//! #     let triple = TargetMachine::get_default_triple();
//! #     let machine = Target::from_triple(&triple).unwrap().create_target_machine(
//! #         &triple, "generic", "", inkwell::OptimizationLevel::Default,
//! #         RelocMode::PIC, CodeModel::Default).unwrap();
//! #     module.set_triple(&triple);
//! #     module.set_data_layout(&machine.get_target_data().get_data_layout());
//! #     module
//! # }
//!
//! let session = Session::new(Config::default(), LtoKind::Thin)?;
//! session.preserve(["entry"])?;
//! let worker = {
//!     let session = session.clone();
//!     std::thread::spawn(move || {
//!         // Each codegen thread has its own LLVM context.
//!         let context = Context::create();
//!         let helper = module(&context, "cgu.0", "define i32 @twice(i32 %x) {
//!             %r = mul i32 %x, 2
//!             ret i32 %r
//!         }");
//!         session.add_module(&helper)
//!     })
//! };
//! let context = Context::create();
//! let entry = module(&context, "cgu.1", "declare i32 @twice(i32)
//! define i32 @entry(i32 %x) {
//!     %t = call i32 @twice(i32 %x)
//!     %r = add i32 %t, 1
//!     ret i32 %r
//! }");
//! session.add_module(&entry)?;
//! // A metadata unit takes no part in LTO (rustc's rule).
//! let metadata = module(&context, "meta", "@crate_meta = constant [4 x i8] c\"toy\\00\"");
//! session.add(Input::module(&metadata).role(ModuleRole::Metadata))?;
//! worker.join().unwrap()?;
//!
//! let output = session.run()?;
//! // One object per thin module, plus the one compiled alone.
//! assert_eq!(output.objects.len(), 3);
//! let entry = output.report.thin.modules.iter().find(|m| m.name == "cgu.1").unwrap();
//! assert_eq!(entry.imports[0].definitions, ["twice"]); // imported, then inlined
//! # Ok::<(), lto_engine::Error>(())
//! ```
//!
//! ## Around the run
//!
//! - [`ModuleLto`]: per-module kinds, as rustc's `compute_per_cgu_lto_type`.
//! - [`Config::save_temps`], [`Config::stage_hook`], [`Config::verify`]: the
//!   module after every stage, on disk, to a callback, through the verifier
//!   ([`Stage`], [`StageName`]).
//! - [`Output::diagnostics`]: LLVM's warnings and the remarks asked for with
//!   [`Config::remarks`], as [`Diagnostic`] values.
//! - [`Config::cache`]: the incremental ThinLTO cache, keyed like LLVM's.
//! - [`Backends::IndexFiles`] and [`distributed::backend_from_index`]:
//!   distributed ThinLTO with lld-compatible index files.
//!
//! Policy lives in Rust; the C++ shim in `llvm-wrapper/` exposes LLVM steps
//! one by one. All `unsafe` code is in `ffi` and `llvm`.
//!
//! ## What safe code cannot do
//!
//! The LLVM layer is private: a host cannot reach the shim's handles, its
//! diagnostics queues or its memory maps.
//!
//! ```compile_fail,E0603
//! let context = inkwell::context::Context::create();
//! lto_engine::llvm::take_diagnostics(&context, "x");
//! ```
//!
//! ```compile_fail,E0603
//! let file = std::fs::File::open("Cargo.toml").unwrap();
//! let _map = lto_engine::llvm::map_file_readonly(&file);
//! ```
//!
//! The library never reads the environment's jobserver ([`Jobs::Auto`] is
//! one job per core), since a host such as rustc may own those descriptors:
//! a host hands over its own client with [`Jobserver::new`].
//!
//! ```compile_fail,E0599
//! let _jobs = lto_engine::Jobserver::from_env();
//! ```
#![warn(missing_docs)]

mod codegen;
mod config;
mod error;
mod explain;
mod fat;
mod ffi;
mod fs;
mod input;
mod jobs;
mod linker;
mod llvm;
mod names;
mod nolto;
mod output;
pub mod report;
mod session;
mod stages;
mod thin;
mod warnings;
mod worker;

pub mod distributed {
    //! Distributed ThinLTO, as lld's `--thinlto-index-only` and DTLTO do it:
    //! a run with [`Backends::IndexFiles`](crate::Backends::IndexFiles)
    //! writes one index file per module (byte-identical to lld's), the
    //! backends then run as jobs anywhere ([`distributor_json`],
    //! [`run_distributor`]), each compiling one module with its index
    //! ([`backend_from_index`], or `clang -fthinlto-index=`).
    pub use crate::thin::{
        distributor_json, run_distributor, DistributedModule, IndexOptions, IndexedBackendOutput,
        JobStyle, PrefixReplace, RemoteCompiler, SuffixReplace,
    };
    use crate::{Config, Result};
    use std::path::Path;

    /// The single-module backend of distributed ThinLTO: compiles the
    /// bitcode `module` with its slice of the index `index_file` (written
    /// by a run with [`Backends::IndexFiles`](crate::Backends::IndexFiles),
    /// `ld.lld --thinlto-index-only` or the distributor flow), importing
    /// from the paths the index names. Produces the object the in-process
    /// thin run produces for the same module. With
    /// [`Isolation::Workers`](crate::Isolation::Workers) it runs in a
    /// worker process, as every other path does.
    ///
    /// The module is found in the index by its path as given, or else by
    /// its module hash. A module or import source whose hash differs from
    /// the one the index recorded is an error: it changed since the thin
    /// link.
    pub fn backend_from_index(
        config: &Config,
        module: &Path,
        index_file: &Path,
    ) -> Result<IndexedBackendOutput> {
        // One module, one task: its remarks go to the file named.
        let remarks = config.opt_remarks.as_ref().map(|r| r.filename.as_path());
        match crate::worker::Pool::for_config(config)? {
            Some(pool) => crate::worker::indexed_backend(&pool, module, index_file, remarks),
            None => crate::thin::backend_for(config, module, index_file, None, remarks, false),
        }
    }
}

pub use config::{
    CacheConfig, CodeModel, Config, ConfigBuilder, EmitKind, FatLatePasses, FatPartitions,
    HotnessThreshold, Isolation, Jobs, Jobserver, ModuleOrder, OptLevel, OptRemarks, RelocModel,
    Workers,
};
pub use config::{Stage, StageHook};
pub use error::{Error, Phase, Result};
pub use input::{InputOptions, LinkItem};
pub use linker::{run_linker, LinkerOptions};
pub use llvm::{Diagnostic, ModuleBuffer, Severity, ThinBuffer};
pub use output::{write_atomically, Output, OutputObject, WriteTo, Written};
pub use report::StageName;
pub use report::{Report, RunKind};
pub use session::{Added, Backends, Input, LtoKind, ModuleLto, ModuleRole, Session};
pub use worker::serve_worker;

/// Makes LLVM's fatal errors end the process with one line on stderr in
/// the engine's format (`lto-engine: LLVM fatal error: <reason>`) instead
/// of LLVM's own. LLVM keeps one such handler per process, this replaces
/// any other, and LLVM cannot tell whether the host installed its own: a
/// program that has one must not call this. The library never calls it;
/// the `lto-engine` executable does, and so does [`serve_worker`] (a worker
/// process is the engine's). Installed once however often it is called.
pub fn install_fatal_error_handler() {
    llvm::install_fatal_error_handler();
}

/// The README's Rust blocks, compiled as doctests so that they follow the
/// API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
