//! The engine as the LTO step of a real link: `lto-engine ld` takes an
//! `ld.lld` command line as clang and rustc write it, decides which bitcode
//! the link actually uses as a linker does (archive members are lazy), runs
//! LTO on it, and runs the real `ld.lld` with every other option untouched
//! and the bitcode replaced by the LTO objects.

mod args;
mod distribute;
mod exports;
mod final_memo;
mod memo;
mod symtabs;

use crate::config::{
    CacheConfig, Config, FatPartitions, Jobs, LtoKind, ModuleOrder, OptLevel, Workers,
};
use crate::error::{Error, Phase, Result};
use crate::input::{archive, classify, InputBytes, ModuleOrigin};
use crate::session::{Input, Session};
use args::{Item, LinkLine, State};
use object::{Object, ObjectSymbol};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use symtabs::SymbolTables;

/// How `lto-engine ld` runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LinkerOptions {
    /// The real linker: `ld.lld-22` unless set (the CLI reads
    /// `--real-linker` and `LTO_ENGINE_REAL_LD`).
    pub real_linker: PathBuf,
    /// Worker processes for the LTO step (the CLI: itself); `None` runs it
    /// in process.
    pub workers: Option<Workers>,
    /// Symbols to explain ([`Config::explain`]): each LTO run's
    /// explanations are printed on stdout after it, as text, or as JSON
    /// lines (one array per run) with `explain_json`.
    pub explain: Vec<String>,
    /// Print the explanations as JSON.
    pub explain_json: bool,
}

impl Default for LinkerOptions {
    fn default() -> Self {
        LinkerOptions {
            real_linker: PathBuf::from("ld.lld-22"),
            workers: None,
            explain: Vec::new(),
            explain_json: false,
        }
    }
}

