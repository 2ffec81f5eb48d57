//! The integration harness: compiles C with clang-22 and Rust with rustc,
//! runs the engine (library or CLI), links with lld, runs the program, and
//! reads symbol tables.
#![allow(dead_code)]

use object::{Object, ObjectSymbol};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const CLANG: &str = "clang-22";
pub const CLANGXX: &str = "clang++-22";

/// Where the bundled test sources live.
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// Runs a command and fails the test with its stderr when it fails.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (run ./ci/setup.sh)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `clang-22 <flags> -c src -o dir/<stem>.o`.
pub fn compile_c(dir: &Path, src: &Path, flags: &[&str]) -> PathBuf {
    compile_with(CLANG, dir, src, flags, "")
}

/// `clang++-22 <flags> -c src -o dir/<stem><suffix>.o`.
pub fn compile_cxx(dir: &Path, src: &Path, flags: &[&str], suffix: &str) -> PathBuf {
    compile_with(CLANGXX, dir, src, flags, suffix)
}

fn compile_with(compiler: &str, dir: &Path, src: &Path, flags: &[&str], suffix: &str) -> PathBuf {
    let stem = src.file_stem().unwrap().to_string_lossy();
    let out = dir.join(format!("{stem}{suffix}.o"));
    run_ok(
        Command::new(compiler)
            .args(flags)
            .arg("-c")
            .arg(src)
            .arg("-o")
            .arg(&out),
    );
    out
}

/// Links a C++ program `dir/name` with clang++-22 and lld from `inputs`
/// (objects, or `@link.rsp`).
pub fn link_cxx(dir: &Path, inputs: &[String], name: &str) -> PathBuf {
    let prog = dir.join(name);
    run_ok(
        Command::new(CLANGXX)
            .current_dir(dir)
            .args(["-fuse-ld=lld", "-pthread"])
            .args(inputs)
            .arg("-o")
            .arg(&prog),
    );
    prog
}

/// The section names of an object file.
pub fn section_names(path: &Path) -> Vec<String> {
    use object::ObjectSection;
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.sections()
        .filter_map(|s| s.name().ok().map(str::to_string))
        .collect()
}

/// `rustc <flags> src --out-dir dir`; returns the out dir.
pub fn rustc(dir: &Path, src: &Path, flags: &[&str]) {
    run_ok(
        Command::new("rustc")
            .args(["--edition=2021", "-C", "opt-level=2"])
            .args(flags)
            .arg(src)
            .arg("--out-dir")
            .arg(dir),
    );
}

/// The engine's CLI.
pub fn engine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lto-engine"))
}

/// Links `dir/prog` from link.rsp plus extra inputs with clang-22 and lld.
pub fn link(dir: &Path, link_rsp: &Path, extra: &[&Path]) -> PathBuf {
    let prog = dir.join("prog");
    run_ok(
        Command::new(CLANG)
            .arg("-fuse-ld=lld")
            .args(extra)
            .arg(format!("@{}", link_rsp.display()))
            .args(["-lpthread", "-ldl", "-lm"])
            .arg("-o")
            .arg(&prog),
    );
    prog
}

/// Runs a program and returns its stdout.
pub fn run_program(prog: &Path) -> String {
    let out = run_ok(&mut Command::new(prog));
    String::from_utf8(out.stdout).unwrap()
}

/// A symbol of an object file.
#[derive(Debug, Clone)]
pub struct Sym {
    pub name: String,
    pub global: bool,
    pub defined: bool,
    /// ELF `STV_HIDDEN`: global within the link, never exported.
    pub hidden: bool,
}

/// The symbol table of an object file.
pub fn symbols(path: &Path) -> Vec<Sym> {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.symbols()
        .filter_map(|s| {
            Some(Sym {
                name: s.name().ok()?.to_string(),
                global: s.is_global(),
                defined: !s.is_undefined(),
                hidden: matches!(
                    s.flags(),
                    object::SymbolFlags::Elf { st_other, .. } if st_other & 3 == object::elf::STV_HIDDEN
                ),
            })
        })
        .filter(|s| !s.name.is_empty())
        .collect()
}

pub fn find<'a>(syms: &'a [Sym], name: &str) -> Option<&'a Sym> {
    syms.iter().find(|s| s.name == name)
}

/// The one-line error the CLI printed; checks the exit code and that it
/// names `what`.
pub fn cli_error(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "{cmd:?} should fail; stderr: {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "exit code; stderr: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("LLVM ERROR"),
        "no panic or abort: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("lto-engine: error: "), "{stderr}");
    assert!(lines[0].contains(what), "{stderr} should name {what}");
    stderr
}

