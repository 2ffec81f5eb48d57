//! An `ld.lld` command line as clang and rustc write it: the inputs in
//! order (files, `-l` libraries, groups, `--whole-archive` regions), the
//! options LTO needs (output kind, entry, `-u`, exports, lld's LTO options)
//! and everything else, kept verbatim for the real linker.

use crate::error::{Error, Result};
use std::path::PathBuf;

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
            "--save-temps" => {
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
            "-mllvm" => {
                line.lto
                    .unsupported
                    .push((format!("-mllvm {}", value_of()), "LLVM's internal options"));
                keep = false;
            }
            "--thinlto-index-only"
            | "--thinlto-emit-imports-files"
            | "--thinlto-prefix-replace"
            | "--thinlto-object-suffix-replace"
            | "--thinlto-distributor"
            | "--thinlto-remote-compiler"
            | "--lto-emit-asm"
            | "--lto-CGO0"
            | "--lto-CGO1"
            | "--lto-CGO2"
            | "--lto-CGO3"
            | "--lto-partitions" => {
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
    } else if value == "save-temps" {
        lto.save_temps = true;
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
        let line = parse_str("main.o --thinlto-index-only -mllvm -foo -plugin-opt=bogus");
        assert_eq!(line.lto.unsupported.len(), 3, "{:?}", line.lto.unsupported);
    }
}