/// Links as `ld.lld` would with `args` (an `ld.lld` command line, response
/// files expanded), running the engine's LTO on the bitcode the link uses.
/// Returns the real linker's exit code; its diagnostics go to this
/// process's stderr. A link without bitcode goes to the real linker as it
/// is.
pub fn run_linker(args: &[String], options: &LinkerOptions) -> Result<i32> {
    let mut times = LinkTimes::default();
    let line = times.time("parse arguments", || -> Result<LinkLine> {
        let line = args::parse(args)?;
        // LLVM's own options (`-mllvm`) are process-wide: set once, before
        // any LLVM work (reading bitcode symbols included), as lld does.
        crate::llvm::parse_llvm_options(&line.lto.mllvm)
            .map_err(|e| Error::Usage(format!("ld: -mllvm: {e}")))?;
        Ok(line)
    })?;
    let inputs = times.time("read inputs", || Inputs::read(&line))?;
    if !inputs.any_bitcode() {
        return real_link(&options.real_linker, args);
    }
    if let Some((option, why)) = line.lto.unsupported.first() {
        return Err(Error::Usage(format!(
            "ld: {option}: {why}; link without it, or with ld.lld"
        )));
    }
    if line.relocatable {
        return Err(Error::Usage(
            "ld: -r with bitcode inputs is not supported by the engine's linker mode".to_string(),
        ));
    }
    replacements(&line)?;
    let resolved = times.time("resolve symbols", || inputs.resolve(&line))?;
    if let Some(symbol) = line.wrap.iter().find(|s| resolved.bitcode_defines(s)) {
        return Err(Error::Usage(format!(
            "ld: --wrap={symbol}: the symbol is defined in bitcode, which the engine cannot \
             wrap yet; link without it, or with ld.lld"
        )));
    }
    if let Some((symbol, expr)) = line
        .defsym
        .iter()
        .find(|(symbol, _)| resolved.bitcode_defines(symbol))
    {
        return Err(Error::Usage(format!(
            "ld: --defsym={symbol}={expr}: {symbol} is also defined in bitcode, and the engine \
             cannot let --defsym replace a definition LTO may have inlined or internalized; \
             link without it, or with ld.lld"
        )));
    }
    let output = line
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("a.out"));
    let work = output.with_file_name(format!(
        "{}.lto-engine-{}",
        output
            .file_name()
            .map_or("a.out".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let result = (|| {
        if let Some(list) = &line.lto.index_only {
            index_only(&line, &inputs, &resolved, options, &work, list.as_deref())?;
            return Ok(0);
        }
        let (objects, report) = times.time("lto", || lto(&line, &resolved, options, &work))?;
        let rewritten = times.time("rewrite", || rewrite(&line, &inputs, &objects, &work))?;
        let (code, memo) = times.time("final link", || {
            final_link(&line, options, &rewritten, &output, &work)
        })?;
        if let (Some(path), Some(mut json)) = (&line.report, report) {
            // Archives given to the real link as a copy of their native
            // members (an rlib whose native part links nothing is dropped).
            json["link"]["native_copies"] = rewritten.copied.into();
            json["link"]["final_link"] = serde_json::json!({ "memo": memo });
            // Where the link's own time went, the LTO run's phases aside.
            json["link"]["phases"] = times.to_json();
            let (cached, built) = inputs.tables.counts();
            json["link"]["symbol_tables"] = serde_json::json!({ "cached": cached, "built": built });
            let text = serde_json::to_string_pretty(&json)
                .map_err(|e| Error::io(path.display(), Phase::Write, e.into()))?;
            crate::fs::write_atomically(path, text.as_bytes())?;
        }
        Ok(code)
    })();
    let _ = std::fs::remove_dir_all(&work);
    if line.lto.distributor.is_some() {
        let _ = std::fs::remove_dir_all(distribute::index_dir(&output));
    }
    result
}

/// The wall time of each step of `lto-engine ld`, in order.
#[derive(Default)]
struct LinkTimes(Vec<(&'static str, std::time::Duration)>);

impl LinkTimes {
    fn time<T>(&mut self, step: &'static str, work: impl FnOnce() -> T) -> T {
        let start = std::time::Instant::now();
        let value = work();
        self.0.push((step, start.elapsed()));
        value
    }

    /// `[{"phase": "read inputs", "seconds": 0.012}, ...]`.
    fn to_json(&self) -> serde_json::Value {
        self.0
            .iter()
            .map(|(phase, time)| serde_json::json!({ "phase": phase, "seconds": time.as_secs_f64() }))
            .collect()
    }
}

/// A file the engine wrote, as the real linker must be given it: under
/// `--chroot`, lld reads absolute paths inside the root, so an absolute
/// path becomes relative to the current directory.
fn outside_chroot(line: &LinkLine, path: &Path) -> String {
    if line.chroot.is_none() || !path.is_absolute() {
        return path.display().to_string();
    }
    relative_from_cwd(path)
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// The absolute `path` written from the working directory, lexically
/// (`..` for each of the working directory's components it does not
/// share); `None` when the working directory is unknown. Empty when the
/// path is the working directory itself.
fn relative_from_cwd(path: &Path) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let from: Vec<_> = cwd.components().collect();
    let to: Vec<_> = path.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut relative = PathBuf::new();
    for _ in common..from.len() {
        relative.push("..");
    }
    for component in &to[common..] {
        relative.push(component);
    }
    Some(relative)
}

/// Runs the real link of `real`, or writes its output from the final
/// link's memo (see `final_memo.rs`) when the link has a cache and every
/// file the engine made for it is identified; a link that succeeds
/// without a word is remembered. Its exit code, and what the memo did for
/// the report.
fn final_link(
    line: &LinkLine,
    options: &LinkerOptions,
    real: &RealLink,
    output: &Path,
    work: &Path,
) -> Result<(i32, serde_json::Value)> {
    let off = |why: String| serde_json::json!({ "status": "off", "why": why });
    let (Some(cache_config), Some(made)) = (cache_config(line), &real.made) else {
        let code = real_link(&options.real_linker, &real.command)?;
        let why = "no cache, or an LTO object that is not a cache entry".to_string();
        return Ok((code, off(why)));
    };
    let link = final_memo::FinalLink {
        line,
        command: &real.command,
        work,
        made,
        linker: &options.real_linker,
        output,
    };
    let key = match link.key() {
        Ok(key) => key,
        Err(why) => return Ok((real_link(&options.real_linker, &real.command)?, off(why))),
    };
    let cache = crate::thin::Cache::open(&cache_config)?;
    let why = match link.recall(&cache, &key)? {
        final_memo::Recall::Hit => return Ok((0, serde_json::json!({ "status": "hit" }))),
        final_memo::Recall::Miss(why) => why,
    };
    let (code, printed) =
        real_link_relaying_stderr(&options.real_linker, &link.command_with_dependencies())?;
    let stored = if code != 0 {
        Err("the link failed".to_string())
    } else if printed {
        Err("the linker printed diagnostics, which a recalled link would not".to_string())
    } else {
        link.remember(&cache, &key)
    };
    let memo = match stored {
        Ok(()) => serde_json::json!({ "status": "miss", "why": why, "stored": true }),
        Err(not) => {
            serde_json::json!({ "status": "miss", "why": why, "stored": false, "not_stored": not })
        }
    };
    Ok((code, memo))
}

/// [`real_link`], its standard error read through a pipe and passed on:
/// the exit code and whether it printed anything there. On a terminal the
/// linker is asked for the colors it would have chosen itself.
fn real_link_relaying_stderr(linker: &Path, args: &[String]) -> Result<(i32, bool)> {
    use std::io::{IsTerminal, Write};
    let mut args = args.to_vec();
    let colors_chosen = args.iter().any(|a| a.contains("color-diagnostics"));
    if std::io::stderr().is_terminal() && !colors_chosen {
        args.push("--color-diagnostics".to_string());
    }
    let output = Command::new(linker)
        .args(&args)
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| cannot_run(linker, e))?;
    let _ = std::io::stderr().write_all(&output.stderr);
    Ok((output.status.code().unwrap_or(1), !output.stderr.is_empty()))
}

/// The error of a real linker that could not be started.
fn cannot_run(linker: &Path, e: std::io::Error) -> Error {
    Error::External {
        command: linker.display().to_string(),
        reason: format!("cannot run the real linker: {e}"),
    }
}

/// Runs the real linker with `args`; its exit code.
fn real_link(linker: &Path, args: &[String]) -> Result<i32> {
    let status = Command::new(linker)
        .args(args)
        .status()
        .map_err(|e| cannot_run(linker, e))?;
    Ok(status.code().unwrap_or(1))
}

/// One input file of the link, read.
struct File {
    /// The path as found (a `-l` resolved to its file).
    path: PathBuf,
    kind: Kind,
    state: State,
}

enum Kind {
    /// A bitcode object.
    Bitcode(InputBytes),
    /// An ELF relocatable object, a linker script, anything else native.
    Native(InputBytes),
    /// A shared library.
    Shared(InputBytes),
    /// An archive.
    Archive(Archive),
}

/// An archive's members and its lazy symbols.
struct Archive {
    members: Vec<Member>,
    /// Defined name -> member index (the first member defining it).
    index: HashMap<String, usize>,
    has_bitcode: bool,
    /// An object between `--start-lib` and `--end-lib`: lazy as an archive
    /// member, but its own file, named by its path (`--whole-archive` does
    /// not apply).
    lazy_object: bool,
}

struct Member {
    /// Its name in the archive.
    name: String,
    /// Its name in the link: `lib.a(member.o)`, or the path of a
    /// `--start-lib` object.
    display: String,
    /// A view of the archive's (or the object's) memory map.
    bytes: InputBytes,
    bitcode: bool,
}

impl Member {
    /// An ELF object with no allocated section and no global definition
    /// (rustc's `lib.rmeta`, in every rlib): lazily, nothing ever loads it.
    /// Read only for the archives the link copies (not std's, say).
    fn links_nothing(&self) -> bool {
        classify::sniff(self.bytes.as_slice()) == classify::Kind::Object
            && classify::inspect_object(self.bytes.as_slice()).is_ok_and(|info| info.links_nothing)
    }
}

/// The symbols a file defines and needs.
#[derive(Default)]
struct Symbols {
    defined: Vec<(String, Visibility)>,
    /// Native code: the defined names that are weak.
    weak_defined: HashSet<String>,
    undefined: Vec<(String, bool)>,
    /// For bitcode read with a cache: the BLAKE3 of its bytes.
    content_hash: Option<[u8; 32]>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visibility {
    Default,
    Hidden,
}

/// Every input file of the command line, by item position.
struct Inputs {
    files: Vec<Option<File>>,
    /// Where bitcode symbol tables come from (kept in the cache directory
    /// when the link has one).
    tables: SymbolTables,
}

/// A bitcode module the link takes.
struct BitcodeModule {
    name: String,
    bytes: InputBytes,
    /// The symbols it references (not defining them).
    references: Vec<String>,
    /// A member of an archive.
    member: bool,
    /// The BLAKE3 of `bytes`, when the link has a cache (computed once,
    /// for its symbol table; the memo's key takes it too).
    content_hash: Option<[u8; 32]>,
}

/// What the link uses.
#[derive(Default)]
struct Resolved {
    /// Bitcode modules, in command-line order.
    modules: Vec<BitcodeModule>,
    /// Per item position and member: members the link takes.
    taken: HashSet<(usize, usize)>,
    /// Definitions in bitcode, with their visibility.
    bitcode_definitions: HashMap<String, Visibility>,
    /// Names native code (objects, taken native members, shared libraries)
    /// references: they must stay visible.
    native_references: BTreeSet<String>,
    /// Names native objects and taken native members define: the first
    /// input defining each, and whether that definition is weak (for
    /// `explain`).
    native_definitions: HashMap<String, (String, bool)>,
    /// Native objects, shared libraries and archive members the link takes
    /// before LTO, in the order taken (`lib.a(member.o)` for members).
    native_inputs: Vec<String>,
    /// Lazy native archive members that define a runtime library function
    /// (and what those pull in): code generation may call the function, so
    /// the real link may load them after LTO. What they reference stays
    /// visible.
    libcall_members: Vec<String>,
}

impl Resolved {
    fn bitcode_defines(&self, symbol: &str) -> bool {
        self.bitcode_definitions.contains_key(symbol)
    }
}

impl Inputs {
    fn read(line: &LinkLine) -> Result<Inputs> {
        let tables = SymbolTables::new(cache_config(line).as_ref());
        let mut files = Vec::with_capacity(line.items.len());
        for (item, state) in &line.items {
            // What the engine cannot find or read (a library only a linker
            // script names, a missing file) is the real linker's to report.
            let path = match item {
                Item::File(path) => Some(PathBuf::from(path)),
                Item::Library { name, .. } => find_library(line, name, state),
                Item::Pass(_) => None,
            };
            files.push(path.and_then(|path| read_file(line.rooted(&path), *state, &tables)));
        }
        Ok(Inputs { files, tables })
    }

    fn any_bitcode(&self) -> bool {
        self.files.iter().flatten().any(|f| match &f.kind {
            Kind::Bitcode(_) => true,
            Kind::Archive(a) => a.has_bitcode,
            _ => false,
        })
    }

    /// Decides what the link takes, as lld does: every object and shared
    /// library; archive members only for a symbol still undefined (the
    /// first archive on the line that defines it), or under
    /// `--whole-archive`; repeated until nothing changes.
    fn resolve(&self, line: &LinkLine) -> Result<Resolved> {
        let mut state = Resolution::new(&self.tables);
        for symbol in line
            .undefined
            .iter()
            .chain(line.entry.iter())
            .chain(line.defsym_references().iter())
        {
            state.undefined.insert(symbol.clone());
        }
        if line.entry.is_none() && !line.shared {
            state.undefined.insert("_start".to_string());
        }
        // Objects, shared libraries and whole archives first, in order.
        for (position, file) in self.files.iter().enumerate() {
            let Some(file) = file else { continue };
            let name = file.path.display().to_string();
            match &file.kind {
                Kind::Bitcode(bytes) => state.take(name, bytes, true, false)?,
                Kind::Native(bytes) => {
                    // Linker scripts and the like have no symbols to read.
                    if object::File::parse(bytes.as_slice()).is_ok() {
                        state.take(name, bytes, false, false)?;
                    }
                }
                Kind::Shared(bytes) => {
                    let symbols = native_symbols(&name, bytes.as_slice(), true)?;
                    state.resolved.native_inputs.push(name);
                    for (symbol, _) in symbols.defined {
                        state.define(symbol);
                    }
                    for (symbol, _) in symbols.undefined {
                        state.resolved.native_references.insert(symbol);
                    }
                }
                Kind::Archive(archive) if file.state.whole_archive && !archive.lazy_object => {
                    for m in 0..archive.members.len() {
                        state.take_member(position, archive, m)?;
                    }
                }
                Kind::Archive(_) => {}
            }
        }
        self.take_lazy_members(&mut state)?;
        if let Some(first) = state.resolved.modules.first() {
            // LTO's code generation may call runtime library functions
            // (`memcpy`, `fmod`, `__udivti3`, ...) that no bitcode symbol
            // table shows, for the target of the first bitcode module as
            // in lld.
            let libcalls = crate::llvm::bitcode_triple(first.bytes.as_slice())
                .and_then(|triple| crate::llvm::runtime_libcall_symbols(&triple))
                .map_err(|reason| Error::invalid(&first.name, Phase::Classify, reason))?;
            // lld's rule (`handleLibcall`): a lazy bitcode member defining
            // one is taken before LTO, so that LTO compiles it.
            for libcall in &libcalls {
                if state.defined.contains(libcall) {
                    continue;
                }
                if let Some((position, m)) = self.lazy_member(libcall, &state) {
                    if let Some(File {
                        kind: Kind::Archive(archive),
                        ..
                    }) = &self.files[position]
                    {
                        if archive.members[m].bitcode {
                            state.take_member(position, archive, m)?;
                            self.take_lazy_members(&mut state)?;
                        }
                    }
                }
            }
            self.keep_what_libcall_members_need(&libcalls, &mut state);
        }
        Ok(state.resolved)
    }

    /// Takes lazy members until no undefined symbol pulls another.
    fn take_lazy_members(&self, state: &mut Resolution) -> Result<()> {
        while let Some((position, m)) = self.next_lazy_member(state) {
            if let Some(File {
                kind: Kind::Archive(archive),
                ..
            }) = &self.files[position]
            {
                state.take_member(position, archive, m)?;
            }
        }
        Ok(())
    }

    /// A lazy native member that defines a runtime library function is
    /// loaded by the real link after LTO when code generation calls the
    /// function (`fmod` for an `frem`, `__udivti3` for an `i128` division),
    /// and so is whatever it pulls in. What those members reference must
    /// still be there under its own name: it stays visible, as code a
    /// native object references does. (lld cannot know these references
    /// before LTO and internalizes such a symbol; with a personality routine
    /// its link works only while the member's `DW.ref` comdat meets the LTO
    /// object's, and with a plain reference it fails: `undefined symbol`.)
    fn keep_what_libcall_members_need(&self, libcalls: &[String], state: &mut Resolution) {
        let mut pending: Vec<(usize, usize)> = libcalls
            .iter()
            .filter(|libcall| !state.defined.contains(*libcall))
            .filter_map(|libcall| self.lazy_member(libcall, state))
            .collect();
        let mut seen: HashSet<(usize, usize)> = pending.iter().copied().collect();
        while let Some((position, m)) = pending.pop() {
            let Some(File {
                kind: Kind::Archive(archive),
                ..
            }) = &self.files[position]
            else {
                continue;
            };
            let member = &archive.members[m];
            if member.bitcode {
                continue;
            }
            // A member the engine cannot read is the real linker's to report.
            let Ok(symbols) = native_symbols(&member.display, member.bytes.as_slice(), false)
            else {
                continue;
            };
            state.resolved.libcall_members.push(member.display.clone());
            for (symbol, _) in symbols.undefined {
                if !state.defined.contains(&symbol) {
                    if let Some(next) = self.lazy_member(&symbol, state) {
                        if seen.insert(next) {
                            pending.push(next);
                        }
                    }
                }
                state.resolved.native_references.insert(symbol);
            }
        }
        state.resolved.libcall_members.sort();
        state.resolved.libcall_members.dedup();
    }

    /// The first archive member (by archive position on the line) that
    /// defines a symbol still undefined and is not taken yet.
    fn next_lazy_member(&self, state: &Resolution) -> Option<(usize, usize)> {
        state
            .undefined
            .iter()
            .find_map(|symbol| self.lazy_member(symbol, state))
    }

    /// The member not taken yet of the first lazy archive (by position on
    /// the line) whose index defines `symbol`.
    fn lazy_member(&self, symbol: &str, state: &Resolution) -> Option<(usize, usize)> {
        self.files
            .iter()
            .enumerate()
            .find_map(|(position, file)| match file {
                Some(File {
                    kind: Kind::Archive(archive),
                    state: item_state,
                    ..
                }) if !item_state.whole_archive || archive.lazy_object => archive
                    .index
                    .get(symbol)
                    .map(|&m| (position, m))
                    .filter(|taken| !state.resolved.taken.contains(taken)),
                _ => None,
            })
    }
}

/// Symbol resolution in progress.
struct Resolution<'t> {
    tables: &'t SymbolTables,
    resolved: Resolved,
    defined: HashSet<String>,
    /// Non-weak references not yet defined, ordered so that the run is
    /// deterministic.
    undefined: BTreeSet<String>,
}

impl<'t> Resolution<'t> {
    fn new(tables: &'t SymbolTables) -> Self {
        Resolution {
            tables,
            resolved: Resolved::default(),
            defined: HashSet::new(),
            undefined: BTreeSet::new(),
        }
    }

    fn define(&mut self, symbol: String) {
        self.undefined.remove(&symbol);
        self.defined.insert(symbol);
    }

    /// Takes an object (bitcode or native) into the link: its definitions
    /// resolve references, its references may pull archive members.
    fn take(
        &mut self,
        name: String,
        bytes: &InputBytes,
        bitcode: bool,
        member: bool,
    ) -> Result<()> {
        let symbols = if bitcode {
            bitcode_symbols(self.tables, &name, bytes.as_slice())?
        } else {
            native_symbols(&name, bytes.as_slice(), false)?
        };
        for (symbol, visibility) in symbols.defined {
            if bitcode {
                self.resolved
                    .bitcode_definitions
                    .entry(symbol.clone())
                    .or_insert(visibility);
            } else {
                let weak = symbols.weak_defined.contains(&symbol);
                self.resolved
                    .native_definitions
                    .entry(symbol.clone())
                    .or_insert_with(|| (name.clone(), weak));
            }
            self.define(symbol);
        }
        let mut references = Vec::new();
        for (symbol, weak) in symbols.undefined {
            if !bitcode {
                self.resolved.native_references.insert(symbol.clone());
            }
            if bitcode {
                references.push(symbol.clone());
            }
            if !weak && !self.defined.contains(&symbol) {
                self.undefined.insert(symbol);
            }
        }
        if bitcode {
            self.resolved.modules.push(BitcodeModule {
                name,
                bytes: bytes.clone(),
                references,
                member,
                content_hash: symbols.content_hash,
            });
        } else {
            self.resolved.native_inputs.push(name);
        }
        Ok(())
    }

    /// Takes member `m` of the archive at `position`.
    fn take_member(&mut self, position: usize, archive: &Archive, m: usize) -> Result<()> {
        let member = &archive.members[m];
        self.resolved.taken.insert((position, m));
        self.take(
            member.display.clone(),
            &member.bytes,
            member.bitcode,
            !archive.lazy_object,
        )
    }
}

/// `-lNAME` as lld finds it: in each `-L` directory in order, `libNAME.so`
/// (unless `-Bstatic`) then `libNAME.a`; `-l:FILE` finds FILE. A directory
/// starting with `=` is under `--sysroot`.
fn find_library(line: &LinkLine, name: &str, state: &State) -> Option<PathBuf> {
    let candidates: Vec<String> = match name.strip_prefix(':') {
        Some(file) => vec![file.to_string()],
        None if state.static_only => vec![format!("lib{name}.a")],
        None => vec![format!("lib{name}.so"), format!("lib{name}.a")],
    };
    for dir in &line.search {
        let dir = match (
            dir.to_str().and_then(|d| d.strip_prefix('=')),
            &line.sysroot,
        ) {
            (Some(rest), Some(root)) => root.join(rest.trim_start_matches('/')),
            _ => dir.clone(),
        };
        for candidate in &candidates {
            let path = dir.join(candidate);
            if path.is_file() {
                return Some(path);
            }
        }
    }
    None
}

/// The file at `path`, classified as `input/` classifies inputs; `None`
/// when it cannot be read (the real linker says why). An archive the
/// engine cannot read is left to the real linker as it is (ld.lld does LTO
/// on bitcode it finds there itself), and so is a GNU thin archive.
fn read_file(path: PathBuf, state: State, tables: &SymbolTables) -> Option<File> {
    let name = path.display().to_string();
    let bytes = crate::input::read_file(&path, Phase::Read).ok()?;
    let sniffed = classify::sniff(bytes.as_slice());
    let relocatable = || {
        object::File::parse(bytes.as_slice())
            .is_ok_and(|f| f.kind() == object::ObjectKind::Relocatable)
    };
    let kind = if state.lazy && (sniffed == classify::Kind::Bitcode || relocatable()) {
        match lazy_object(&name, bytes.clone(), tables) {
            Ok(archive) => Kind::Archive(archive),
            Err(_) => Kind::Native(bytes),
        }
    } else {
        match sniffed {
            classify::Kind::Bitcode => Kind::Bitcode(bytes),
            classify::Kind::Archive => match read_archive(&name, &bytes, tables) {
                Ok(archive) => Kind::Archive(archive),
                Err(_) => Kind::Native(bytes),
            },
            classify::Kind::Object
                if object::File::parse(bytes.as_slice())
                    .is_ok_and(|f| f.kind() == object::ObjectKind::Dynamic) =>
            {
                Kind::Shared(bytes)
            }
            _ => Kind::Native(bytes),
        }
    };
    Some(File { path, kind, state })
}

/// A `--start-lib` object as a one-member lazy archive.
fn lazy_object(name: &str, bytes: InputBytes, tables: &SymbolTables) -> Result<Archive> {
    let bitcode = classify::sniff(bytes.as_slice()) == classify::Kind::Bitcode;
    let symbols = if bitcode {
        bitcode_symbols(tables, name, bytes.as_slice())?
    } else {
        native_symbols(name, bytes.as_slice(), false)?
    };
    let index = symbols
        .defined
        .into_iter()
        .map(|(symbol, _)| (symbol, 0))
        .collect();
    Ok(Archive {
        members: vec![Member {
            name: name.to_string(),
            display: name.to_string(),
            bytes,
            bitcode,
        }],
        index,
        has_bitcode: bitcode,
        lazy_object: true,
    })
}

/// An archive's members (views of its map, as `input/` reads them) and
/// its lazy symbols: the archive's symbol table, or each member's own
/// symbols when it has none.
fn read_archive(name: &str, bytes: &InputBytes, tables: &SymbolTables) -> Result<Archive> {
    let read = archive::members(name, bytes)?;
    let table = archive::symbol_table(name, bytes, &read)?;
    let members: Vec<Member> = read
        .into_iter()
        .map(|member| Member {
            bitcode: classify::sniff(member.bytes.as_slice()) == classify::Kind::Bitcode,
            name: member.name,
            display: member.display,
            bytes: member.bytes,
        })
        .collect();
    let index = match table {
        Some(table) => table,
        None => {
            let mut index = HashMap::new();
            for (m, member) in members.iter().enumerate() {
                let symbols = if member.bitcode {
                    bitcode_symbols(tables, &member.display, member.bytes.as_slice())?
                } else {
                    native_symbols(&member.display, member.bytes.as_slice(), false)
                        .unwrap_or_default()
                };
                for (symbol, _) in symbols.defined {
                    index.entry(symbol).or_insert(m);
                }
            }
            index
        }
    };
    Ok(Archive {
        has_bitcode: members.iter().any(|m| m.bitcode),
        members,
        index,
        lazy_object: false,
    })
}

fn bitcode_symbols(tables: &SymbolTables, name: &str, bytes: &[u8]) -> Result<Symbols> {
    let (list, content_hash) = tables
        .symbols(bytes)
        .map_err(|reason| Error::invalid(name, Phase::Classify, reason))?;
    let mut symbols = Symbols {
        content_hash,
        ..Symbols::default()
    };
    for symbol in list {
        if symbol.undefined {
            symbols.undefined.push((symbol.name, symbol.weak));
        } else {
            let visibility = if symbol.hidden {
                Visibility::Hidden
            } else {
                Visibility::Default
            };
            symbols.defined.push((symbol.name, visibility));
        }
    }
    Ok(symbols)
}

/// A native object's (or, with `dynamic`, a shared library's exported)
/// global symbols.
fn native_symbols(name: &str, bytes: &[u8], dynamic: bool) -> Result<Symbols> {
    let file = object::File::parse(bytes)
        .map_err(|e| Error::invalid(name, Phase::Classify, e.to_string()))?;
    let mut symbols = Symbols::default();
    let list: Vec<_> = if dynamic {
        file.dynamic_symbols().collect()
    } else {
        file.symbols().collect()
    };
    for symbol in list {
        if symbol.is_local() {
            continue;
        }
        let Ok(symbol_name) = symbol.name() else {
            continue;
        };
        if symbol_name.is_empty() {
            continue;
        }
        if symbol.is_undefined() {
            symbols
                .undefined
                .push((symbol_name.to_string(), symbol.is_weak()));
        } else {
            if symbol.is_weak() {
                symbols.weak_defined.insert(symbol_name.to_string());
            }
            symbols
                .defined
                .push((symbol_name.to_string(), Visibility::Default));
        }
    }
    Ok(symbols)
}

/// Which LTO each module goes through (`--lto-engine-kind=`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum KindChoice {
    /// Each module by its own kind, as lld: ThinLTO bitcode (with a
    /// summary) thin, full-LTO bitcode fat, both in one link if mixed.
    Auto,
    /// Every module through fat LTO.
    Fat,
    /// Every module through thin LTO (summaries computed where missing).
    Thin,
}

impl KindChoice {
    fn of(line: &LinkLine) -> Result<KindChoice> {
        match line.lto.kind.as_deref() {
            None | Some("auto") => Ok(KindChoice::Auto),
            Some("fat" | "full") => Ok(KindChoice::Fat),
            Some("thin") => Ok(KindChoice::Thin),
            Some(other) => Err(Error::Usage(format!(
                "ld: --lto-engine-kind={other}: expected auto, fat or thin"
            ))),
        }
    }
}

/// The modules split by the LTO they go through: (fat, thin) indices into
/// `resolved.modules`.
fn split_by_kind(resolved: &Resolved, choice: KindChoice) -> Result<(Vec<usize>, Vec<usize>)> {
    let mut fat = Vec::new();
    let mut thin = Vec::new();
    for (i, module) in resolved.modules.iter().enumerate() {
        let info = crate::llvm::bitcode_lto_info(module.bytes.as_slice(), 0)
            .map_err(|reason| Error::invalid(&module.name, Phase::Classify, reason))?;
        let is_thin = match choice {
            KindChoice::Auto => info.is_thin,
            KindChoice::Fat => false,
            KindChoice::Thin => true,
        };
        if is_thin {
            thin.push(i);
        } else {
            fat.push(i);
        }
    }
    Ok((fat, thin))
}

/// The configuration lld's options ask for.
/// `--thinlto-cache-dir` with its `--thinlto-cache-policy`.
fn cache_config(line: &LinkLine) -> Option<CacheConfig> {
    let dir = line.lto.cache_dir.as_ref()?;
    let mut cache = CacheConfig::new(dir);
    cache.policy = line.lto.cache_policy.clone().unwrap_or_default();
    Some(cache)
}

fn config_for(line: &LinkLine, options: &LinkerOptions, work: &Path) -> Result<Config> {
    let mut config = Config {
        module_order: ModuleOrder::Added,
        ..Config::default()
    };
    if let Some(level) = &line.lto.opt_level {
        config.opt_level = level.parse::<OptLevel>().map_err(Error::Usage)?;
    }
    if let Some(level) = &line.lto.cg_opt_level {
        // lld takes 0..3 (`CodeGenOpt::getLevel`).
        config.codegen_opt_level = Some(match level.as_str() {
            "0" | "1" | "2" | "3" => level.parse::<OptLevel>().map_err(Error::Usage)?,
            _ => {
                return Err(Error::Usage(format!(
                    "ld: --lto-CGO{level}: invalid codegen optimization level for LTO (0-3)"
                )))
            }
        });
    }
    config.llvm_options = line.lto.mllvm.clone();
    config.explain = options.explain.clone();
    if let Some(file) = &line.lto.remarks_filename {
        let mut remarks = crate::config::OptRemarks::new(file);
        remarks.passes = line.lto.remarks_passes.clone();
        remarks.format = line.lto.remarks_format.clone().unwrap_or_default();
        remarks.with_hotness = line.lto.remarks_with_hotness;
        if let Some(threshold) = &line.lto.remarks_hotness_threshold {
            remarks.hotness_threshold = threshold
                .parse()
                .map_err(|e| Error::Usage(format!("ld: --opt-remarks-hotness-threshold: {e}")))?;
        }
        config.opt_remarks = Some(remarks);
    }
    if let Some(count) = &line.lto.partitions {
        // lld's rule: a count of at least one.
        config.fat_partitions = match count.parse::<usize>() {
            Ok(n) if n >= 1 => FatPartitions::Fixed(n),
            _ => {
                return Err(Error::Usage(format!(
                    "ld: --lto-partitions={count}: expected a number of partitions of at least 1"
                )))
            }
        };
    }
    if let Some(jobs) = &line.lto.jobs {
        config.jobs = match jobs.parse::<usize>() {
            Ok(0) | Err(_) => Jobs::Auto,
            Ok(n) => Jobs::Fixed(n),
        };
    }
    config.target_cpu = line.lto.cpu.clone();
    config.cache = cache_config(line);
    if line.lto.save_temps {
        config.save_temps = Some(work.with_extension("temps"));
    }
    config.reloc_model = crate::config::RelocModel::Pic;
    if let Some(workers) = &options.workers {
        config.isolation = crate::config::Isolation::Workers(workers.clone());
    }
    Ok(config)
}

/// What code outside a group of modules can reach, which must stay
/// visible: references from native code and shared libraries, the entry,
/// `-u`, `--defsym` expressions, exports, and the references of the link's
/// other bitcode (`others`: the modules of the other LTO kind).
fn preserved(line: &LinkLine, resolved: &Resolved, others: &[usize]) -> Result<Vec<String>> {
    let mut names: BTreeSet<String> = resolved.native_references.iter().cloned().collect();
    names.extend(line.undefined.iter().cloned());
    names.extend(line.entry.iter().cloned());
    names.extend(line.defsym_references());
    if line.entry.is_none() {
        names.extend(["_start".to_string(), "main".to_string()]);
    }
    names.extend(exported(line, resolved)?);
    for &i in others {
        names.extend(resolved.modules[i].references.iter().cloned());
    }
    Ok(names.into_iter().collect())
}

/// What a group's run is asked to give besides its objects.
#[derive(Clone, Copy)]
struct Wanted {
    /// The JSON report.
    report: bool,
    /// Explanations as JSON rather than text.
    explain_json: bool,
}

/// One LTO run over `group` (indices into `resolved.modules`).
/// [`run_group`], its objects written to `dir`: recalled from a memo of the
/// same run when one is whole (see `memo.rs`), else run (and remembered
/// when every object is a cache entry). The objects' paths and cache keys
/// (when every object is a cache entry) and the run's JSON report (a
/// recalled run's only `with_report`).
fn run_group_remembered(
    config: &Config,
    kind: LtoKind,
    resolved: &Resolved,
    group: &[usize],
    preserve: Vec<String>,
    dir: &Path,
    wanted: Wanted,
) -> Result<(LtoObjects, Option<serde_json::Value>)> {
    let Wanted {
        report: with_report,
        explain_json,
    } = wanted;
    let start = std::time::Instant::now();
    let memo = match &config.cache {
        Some(cache) if memo::applies(config, kind) => {
            let modules = group.iter().map(|&i| {
                let module = &resolved.modules[i];
                let hash = module
                    .content_hash
                    .unwrap_or_else(|| crate::llvm::blake3(module.bytes.as_slice()));
                (module.name.as_str(), hash)
            });
            let key = memo::key(config, kind, modules, &preserve);
            key.map(|key| crate::thin::Cache::open(cache).map(|cache| (cache, key)))
                .transpose()?
        }
        _ => None,
    };
    if let Some((cache, key)) = &memo {
        if let Some(recalled) = memo::recall_into(cache, key, dir, with_report)? {
            for diagnostic in &recalled.remembered.diagnostics {
                eprintln!("lto-engine: {diagnostic}");
            }
            let seconds = start.elapsed().as_secs_f64();
            let report = recalled
                .report
                .map(|report| memo::recalled_report(report, seconds, cache));
            let cache_keys = recalled.remembered.objects.into_iter().map(|(_, key)| key);
            let objects = LtoObjects {
                paths: recalled.paths,
                cache_keys: Some(cache_keys.collect()),
            };
            return Ok((objects, report));
        }
    }
    let output = run_group(config, kind, resolved, group, preserve, explain_json)?;
    let report = output.report.to_json();
    let written = output.write(&crate::output::WriteTo::scratch_dir(dir))?;
    let mut cache_keys = None;
    if let Some((cache, key)) = &memo {
        // Only a run whose every object is a cache entry now: one whose
        // store failed (a full disk) runs again next time.
        let keyed: Option<Vec<(String, String)>> = output
            .objects
            .iter()
            .map(|object| {
                let key = object.cache_key.clone()?;
                cache
                    .dir()
                    .join(format!("llvmcache-{key}"))
                    .is_file()
                    .then(|| (object.file_name.clone(), key))
            })
            .collect();
        if let Some(objects) = keyed {
            cache_keys = Some(objects.iter().map(|(_, key)| key.clone()).collect());
            let remembered = memo::Remembered {
                objects,
                diagnostics: output.diagnostics.iter().map(diagnostic_line).collect(),
            };
            memo::remember(cache, key, &remembered, &report);
        }
    }
    let objects = LtoObjects {
        paths: written.objects,
        cache_keys,
    };
    Ok((objects, Some(report)))
}

/// The objects an LTO step gave the final link.
#[derive(Default)]
struct LtoObjects {
    /// Their paths, in link order.
    paths: Vec<PathBuf>,
    /// Their cache keys, in the same order, when every one is a cache
    /// entry (what identifies them to the final link's memo).
    cache_keys: Option<Vec<String>>,
}

/// A diagnostic as the linker mode prints it: one line.
/// An LTO run's explanations on stdout: text, or one JSON array.
fn print_explanations(explanations: &[crate::report::SymbolExplanation], json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string(explanations).unwrap_or_else(|_| "[]".to_string())
        );
    } else {
        for explanation in explanations {
            print!("{explanation}");
        }
    }
}

