//! An `ld.lld` command line as clang and rustc write it: the inputs in
//! order (files, `-l` libraries, groups, `--whole-archive` regions), the
//! options LTO needs (output kind, entry, `-u`, exports, lld's LTO options)
//! and everything else, kept verbatim for the real linker.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One element of the command line, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// An input file, as written.
    File(String),
    /// `-lNAME` / `-l NAME` / `-l:FILE`, as written (`tokens`).
    Library {
        /// `NAME` or `:FILE`.
        name: String,
        /// The tokens to give the real linker.
        tokens: Vec<String>,
    },
    /// Tokens the engine leaves to the real linker (state options such as
    /// `--as-needed`, `--start-group` and `-Bstatic` included: they are
    /// tracked too, see [`State`]).
    Pass(Vec<String>),
}

/// What an item's position means for the inputs that follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct State {
    /// Inside `--whole-archive`.
    pub whole_archive: bool,
    /// `-Bstatic` (or `-static`): `-l` finds only `.a`.
    pub static_only: bool,
    /// Between `--start-lib` and `--end-lib`: objects are lazy, as archive
    /// members.
    pub lazy: bool,
}

/// The parts of a command line LTO needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkLine {
    /// Every item in order, with the state it is read in.
    pub items: Vec<(Item, State)>,
    /// `-o`.
    pub output: Option<PathBuf>,
    /// `-shared`.
    pub shared: bool,
    /// `-r` / `--relocatable`: not supported.
    pub relocatable: bool,
    /// `--export-dynamic` / `-E`.
    pub export_dynamic: bool,
    /// `-e` / `--entry`.
    pub entry: Option<String>,
    /// `-u` / `--undefined`, `--export-dynamic-symbol`, `--require-defined`.
    pub undefined: Vec<String>,
    /// `-L` directories, in order.
    pub search: Vec<PathBuf>,
    /// `--sysroot`.
    pub sysroot: Option<PathBuf>,
    /// `--wrap` symbols (refused when they concern bitcode).
    pub wrap: Vec<String>,
    /// lld's LTO options, as the engine reads them.
    pub lto: LtoOptions,
    /// `--lto-engine-report=FILE` (the engine's own): the run's JSON report.
    pub report: Option<PathBuf>,
    /// `--version-script` files.
    pub version_scripts: Vec<PathBuf>,
    /// `--dynamic-list` files.
    pub dynamic_lists: Vec<PathBuf>,
    /// `--defsym=SYM=EXPR` / `--defsym SYM=EXPR`: (SYM, EXPR).
    pub defsym: Vec<(String, String)>,
    /// `--chroot DIR`: absolute input paths are read under DIR (lld's
    /// `readFile`; search directories are looked in as given).
    pub chroot: Option<PathBuf>,
}

impl LinkLine {
    /// `path` as lld reads it: under `--chroot` when absolute.
    pub fn rooted(&self, path: &Path) -> PathBuf {
        match &self.chroot {
            Some(root) if path.is_absolute() => {
                let mut joined = root.as_os_str().to_owned();
                joined.push(path.as_os_str());
                PathBuf::from(joined)
            }
            _ => path.to_path_buf(),
        }
    }

    /// The symbols `--defsym` expressions name: lld adds each as an
    /// undefined symbol used by regular objects (it may pull an archive
    /// member, and must stay visible).
    pub fn defsym_references(&self) -> Vec<String> {
        let mut names = Vec::new();
        for (_, expr) in &self.defsym {
            let mut current = String::new();
            let mut flush = |current: &mut String| {
                let first = current.chars().next();
                if first.is_some_and(|c| !c.is_ascii_digit()) {
                    names.push(std::mem::take(current));
                } else {
                    current.clear();
                }
            };
            for c in expr.chars() {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$') {
                    current.push(c);
                } else {
                    flush(&mut current);
                }
            }
            flush(&mut current);
        }
        names
    }
}