/// `lib.rlib(member.o at 120)` (lld) and `lib.rlib(member.o)` (ours) ->
/// `member.o`; a path -> its file name.
pub fn normalized(module: &str) -> String {
    match module.split_once('(') {
        Some((_, member)) => {
            let member = member.trim_end_matches(')');
            member.split(" at ").next().unwrap_or(member).to_string()
        }
        None => Path::new(module)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
    }
}

pub type ImportSets = std::collections::BTreeMap<String, Vec<String>>;

/// The `<module>.imports` files in `dir` (lld's, or the engine's with
/// `--emit-imports`): module -> the modules it imports from, normalized.
pub fn imports_files(dir: &Path) -> ImportSets {
    let mut sets = ImportSets::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(module) = name.strip_suffix(".imports") {
            let mut sources: Vec<String> = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(normalized)
                .collect();
            sources.sort();
            sets.insert(normalized(module), sources);
        }
    }
    sets
}

/// A distributor as lld 22 runs one: `python3 local.py [args] jobs.json`.
/// It runs every job (common args + job args) and fails if one fails;
/// `--skip NAME` leaves out the job of the module whose path ends in NAME,
/// `--damage NAME` truncates that module before the jobs run.
pub const LOCAL_DISTRIBUTOR: &str = r#"
import json, subprocess, sys
args = sys.argv[1:]
def option(name):
    return args[args.index(name) + 1] if name in args else None
skip, damage = option("--skip"), option("--damage")
jobs = json.load(open(args[-1]))
failed = 0
for job in jobs["jobs"]:
    module = job["inputs"][0]
    if damage and module.endswith(damage):
        data = open(module, "rb").read()
        open(module, "wb").write(data[: len(data) // 2])
for job in jobs["jobs"]:
    if skip and job["inputs"][0].endswith(skip):
        continue
    command = jobs["common"]["args"] + job["args"]
    if subprocess.call(command) != 0:
        print("job failed:", " ".join(command), file=sys.stderr)
        failed += 1
sys.exit(1 if failed else 0)
"#;

/// ThinLTO backend stages, in order, as rustc names their save-temps.
pub const THIN_STAGES: [&str; 6] = [
    "thin-lto-input",
    "thin-lto-after-rename",
    "thin-lto-after-resolve",
    "thin-lto-after-internalize",
    "thin-lto-after-import",
    "thin-lto-after-pm",
];

/// The thin details of a thin or thin-local run's report; fails the test
/// for any other kind of run (whose `thin` is empty).
pub fn thin_report(report: &lto_engine::Report) -> &lto_engine::report::ThinRunReport {
    assert!(
        matches!(
            report.kind,
            lto_engine::RunKind::Thin | lto_engine::RunKind::ThinLocal
        ),
        "not a thin run: {:?}",
        report.kind
    );
    &report.thin
}

/// Gives an in-memory module the host's triple and data layout, as a
/// compiler does before handing a module to LTO (a module without a data
/// layout is refused, as lld refuses it).
pub fn target_host(module: &inkwell::module::Module<'_>) {
    use inkwell::targets::{InitializationConfig, Target, TargetMachine};
    Target::initialize_native(&InitializationConfig::default()).unwrap();
    let triple = TargetMachine::get_default_triple();
    let machine = Target::from_triple(&triple)
        .unwrap()
        .create_target_machine(
            &triple,
            "generic",
            "",
            inkwell::OptimizationLevel::Default,
            inkwell::targets::RelocMode::PIC,
            inkwell::targets::CodeModel::Default,
        )
        .unwrap();
    module.set_triple(&triple);
    module.set_data_layout(&machine.get_target_data().get_data_layout());
}

/// `dir/ld.lld`, a link to the engine: clang and rustc run it as their
/// ld.lld (`--ld-path=`, `-fuse-ld=lld`).
pub fn engine_as_lld(dir: &Path) -> PathBuf {
    let path = dir.join("ld.lld");
    if !path.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lto-engine"), &path).unwrap();
    }
    path
}

/// clang's `--ld-path=` naming the engine as ld.lld in `dir`.
pub fn ld_path_arg(dir: &Path) -> String {
    format!("--ld-path={}", engine_as_lld(dir).display())
}

/// Writes `text` to `dir/name`.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The files in `dir` whose names `keep` accepts (cache entries by kind:
/// `llvmcache-source-*`, `llvmcache-symtab-*`, ...), sorted.
pub fn files_named(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| keep(&path.file_name().unwrap().to_string_lossy()))
        .collect();
    files.sort();
    files
}

/// `clang-22`, run in `dir`.
pub fn clang_in(dir: &Path) -> Command {
    let mut command = Command::new(CLANG);
    command.current_dir(dir);
    command
}