fn diagnostic_line(diagnostic: &crate::llvm::Diagnostic) -> String {
    diagnostic.to_string().replace('\n', " ")
}

fn run_group(
    config: &Config,
    kind: LtoKind,
    resolved: &Resolved,
    group: &[usize],
    preserve: Vec<String>,
    explain_json: bool,
) -> Result<crate::output::Output> {
    let session = Session::new(config.clone(), kind)?;
    for &i in group {
        let module = &resolved.modules[i];
        let origin = if module.member {
            ModuleOrigin::ArchiveMember
        } else {
            ModuleOrigin::File
        };
        session.add(Input::shared_bitcode(
            module.name.clone(),
            module.bytes.clone(),
            origin,
        ))?;
    }
    session.preserve(preserve)?;
    session.preserved_by_linker();
    let output = session.run()?;
    for diagnostic in &output.diagnostics {
        eprintln!("lto-engine: {}", diagnostic_line(diagnostic));
    }
    if !config.explain.is_empty() {
        let mut explanations = output.report.explanations.clone();
        for explanation in &mut explanations {
            if let Some((input, weak)) = resolved.native_definitions.get(&explanation.symbol) {
                explanation.add_native_definition(input, *weak);
            }
            if resolved.native_references.contains(&explanation.symbol) {
                explanation.add_native_reference();
            }
        }
        print_explanations(&explanations, explain_json);
    }
    Ok(output)
}