/// lld's LTO options (and clang's `-plugin-opt=` spellings).
#[derive(Debug, Clone, Default)]
pub(crate) struct LtoOptions {
    /// `--lto-O<n>` / `-plugin-opt=O<n>`.
    pub opt_level: Option<String>,
    /// `--thinlto-jobs=` / `-plugin-opt=jobs=`.
    pub jobs: Option<String>,
    /// `--thinlto-cache-dir=` / `-plugin-opt=cache-dir=`.
    pub cache_dir: Option<PathBuf>,
    /// `--thinlto-cache-policy=`.
    pub cache_policy: Option<String>,
    /// `-plugin-opt=mcpu=` / `--lto-mcpu` (not an lld flag; clang's).
    pub cpu: Option<String>,
    /// `--save-temps`.
    pub save_temps: bool,
    /// `--lto-CGO<n>`: the code generation level apart from the IR level.
    pub cg_opt_level: Option<String>,
    /// `--lto-partitions=N` / `-plugin-opt=lto-partitions=N`: fat LTO's code
    /// generation partitions (the engine's default is its own `auto`).
    pub partitions: Option<String>,
    /// `--thinlto-index-only[=FILE]` / `-plugin-opt=thinlto-index-only[=FILE]`:
    /// `Some(None)` without a list file.
    pub index_only: Option<Option<PathBuf>>,
    /// `--thinlto-emit-imports-files`.
    pub emit_imports: bool,
    /// `--thinlto-prefix-replace=OLD;NEW[;NATIVEOBJPREFIX]`.
    pub prefix_replace: Option<String>,
    /// `--thinlto-object-suffix-replace=OLD;NEW`.
    pub object_suffix_replace: Option<String>,
    /// `-mllvm OPT` / `--mllvm=OPT` / `-plugin-opt=-OPT`, in order.
    pub mllvm: Vec<String>,
    /// `--lto-engine-kind=auto|fat|thin` (the engine's own): which LTO the
    /// bitcode goes through; `None` is auto (each module by its kind).
    pub kind: Option<String>,
    /// `--opt-remarks-filename F` / `-plugin-opt=opt-remarks-filename=F`.
    pub remarks_filename: Option<PathBuf>,
    /// `--opt-remarks-passes R` / `-plugin-opt=opt-remarks-passes=R`.
    pub remarks_passes: Option<String>,
    /// `--opt-remarks-format F` / `-plugin-opt=opt-remarks-format=F`.
    pub remarks_format: Option<String>,
    /// `--opt-remarks-with-hotness` / `-plugin-opt=opt-remarks-with-hotness`.
    pub remarks_with_hotness: bool,
    /// `--opt-remarks-hotness-threshold` /
    /// `-plugin-opt=opt-remarks-hotness-threshold=`, as given.
    pub remarks_hotness_threshold: Option<String>,
    /// `--thinlto-distributor=`: lld 22's distributed ThinLTO, the backend
    /// jobs run by this program.
    pub distributor: Option<String>,
    /// `--thinlto-distributor-arg=`, in order (before the job file).
    pub distributor_args: Vec<String>,
    /// `--thinlto-remote-compiler=`: what the jobs run (default: this
    /// executable's `backend`).
    pub remote_compiler: Option<String>,
    /// `--thinlto-remote-compiler-prepend-arg=`, in order.
    pub remote_compiler_prepend_args: Vec<String>,
    /// `--thinlto-remote-compiler-arg=`, in order.
    pub remote_compiler_args: Vec<String>,
    /// Options the engine cannot honour yet: each refused with its reason.
    pub unsupported: Vec<(String, &'static str)>,
}

/// Options that take the next token as their value when not written with
/// `=` (lld's separate-argument options that clang and rustc use).
const WITH_VALUE: &[&str] = &[
    "-o",
    "-m",
    "-e",
    "--entry",
    "-u",
    "--undefined",
    "-L",
    "--library-path",
    "-l",
    "--library",
    "-T",
    "--opt-remarks-filename",
    "--opt-remarks-passes",
    "--opt-remarks-format",
    "--opt-remarks-hotness-threshold",
    "--script",
    "-z",
    "-soname",
    "-h",
    "--soname",
    "-rpath",
    "-R",
    "-dynamic-linker",
    "--dynamic-linker",
    "-I",
    "--sysroot",
    "--version-script",
    "--dynamic-list",
    "-y",
    "--trace-symbol",
    "-Map",
    "--defsym",
    "--wrap",
    "-plugin",
    "-plugin-opt",
    "-mllvm",
    "--mllvm",
    "--chroot",
    "--exclude-libs",
    "--export-dynamic-symbol",
    "--require-defined",
    "-init",
    "-fini",
    "--image-base",
    "--hash-style",
    "-b",
    "--format",
    "--dependency-file",
    "--retain-symbols-file",
    "--symbol-ordering-file",
    "--version-script",
    "--thinlto-cache-dir",
    "--thinlto-jobs",
    "--thinlto-cache-policy",
    "--lto-partitions",
    "--threads",
    "-F",
    "--filter",
    "-f",
    "--auxiliary",
    "--lto-engine-report",
    "--lto-engine-kind",
];

/// Reads an `ld.lld` command line (response files already expanded).
pub(crate) fn parse(args: &[String]) -> Result<LinkLine> {
    let mut line = LinkLine::default();
    let mut state = State::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        // `--opt=value`, `-opt=value`, or `-opt value` for the options above.
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with('-') => (name.to_string(), Some(value)),
            _ => (arg.clone(), None),
        };
        let takes_value = WITH_VALUE.contains(&name.as_str()) && inline.is_none();
        let (value, tokens): (Option<String>, Vec<String>) = if takes_value {
            let value = args
                .get(i + 1)
                .cloned()
                .ok_or_else(|| Error::Usage(format!("ld: {arg} needs a value")))?;
            i += 1;
            (Some(value.clone()), vec![arg.clone(), value])
        } else {
            (inline.map(str::to_string), vec![arg.clone()])
        };
        i += 1;
        let value_of = || value.clone().unwrap_or_default();
        // Joined short forms: -lfoo, -Lfoo, -ofoo, -ufoo, -efoo.
        if !takes_value && inline.is_none() && arg.len() > 2 && !arg.starts_with("--") {
            let (flag, rest) = arg.split_at(2);
            match flag {
                "-l" => {
                    line.items.push((
                        Item::Library {
                            name: rest.to_string(),
                            tokens: vec![arg.clone()],
                        },
                        state,
                    ));
                    continue;
                }
                "-L" => {
                    line.search.push(PathBuf::from(rest));
                    line.items.push((Item::Pass(tokens), state));
                    continue;
                }
                "-o" if !arg.starts_with("-opt") => {
                    line.output = Some(PathBuf::from(rest));
                    line.items.push((Item::Pass(tokens), state));
                    continue;
                }
                "-u" => {
                    line.undefined.push(rest.to_string());
                    line.items.push((Item::Pass(tokens), state));
                    continue;
                }
                _ => {}
            }
        }
        if !arg.starts_with('-') || arg == "-" {
            line.items.push((Item::File(arg.clone()), state));
            continue;
        }
        let mut keep = true;
        match name.as_str() {
            "-o" | "--output" => line.output = Some(PathBuf::from(value_of())),
            "-l" | "--library" => {
                line.items.push((
                    Item::Library {
                        name: value_of(),
                        tokens,
                    },
                    state,
                ));
                continue;
            }
            "-L" | "--library-path" => line.search.push(PathBuf::from(value_of())),
            "--sysroot" => line.sysroot = Some(PathBuf::from(value_of())),
            "-shared" | "--shared" | "-Bshareable" => line.shared = true,
            "-r" | "--relocatable" => line.relocatable = true,
            "-E" | "--export-dynamic" => line.export_dynamic = true,
            "--no-export-dynamic" => line.export_dynamic = false,
            "-e" | "--entry" => line.entry = Some(value_of()),
            "-u" | "--undefined" | "--require-defined" | "--export-dynamic-symbol" => {
                line.undefined.push(value_of())
            }
            "--start-lib" => state.lazy = true,
            "--end-lib" => state.lazy = false,
            "--whole-archive" => state.whole_archive = true,
            "--no-whole-archive" => state.whole_archive = false,
            "-Bstatic" | "-dn" | "-non_shared" | "-static" | "--static" => state.static_only = true,
            "-Bdynamic" | "-dy" | "-call_shared" => state.static_only = false,
            "--wrap" => line.wrap.push(value_of()),
            "--version-script" => line.version_scripts.push(PathBuf::from(value_of())),
            "--dynamic-list" => line.dynamic_lists.push(PathBuf::from(value_of())),
            "--lto-O0" | "--lto-O1" | "--lto-O2" | "--lto-O3" => {
                line.lto.opt_level = Some(name["--lto-O".len()..].to_string());
                keep = false;
            }
            "--thinlto-jobs" => {
                line.lto.jobs = Some(value_of());
                keep = false;
            }
            "--thinlto-cache-dir" => {
                line.lto.cache_dir = Some(PathBuf::from(value_of()));
                keep = false;
            }
            "--thinlto-cache-policy" => {
                line.lto.cache_policy = Some(value_of());
                keep = false;
            }
            "--save-temps" | "-save-temps" => {
                line.lto.save_temps = true;
                keep = false;
            }
            "--lto-engine-report" => {
                line.report = Some(PathBuf::from(value_of()));
                keep = false;
            }
            "-plugin" => keep = false,
            "-plugin-opt" | "--plugin-opt" => {
                plugin_opt(&mut line.lto, &value_of());
                keep = false;
            }
            "-mllvm" | "--mllvm" => {
                line.lto.mllvm.push(value_of());
                keep = false;
            }
            "--defsym" => {
                let text = value_of();
                let Some((symbol, expr)) = text.split_once('=') else {
                    return Err(Error::Usage(format!(
                        "ld: --defsym {text}: expected SYMBOL=EXPRESSION"
                    )));
                };
                line.defsym
                    .push((symbol.trim().to_string(), expr.trim().to_string()));
            }
            "--chroot" => line.chroot = Some(PathBuf::from(value_of())),
            "--lto-engine-kind" => {
                line.lto.kind = Some(value_of());
                keep = false;
            }
            "--thinlto-index-only" => {
                line.lto.index_only = Some(value.clone().map(PathBuf::from));
                keep = false;
            }
            "--thinlto-emit-imports-files" => {
                line.lto.emit_imports = true;
                keep = false;
            }
            "--thinlto-prefix-replace" => {
                line.lto.prefix_replace = Some(value_of());
                keep = false;
            }
            "--thinlto-object-suffix-replace" => {
                line.lto.object_suffix_replace = Some(value_of());
                keep = false;
            }
            _ if name.starts_with("--lto-CGO") => {
                line.lto.cg_opt_level = Some(name["--lto-CGO".len()..].to_string());
                keep = false;
            }
            "--lto-partitions" => {
                line.lto.partitions = Some(value_of());
                keep = false;
            }
            "--opt-remarks-filename" => {
                line.lto.remarks_filename = Some(PathBuf::from(value_of()));
                keep = false;
            }
            "--opt-remarks-passes" => {
                line.lto.remarks_passes = Some(value_of());
                keep = false;
            }
            "--opt-remarks-format" => {
                line.lto.remarks_format = Some(value_of());
                keep = false;
            }
            "--opt-remarks-with-hotness" => {
                line.lto.remarks_with_hotness = true;
                keep = false;
            }
            "--opt-remarks-hotness-threshold" => {
                line.lto.remarks_hotness_threshold = Some(value_of());
                keep = false;
            }
            "--thinlto-distributor" => {
                line.lto.distributor = Some(value_of());
                keep = false;
            }
            "--thinlto-distributor-arg" => {
                line.lto.distributor_args.push(value_of());
                keep = false;
            }
            "--thinlto-remote-compiler" => {
                line.lto.remote_compiler = Some(value_of());
                keep = false;
            }
            "--thinlto-remote-compiler-prepend-arg" => {
                line.lto.remote_compiler_prepend_args.push(value_of());
                keep = false;
            }
            "--thinlto-remote-compiler-arg" => {
                line.lto.remote_compiler_args.push(value_of());
                keep = false;
            }
            "--lto-emit-asm" => {
                line.lto
                    .unsupported
                    .push((arg.clone(), "not in the engine's linker mode yet"));
                keep = false;
            }
            _ if name.starts_with("--lto-") || name.starts_with("--thinlto-") => {
                line.lto
                    .unsupported
                    .push((arg.clone(), "an LTO option the engine does not know"));
                keep = false;
            }
            _ => {}
        }
        if keep {
            line.items.push((Item::Pass(tokens), state));
        }
    }
    Ok(line)
}