/// A JSON file (an engine report), read.
pub fn read_json(path: impl AsRef<Path>) -> serde_json::Value {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The strings of a JSON array (`report["preserved"]`).
pub fn strings(list: &serde_json::Value) -> Vec<String> {
    let items = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"));
    items
        .iter()
        .map(|item| {
            item.as_str()
                .unwrap_or_else(|| panic!("not a string: {item}"))
                .to_string()
        })
        .collect()
}

/// The `"name"` of each object of a JSON array (`report["modules"]`).
pub fn names(list: &serde_json::Value) -> Vec<String> {
    let items = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"));
    items
        .iter()
        .map(|item| match item["name"].as_str() {
            Some(name) => name.to_string(),
            None => panic!("no name: {item}"),
        })
        .collect()
}

/// Links `dir/name` with `clang-22 args... -o name` (the engine named in
/// `args` as the linker) and returns the engine's JSON report of it.
pub fn link_with_report(dir: &Path, args: &[&str], name: &str) -> serde_json::Value {
    let report = dir.join(format!("{name}.json"));
    run_ok(
        clang_in(dir)
            .args(args)
            .arg(format!("-Wl,--lto-engine-report={}", report.display()))
            .args(["-o", name]),
    );
    read_json(report)
}

/// The thin test program (`tests/data/thin/`): its sources, in link order.
pub const THIN_SOURCES: [&str; 5] = ["thin_main", "hot", "weak", "strong", "dead"];

/// What the thin test program prints.
pub const THIN_EXPECTED: &str = "acc=15150 secret=24955 big=19312 tunable=2 weight=7 clamp=1000\n";

/// Compiles the thin test program with `clang -flto=thin` into
/// `root/thin/`; returns the paths relative to `root` (as a build system
/// names them, and as they are recorded in the index).
pub fn compile_thin_program(root: &Path) -> Vec<String> {
    let dir = root.join("thin");
    std::fs::create_dir_all(&dir).unwrap();
    THIN_SOURCES
        .iter()
        .map(|name| {
            compile_c(
                &dir,
                &data(&format!("thin/{name}.c")),
                &["-O2", "-flto=thin"],
            );
            format!("thin/{name}.o")
        })
        .collect()
}

/// Lua 5.4's sources (the `lua-src` crate, through cargo's own cache).
pub fn lua_sources(root: &Path) -> PathBuf {
    let fetch = root.join("fetch");
    std::fs::create_dir_all(fetch.join("src")).unwrap();
    write_file(
        &fetch,
        "Cargo.toml",
        "[package]\nname = \"lua-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         [dependencies]\nlua-src = \"=547.1.0\"\n",
    );
    write_file(&fetch.join("src"), "main.rs", "fn main() {}\n");
    run_ok(
        Command::new(env!("CARGO"))
            .args(["fetch", "--quiet", "--manifest-path"])
            .arg(fetch.join("Cargo.toml")),
    );
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"));
    let registry = home.join("registry/src");
    for index in std::fs::read_dir(&registry).unwrap() {
        let lua = index.unwrap().path().join("lua-src-547.1.0/lua-5.4.7");
        if lua.is_dir() {
            return lua;
        }
    }
    panic!("lua-src 547.1.0 is not under {}", registry.display());
}

/// Lua and `bench/lua_main.c` compiled with `clang -flto=thin` into
/// `root/lua/`, in parallel; paths relative to `root`.
pub fn compile_lua(root: &Path) -> Vec<String> {
    let lua = lua_sources(root);
    let dir = root.join("lua");
    std::fs::create_dir_all(&dir).unwrap();
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&lua)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "c")
                && !matches!(
                    p.file_stem().unwrap().to_str(),
                    Some("lua" | "luac" | "onelua")
                )
        })
        .collect();
    sources.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/lua_main.c"));
    sources.sort();
    let include = format!("-I{}", lua.display());
    let mut names = Vec::new();
    for chunk in sources.chunks(sources.len().div_ceil(2)) {
        let mut children = Vec::new();
        for src in chunk {
            let stem = src.file_stem().unwrap().to_string_lossy().to_string();
            names.push(format!("lua/{stem}.o"));
            children.push(
                Command::new(CLANG)
                    .args(["-O2", "-flto=thin", "-DLUA_USE_LINUX", &include, "-c"])
                    .arg(src)
                    .arg("-o")
                    .arg(dir.join(format!("{stem}.o")))
                    .spawn()
                    .unwrap(),
            );
        }
        for mut child in children {
            assert!(child.wait().unwrap().success());
        }
    }
    names.sort();
    names
}