/// Runs LTO on the modules the link takes; the objects' paths. As lld, a
/// link with both full-LTO and ThinLTO bitcode runs both: the full-LTO
/// modules merged by fat LTO, the thin ones by thin LTO, each keeping
/// visible what the other side references.
fn lto(
    line: &LinkLine,
    resolved: &Resolved,
    options: &LinkerOptions,
    work: &Path,
) -> Result<(LtoObjects, Option<serde_json::Value>)> {
    let (fat, thin) = split_by_kind(resolved, KindChoice::of(line)?)?;
    let config = config_for(line, options, work)?;
    if let Some(remarks) = &config.opt_remarks {
        // This link's remarks file, as lld truncates it: the fat run writes
        // it, a thin run alone leaves it empty.
        crate::fs::remove_if_present(&remarks.filename)?;
    }
    let mut reports = Vec::new();
    let mut objects = LtoObjects {
        paths: Vec::new(),
        cache_keys: Some(Vec::new()),
    };
    // The fat object first, as lld places its regular LTO object (task 0).
    for (kind, group, others, dir) in [
        (LtoKind::Fat, &fat, &thin, "fat"),
        (LtoKind::Thin, &thin, &fat, "thin"),
    ] {
        if group.is_empty() {
            continue;
        }
        let preserve = preserved(line, resolved, others)?;
        if kind == LtoKind::Thin && line.lto.distributor.is_some() {
            let output = line.output.as_deref().unwrap_or(Path::new("a.out"));
            let (written, report) =
                distribute::run(line, &config, resolved, group, preserve, output)?;
            reports.push(report);
            objects.paths.extend(written.paths);
            objects.cache_keys = None;
            continue;
        }
        let (written, report) = run_group_remembered(
            &config,
            kind,
            resolved,
            group,
            preserve,
            &work.join(dir),
            Wanted {
                report: line.report.is_some(),
                explain_json: options.explain_json,
            },
        )?;
        reports.extend(report);
        if let Some(temps) = &config.save_temps {
            let temps = temps.join(dir);
            std::fs::create_dir_all(&temps)
                .map_err(|e| Error::io(temps.display(), Phase::Write, e))?;
            // The work directory goes when the link is done: the objects the
            // real link got stay beside the save-temps bitcode, as lld keeps
            // its `<output>.lto.o`.
            for object in &written.paths {
                let Some(file_name) = object.file_name() else {
                    continue;
                };
                let bytes = std::fs::read(object)
                    .map_err(|e| Error::io(object.display(), Phase::Write, e))?;
                crate::fs::write_atomically(&temps.join(file_name), &bytes)?;
            }
        }
        objects.paths.extend(written.paths);
        objects.cache_keys = objects
            .cache_keys
            .zip(written.cache_keys)
            .map(|(mut keys, more)| {
                keys.extend(more);
                keys
            });
    }
    let mut report = None;
    if line.report.is_some() {
        // One run: its report; a mixed link: both, under "runs".
        let mut json = if reports.len() == 1 {
            reports.remove(0)
        } else {
            serde_json::json!({ "kind": "mixed", "runs": reports })
        };
        // What the real link gets besides the LTO objects: what a user
        // needs to see when it fails.
        json["link"] = serde_json::json!({
            "native_inputs": resolved.native_inputs,
            "bitcode_inputs": resolved.modules.iter().map(|m| &m.name).collect::<Vec<_>>(),
            "libcall_members": resolved.libcall_members,
        });
        report = Some(json);
    }
    Ok((objects, report))
}