/// clang's `-plugin-opt=` spellings of the LTO options.
fn plugin_opt(lto: &mut LtoOptions, value: &str) {
    if let Some(level) = value.strip_prefix('O') {
        lto.opt_level = Some(level.to_string());
    } else if let Some(cpu) = value.strip_prefix("mcpu=") {
        lto.cpu = Some(cpu.to_string());
    } else if let Some(jobs) = value.strip_prefix("jobs=") {
        lto.jobs = Some(jobs.to_string());
    } else if let Some(dir) = value.strip_prefix("cache-dir=") {
        lto.cache_dir = Some(PathBuf::from(dir));
    } else if value == "thinlto" || value.starts_with("-pass-through=") {
        // clang's hint that the bitcode is thin (the engine reads each
        // module's own kind), and lld's no-op.
    } else if let Some(count) = value.strip_prefix("lto-partitions=") {
        lto.partitions = Some(count.to_string());
    } else if value == "save-temps" {
        lto.save_temps = true;
    } else if value == "thinlto-index-only" {
        lto.index_only = Some(None);
    } else if let Some(file) = value.strip_prefix("thinlto-index-only=") {
        lto.index_only = Some(Some(PathBuf::from(file)));
    } else if value == "thinlto-emit-imports-files" {
        lto.emit_imports = true;
    } else if let Some(replace) = value.strip_prefix("thinlto-prefix-replace=") {
        lto.prefix_replace = Some(replace.to_string());
    } else if let Some(replace) = value.strip_prefix("thinlto-object-suffix-replace=") {
        lto.object_suffix_replace = Some(replace.to_string());
    } else if let Some(file) = value.strip_prefix("opt-remarks-filename=") {
        lto.remarks_filename = Some(PathBuf::from(file));
    } else if let Some(passes) = value.strip_prefix("opt-remarks-passes=") {
        lto.remarks_passes = Some(passes.to_string());
    } else if let Some(format) = value.strip_prefix("opt-remarks-format=") {
        lto.remarks_format = Some(format.to_string());
    } else if value == "opt-remarks-with-hotness" {
        lto.remarks_with_hotness = true;
    } else if let Some(threshold) = value.strip_prefix("opt-remarks-hotness-threshold=") {
        lto.remarks_hotness_threshold = Some(threshold.to_string());
    } else if value.starts_with('-') {
        // LLVM's own options, as lld passes them on (`-plugin-opt=-OPT`).
        lto.mllvm.push(value.to_string());
    } else {
        lto.unsupported.push((
            format!("-plugin-opt={value}"),
            "a plugin option the engine does not know",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> LinkLine {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        parse(&args).unwrap()
    }

    #[test]
    fn reads_clangs_link_line() {
        let line = parse_str(
            "--hash-style=gnu --eh-frame-hdr -m elf_x86_64 -pie -dynamic-linker /lib64/ld.so \
             -o prog crt1.o -L/usr/lib -plugin-opt=mcpu=x86-64 -plugin-opt=thinlto main.o \
             --thinlto-cache-dir=cache -lgcc --as-needed -lgcc_s --no-as-needed -lc \
             --whole-archive libw.a --no-whole-archive -Bstatic -lz -u keep --lto-O3",
        );
        assert_eq!(line.output, Some(PathBuf::from("prog")));
        assert_eq!(line.search, [PathBuf::from("/usr/lib")]);
        assert_eq!(line.lto.cpu.as_deref(), Some("x86-64"));
        assert_eq!(line.lto.cache_dir, Some(PathBuf::from("cache")));
        assert_eq!(line.lto.opt_level.as_deref(), Some("3"));
        assert_eq!(line.undefined, ["keep"]);
        let files: Vec<&str> = line
            .items
            .iter()
            .filter_map(|(item, _)| match item {
                Item::File(f) => Some(f.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(files, ["crt1.o", "main.o", "libw.a"]);
        let whole = line
            .items
            .iter()
            .find(|(item, _)| *item == Item::File("libw.a".to_string()))
            .unwrap()
            .1;
        assert!(whole.whole_archive);
        let z = line
            .items
            .iter()
            .find(|(item, _)| matches!(item, Item::Library { name, .. } if name == "z"))
            .unwrap()
            .1;
        assert!(z.static_only && !z.whole_archive);
        // The dynamic linker's path is a value, not an input.
        assert!(!files.contains(&"/lib64/ld.so"));
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        let line = parse_str("main.o --lto-emit-asm -plugin-opt=bogus");
        assert_eq!(line.lto.unsupported.len(), 2, "{:?}", line.lto.unsupported);
        let line = parse_str(
            "main.o --thinlto-distributor=d --thinlto-distributor-arg=-v \
             --thinlto-distributor-arg=--x --thinlto-remote-compiler=c \
             --thinlto-remote-compiler-arg=-g",
        );
        assert!(
            line.lto.unsupported.is_empty(),
            "{:?}",
            line.lto.unsupported
        );
        assert_eq!(line.lto.distributor.as_deref(), Some("d"));
        assert_eq!(line.lto.distributor_args, ["-v", "--x"]);
        assert_eq!(line.lto.remote_compiler.as_deref(), Some("c"));
        assert_eq!(line.lto.remote_compiler_args, ["-g"]);
        let line = parse_str("main.o --lto-partitions=2 -plugin-opt=lto-partitions=3");
        assert!(
            line.lto.unsupported.is_empty(),
            "{:?}",
            line.lto.unsupported
        );
        assert_eq!(line.lto.partitions.as_deref(), Some("3"));
    }

    #[test]
    fn reads_the_distributed_and_llvm_options() {
        let line = parse_str(
            "main.o --thinlto-index-only=list.txt --thinlto-emit-imports-files \
             --thinlto-prefix-replace=a/;b/;c/ -plugin-opt=thinlto-object-suffix-replace=.min.bc;.o \
             -mllvm -import-instr-limit=0 --mllvm=-x=1 -plugin-opt=-y=2 --lto-CGO1 \
             --defsym=alias=target+4 --defsym other=0x10 --chroot /r --lto-engine-kind=thin",
        );
        assert!(
            line.lto.unsupported.is_empty(),
            "{:?}",
            line.lto.unsupported
        );
        assert_eq!(line.lto.index_only, Some(Some(PathBuf::from("list.txt"))));
        assert!(line.lto.emit_imports);
        assert_eq!(line.lto.prefix_replace.as_deref(), Some("a/;b/;c/"));
        assert_eq!(
            line.lto.object_suffix_replace.as_deref(),
            Some(".min.bc;.o")
        );
        assert_eq!(line.lto.mllvm, ["-import-instr-limit=0", "-x=1", "-y=2"]);
        assert_eq!(line.lto.cg_opt_level.as_deref(), Some("1"));
        assert_eq!(line.lto.kind.as_deref(), Some("thin"));
        assert_eq!(
            line.defsym,
            [
                ("alias".to_string(), "target+4".to_string()),
                ("other".to_string(), "0x10".to_string())
            ]
        );
        assert_eq!(line.chroot, Some(PathBuf::from("/r")));
        assert_eq!(line.defsym_references(), ["target"]);
        assert_eq!(line.rooted(Path::new("/a/b.o")), PathBuf::from("/r/a/b.o"));
        assert_eq!(line.rooted(Path::new("a/b.o")), PathBuf::from("a/b.o"));
        // The chroot directory is a value, not an input.
        assert!(line
            .items
            .iter()
            .all(|(item, _)| !matches!(item, Item::File(f) if f == "/r")));
        assert_eq!(
            parse_str("-plugin-opt=thinlto-index-only main.o")
                .lto
                .index_only,
            Some(None)
        );
    }
}
