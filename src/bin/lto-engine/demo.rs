//! `lto-engine demo`: compiles the bundled C and Rust sources (shipped in
//! `demo/`, embedded in the binary), runs fat LTO through the library, links
//! with lld, runs the program, and shows what LTO did.

use lto_engine::{
    CacheConfig, Config, Error, LinkItem, LtoKind, ModuleOrder, Phase, Session, WriteTo,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCES: [(&str, &str); 3] = [
    ("main.c", include_str!("../../../demo/main.c")),
    ("wordstat.c", include_str!("../../../demo/wordstat.c")),
    ("summarize.rs", include_str!("../../../demo/summarize.rs")),
];
const CLANG: &str = "clang-22";

/// A scratch directory removed when the demo ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tool_error(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::Config(format!("demo: {what}: {detail} (run ./ci/setup.sh)"))
}

/// Runs a tool; its stderr becomes the error on failure.
fn run(cmd: &mut Command) -> Result<String, Error> {
    let name = format!("{:?}", cmd.get_program());
    let out = cmd.output().map_err(|e| tool_error(&name, e))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(tool_error(&name, stderr.trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Compiles the demo's C files and its Rust staticlib from `src` into `out`.
/// With `clang_lto` (`-flto` or `-flto=thin`), the outputs are bitcode (the
/// Rust crate with `-C linker-plugin-lto`).
fn compile_sources(src: &Path, out: &Path, clang_lto: Option<&str>) -> Result<(), Error> {
    let (clang_flags, rustc_flags): (Vec<&str>, &[&str]) = match clang_lto {
        Some(flag) => (vec![flag], &["-C", "linker-plugin-lto"]),
        None => (Vec::new(), &[]),
    };
    for c in ["main", "wordstat"] {
        run(Command::new(CLANG)
            .args(["-O2", "-c"])
            .args(&clang_flags)
            .arg(src.join(format!("{c}.c")))
            .arg("-o")
            .arg(out.join(format!("{c}.o"))))?;
    }
    run(Command::new("rustc")
        .args([
            "--edition=2021",
            "-C",
            "opt-level=2",
            "--crate-type=staticlib",
        ])
        .args(rustc_flags)
        .arg(src.join("summarize.rs"))
        .arg("--out-dir")
        .arg(out))?;
    Ok(())
}

/// A session over the demo's LTO inputs in `dir`, keeping `main`.
fn lto_session(dir: &Path, cache: Option<CacheConfig>, kind: LtoKind) -> Result<Session, Error> {
    let session = Session::new(
        {
            let mut config = Config::default();
            config.cache = cache;
            // As a linker: the order of the inputs below.
            config.module_order = ModuleOrder::Added;
            config
        },
        kind,
    )?;
    for input in ["main.o", "wordstat.o", "libsummarize.a"] {
        session.add_path(dir.join(input))?;
    }
    session.preserve(["main"])?;
    Ok(session)
}

/// Links `program` from a `link.rsp` with clang-22 and lld, runs it, and
/// returns what it printed.
fn link_and_run(link_rsp: &Path, program: &Path) -> Result<String, Error> {
    run(Command::new(CLANG)
        .arg("-fuse-ld=lld")
        .arg(format!("@{}", link_rsp.display()))
        .arg("-o")
        .arg(program))?;
    run(&mut Command::new(program))
}

/// Builds the program twice, without LTO and with the engine's fat LTO, runs
/// both and prints the report.
pub fn run_demo() -> Result<(), Error> {
    let dir = std::env::temp_dir().join(format!("lto-engine-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), Phase::Write, e))?;
    let scratch = Scratch(dir);
    let dir = &scratch.0;
    for (name, text) in SOURCES {
        std::fs::write(dir.join(name), text)
            .map_err(|e| Error::io(dir.join(name).display(), Phase::Write, e))?;
    }
    println!("== lto-engine demo: C (clang-22 -flto) + Rust staticlib with std (rustc -C linker-plugin-lto)");

    // Baseline: everything native, no LTO.
    let native_dir = dir.join("native");
    std::fs::create_dir_all(&native_dir)
        .map_err(|e| Error::io(native_dir.display(), Phase::Write, e))?;
    compile_sources(dir, &native_dir, None)?;
    let baseline = native_dir.join("prog");
    run(Command::new(CLANG)
        .arg("-fuse-ld=lld")
        .arg(native_dir.join("main.o"))
        .arg(native_dir.join("wordstat.o"))
        .arg(native_dir.join("libsummarize.a"))
        .arg("-o")
        .arg(&baseline))?;
    let expected = run(&mut Command::new(&baseline))?;

    // LTO inputs: C bitcode objects and a staticlib with bitcode members.
    compile_sources(dir, dir, Some("-flto"))?;

    let output = lto_session(dir, None, LtoKind::Fat)?.run()?;
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).map_err(|e| Error::io(out_dir.display(), Phase::Write, e))?;
    let files = output.write(&WriteTo::object(out_dir.join("lto.o")))?;
    let program = out_dir.join("prog");
    let actual = link_and_run(&files.link_rsp, &program)?;

    let report = &output.report;
    println!(
        "\n-- modules through fat LTO (base: {})",
        report.base_module.as_deref().unwrap_or("-")
    );
    for module in &report.modules {
        let name = module
            .name
            .strip_prefix(&format!("{}/", dir.display()))
            .unwrap_or(&module.name);
        println!(
            "   {name:<70} {:>14} {:>6} instrs",
            module.origin, module.instructions
        );
    }
    println!("-- passed through to the final link");
    for item in &output.native_inputs {
        match item {
            LinkItem::LtoOutput => {}
            LinkItem::Native(path) => println!("   {}", path.display()),
            LinkItem::NativeMembers { archive, members } => println!(
                "   {} native members of {} (std and its dependencies)",
                members.len(),
                archive.file_name().unwrap_or_default().to_string_lossy()
            ),
        }
    }
    println!(
        "-- symbols: {} preserved (main + what native code references), {} internalized",
        report.preserved.len(),
        report.internalized.len()
    );
    for name in report
        .internalized
        .iter()
        .filter(|n| !n.starts_with('_'))
        .take(8)
    {
        println!("   internalized: {name}");
    }
    let symbols = run(Command::new("llvm-nm-22").arg(&files.objects[0]))?;
    for callee in ["is_separator", "c_is_vowel"] {
        let present = symbols.lines().any(|l| l.ends_with(&format!(" {callee}")));
        println!(
            "   {callee}: {}",
            if present {
                "still in the object"
            } else {
                "inlined into its callers (C and Rust) and dropped"
            }
        );
    }
    print!(
        "-- {}",
        report
            .summary()
            .lines()
            .nth(1)
            .map(|l| format!("{}\n", l.trim()))
            .unwrap_or_default()
    );
    println!(
        "-- program size: {} bytes without LTO, {} bytes with fat LTO (LTO object {} bytes)",
        size(&baseline),
        size(&program),
        size(&files.objects[0])
    );
    println!("\n-- program output (with LTO):\n{actual}");
    if actual != expected {
        return Err(Error::Config(format!(
            "demo: the LTO program printed {actual:?}, the native one {expected:?}"
        )));
    }
    println!("== same output as the build without LTO");
    run_thin_demo(dir, &expected)
}

/// The same program through thin LTO: which functions each module imported,
/// and from where.
fn run_thin_demo(dir: &Path, expected: &str) -> Result<(), Error> {
    println!("\n== thin LTO: C with clang-22 -flto=thin, the same Rust staticlib");
    let thin_dir = dir.join("thin");
    std::fs::create_dir_all(&thin_dir)
        .map_err(|e| Error::io(thin_dir.display(), Phase::Write, e))?;
    compile_sources(dir, &thin_dir, Some("-flto=thin"))?;
    let cache = CacheConfig::new(thin_dir.join("cache"));
    let output = lto_session(&thin_dir, Some(cache.clone()), LtoKind::Thin)?.run()?;
    let out_dir = thin_dir.join("out");
    let files = output.write(&WriteTo::dir(&out_dir).with_imports_files())?;
    let actual = link_and_run(&files.link_rsp, &out_dir.join("prog"))?;

    let short = |name: &str| {
        name.strip_prefix(&format!("{}/", thin_dir.display()))
            .unwrap_or(name)
            .to_string()
    };
    let thin = &output.report.thin;
    println!(
        "-- {} modules, one backend each, on {} threads",
        thin.modules.len(),
        thin.jobs
    );
    for module in &thin.modules {
        if module.imports.is_empty() {
            println!("   {}: imports nothing", short(&module.name));
            continue;
        }
        println!("   {} imports:", short(&module.name));
        for source in &module.imports {
            // Plain C names are shown; mangled Rust generics are counted.
            let plain: Vec<&str> = source
                .definitions
                .iter()
                .map(String::as_str)
                .filter(|n| {
                    ![".str", "anon.", "_ZN", "_R"]
                        .iter()
                        .any(|p| n.starts_with(p))
                })
                .take(6)
                .collect();
            let listed = if plain.is_empty() {
                String::new()
            } else {
                format!(" ({})", plain.join(", "))
            };
            println!(
                "     from {}: {} definitions{listed}",
                short(&source.module),
                source.definitions.len()
            );
        }
    }
    print!(
        "-- {}",
        output
            .report
            .summary()
            .lines()
            .nth(2)
            .map(|l| format!("{}\n", l.trim()))
            .unwrap_or_default()
    );
    println!("\n-- program output (with thin LTO):\n{actual}");
    if actual != expected {
        return Err(Error::Config(format!(
            "demo: the thin LTO program printed {actual:?}, the native one {expected:?}"
        )));
    }
    println!("== same output as the build without LTO");

    // The same link again: every module's key is in the cache.
    let again = lto_session(&thin_dir, Some(cache), LtoKind::Thin)?.run()?;
    let reused = again.objects.iter().filter(|o| o.reused_from_cache).count();
    let same = again
        .objects
        .iter()
        .zip(&output.objects)
        .all(|(a, b)| a.bytes == b.bytes);
    println!(
        "\n== thin LTO again with the cache: {reused} of {} objects reused, nothing parsed or compiled ({:.3}s instead of {:.3}s){}",
        again.objects.len(),
        again.report.total_time().as_secs_f64(),
        output.report.total_time().as_secs_f64(),
        if same { ", byte-identical" } else { "" }
    );
    if reused != again.objects.len() || !same {
        return Err(Error::Config(
            "demo: the cached rerun did not reuse every object unchanged".to_string(),
        ));
    }
    Ok(())
}