/// `--thinlto-index-only[=LIST]`: lld's distributed thin link. Each ThinLTO
/// module gets `<path>.thinlto.bc` (and with `--thinlto-emit-imports-files`
/// `<path>.imports`), placed by `--thinlto-prefix-replace` and named by
/// `--thinlto-object-suffix-replace`; LIST names the native objects the
/// final link will need; full-LTO modules get empty index (and imports)
/// files, as lld leaves them, and `--start-lib` bitcode the link did not
/// take an index that tells backends to skip it (lld's, for build systems
/// that expect a file per input). No object is compiled and no final link
/// runs.
fn index_only(
    line: &LinkLine,
    inputs: &Inputs,
    resolved: &Resolved,
    options: &LinkerOptions,
    work: &Path,
    list: Option<&Path>,
) -> Result<()> {
    if line.lto.kind.is_some() {
        return Err(Error::Usage(
            "ld: --lto-engine-kind with --thinlto-index-only: the index files are for the \
             modules' own kinds, as lld writes them"
                .to_string(),
        ));
    }
    if let Some(module) = resolved.modules.iter().find(|m| m.member) {
        return Err(Error::Usage(format!(
            "ld: --thinlto-index-only: {} is bitcode in an archive; lld names it \
             'ARCHIVE(MEMBER at OFFSET)', a path no distributed backend can open, and the \
             engine does not write index files for it: extract the member and list it \
             between --start-lib and --end-lib",
            module.name
        )));
    }
    let (replace, suffix) = replacements(line)?;
    let (fat, thin) = split_by_kind(resolved, KindChoice::Auto)?;
    let config = config_for(line, options, work)?;
    // lld opens the list file first: it exists (maybe empty) whatever follows.
    let mut listed = String::new();
    if !thin.is_empty() {
        let session = Session::new(config, LtoKind::Thin)?;
        for &i in &thin {
            // By path: the index records the file each backend compiles.
            session.add(Input::path(&resolved.modules[i].name))?;
        }
        session.preserve(preserved(line, resolved, &fat)?)?;
        session.preserved_by_linker();
        let mut index = crate::thin::IndexOptions::new(work.join("index"));
        index.prefix_replace = Some(replace.clone());
        index.object_suffix_replace = suffix.clone();
        index.emit_imports = line.lto.emit_imports;
        let output = session.run_with(crate::session::Backends::IndexFiles(index))?;
        for diagnostic in &output.diagnostics {
            eprintln!("lto-engine: {}", diagnostic.to_string().replace('\n', " "));
        }
        if let Some(module) = output.jobs.iter().find(|job| job.module_written) {
            return Err(Error::Usage(format!(
                "ld: --thinlto-index-only: {} has no file of its own for a backend to compile",
                module.name
            )));
        }
        // The native object of each module, in module order, as lld's
        // write-indexes backend lists them.
        let native = replace.native.as_ref().unwrap_or(&replace.new);
        for job in &output.jobs {
            listed.push_str(&replace_prefix(&job.module_path, &replace.old, native));
            listed.push('\n');
        }
        if let Some(path) = &line.report {
            let text = serde_json::to_string_pretty(&output.report.to_json())
                .map_err(|e| Error::io(path.display(), Phase::Write, e.into()))?;
            crate::fs::write_atomically(path, text.as_bytes())?;
        }
    }
    // Full-LTO modules: empty files where their index files would be.
    for &i in &fat {
        let mut name = resolved.modules[i].name.clone();
        if let Some(suffix) = &suffix {
            if let Some(stem) = name.strip_suffix(suffix.old.as_str()) {
                name = format!("{stem}{}", suffix.new);
            }
        }
        let base = replace_prefix(&name, &replace.old, &replace.new);
        let mut files = vec![format!("{base}.thinlto.bc")];
        if line.lto.emit_imports {
            files.push(format!("{base}.imports"));
        }
        for file in files {
            write_creating_dirs(Path::new(&file), b"")?;
        }
    }
    // Lazy bitcode files left out of the link: lld's skip index.
    let suffixed = |name: &str| match &suffix {
        Some(suffix) => match name.strip_suffix(suffix.old.as_str()) {
            Some(stem) => format!("{stem}{}", suffix.new),
            None => name.to_string(),
        },
        None => name.to_string(),
    };
    for (position, file) in inputs.files.iter().enumerate() {
        let Some(File {
            path,
            kind: Kind::Archive(archive),
            ..
        }) = file
        else {
            continue;
        };
        if !archive.lazy_object || !archive.has_bitcode || resolved.taken.contains(&(position, 0)) {
            continue;
        }
        let name = suffixed(&path.display().to_string());
        let base = suffixed(&replace_prefix(&name, &replace.old, &replace.new));
        write_creating_dirs(
            Path::new(&format!("{base}.thinlto.bc")),
            &crate::llvm::skip_index_bytes(),
        )?;
        if line.lto.emit_imports {
            write_creating_dirs(Path::new(&format!("{base}.imports")), b"")?;
        }
    }
    if let Some(list) = list {
        write_creating_dirs(list, listed.as_bytes())?;
    }
    Ok(())
}

/// `--thinlto-prefix-replace` (lld's placement without one: beside each
/// module) and `--thinlto-object-suffix-replace`, checked as lld checks
/// them, also without `--thinlto-index-only` (where they do nothing).
fn replacements(
    line: &LinkLine,
) -> Result<(
    crate::thin::PrefixReplace,
    Option<crate::thin::SuffixReplace>,
)> {
    let replace: crate::thin::PrefixReplace = match &line.lto.prefix_replace {
        Some(text) => text.parse().map_err(|_| {
            Error::Usage(format!(
                "ld: --thinlto-prefix-replace= expects 'old;new' format, but got {text}"
            ))
        })?,
        None => ";".parse().map_err(Error::Usage)?,
    };
    if replace.native.is_some() && !matches!(line.lto.index_only, Some(Some(_))) {
        return Err(Error::Usage(
            "ld: --thinlto-prefix-replace=old_dir;new_dir;obj_dir must be used with \
             --thinlto-index-only="
                .to_string(),
        ));
    }
    let suffix = match &line.lto.object_suffix_replace {
        Some(text) => Some(text.parse().map_err(|_| {
            Error::Usage(format!(
                "ld: --thinlto-object-suffix-replace= expects 'old;new' format, but got {text}"
            ))
        })?),
        None => None,
    };
    Ok((replace, suffix))
}

/// `lto::getThinLTOOutputFile`: `path` with prefix `old` replaced by `new`
/// (unchanged when it does not start with `old`).
fn replace_prefix(path: &str, old: &str, new: &str) -> String {
    match path.strip_prefix(old) {
        Some(rest) => format!("{new}{rest}"),
        None => path.to_string(),
    }
}

fn write_creating_dirs(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(parent.display(), Phase::Write, e))?;
    }
    crate::fs::write_atomically(path, bytes)
}

/// The bitcode definitions the output exports: for a shared object or
/// `--export-dynamic`, every default-visibility one, narrowed by version
/// scripts' `local:` patterns as lld narrows them; for an executable, what
/// dynamic lists name.
fn exported(line: &LinkLine, resolved: &Resolved) -> Result<Vec<String>> {
    let read = |path: &PathBuf| {
        let path = line.rooted(path);
        std::fs::read_to_string(&path).map_err(|e| Error::io(path.display(), Phase::Read, e))
    };
    let mut scripts = Vec::new();
    for path in &line.version_scripts {
        // A script this reader cannot follow narrows nothing.
        match exports::VersionScript::parse(&read(path)?) {
            Some(script) => scripts.push(script),
            None => {
                scripts.clear();
                break;
            }
        }
    }
    let mut patterns = Vec::new();
    for path in &line.dynamic_lists {
        patterns.extend(exports::dynamic_list(&read(path)?));
    }
    let all_default = line.shared || line.export_dynamic;
    Ok(resolved
        .bitcode_definitions
        .iter()
        .filter(|(name, visibility)| {
            let listed = patterns.iter().any(|p| exports::glob(p, name));
            let exported = all_default
                && **visibility == Visibility::Default
                && scripts.iter().all(|script| script.exports(name));
            listed || exported
        })
        .map(|(name, _)| name.clone())
        .collect())
}

/// The real linker's command line: every item as given, except that
/// bitcode files give way to the LTO objects (where the first bitcode
/// was), and archives holding bitcode to a copy of their native members
/// (which the real linker still takes lazily; none when no native member
/// links anything).
struct RealLink {
    command: Vec<String>,
    /// The archives copied (their paths as given).
    copied: Vec<String>,
    /// Each file the engine made for the command, with its identity (an
    /// object's cache key, a copy's BLAKE3); `None` when an object is not
    /// a cache entry.
    made: Option<Vec<(PathBuf, String)>>,
}

fn rewrite(
    line: &LinkLine,
    inputs: &Inputs,
    objects: &LtoObjects,
    work: &Path,
) -> Result<RealLink> {
    let mut command = Vec::new();
    let mut copied = Vec::new();
    let mut made: Option<Vec<(PathBuf, String)>> = objects.cache_keys.as_ref().map(|keys| {
        objects
            .paths
            .iter()
            .cloned()
            .zip(keys.iter().map(|key| format!("cache {key}")))
            .collect()
    });
    let mut placed = false;
    let objects = &objects.paths;
    for (position, ((item, _), file)) in line.items.iter().zip(&inputs.files).enumerate() {
        match (item, file) {
            (Item::Pass(tokens), _) => command.extend(tokens.iter().cloned()),
            (
                _,
                Some(File {
                    kind: Kind::Bitcode(_),
                    ..
                }),
            ) => {
                if !placed {
                    command.extend(objects.iter().map(|p| outside_chroot(line, p)));
                    placed = true;
                }
            }
            (
                _,
                Some(File {
                    path,
                    kind: Kind::Archive(archive),
                    state,
                }),
            ) if archive.has_bitcode => {
                if !placed {
                    command.extend(objects.iter().map(|p| outside_chroot(line, p)));
                    placed = true;
                }
                // A lazy member that links nothing is never loaded: an rlib
                // whose only native member is its `lib.rmeta` (megabytes,
                // in every rlib of a cargo build) needs no copy at all.
                // Under --whole-archive every member stays, as given.
                let native: Vec<(String, &[u8])> = archive
                    .members
                    .iter()
                    .filter(|m| !m.bitcode && (state.whole_archive || !m.links_nothing()))
                    .map(|m| (m.name.clone(), m.bytes.as_slice()))
                    .collect();
                if !native.is_empty() {
                    let copy = work.join(format!(
                        "{position}-{}.native.a",
                        path.file_stem()
                            .map_or("lib".into(), |s| s.to_string_lossy())
                    ));
                    let bytes = crate::llvm::archive_bytes(&native).map_err(|reason| {
                        Error::llvm(copy.display().to_string(), Phase::Write, reason)
                    })?;
                    crate::fs::write_scratch(&copy, &bytes)?;
                    command.push(outside_chroot(line, &copy));
                    if let Some(made) = &mut made {
                        let identity =
                            format!("copy {}", crate::thin::hex(&crate::llvm::blake3(&bytes)));
                        made.push((copy.clone(), identity));
                    }
                    copied.push(path.display().to_string());
                }
            }
            (Item::File(path), _) => command.push(path.clone()),
            (Item::Library { tokens, .. }, _) => command.extend(tokens.iter().cloned()),
        }
    }
    Ok(RealLink {
        command,
        copied,
        made,
    })
}
