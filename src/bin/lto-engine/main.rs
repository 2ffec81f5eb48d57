//! The `lto-engine` command: a thin layer over the library.

mod demo;
mod rsp;

use clap::{Args, Parser, Subcommand};
use lto_engine::{
    CacheConfig, Config, EmitKind, Error, InputOptions, Jobs, LtoKind, OptLevel, Phase, Session,
};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "lto-engine",
    version,
    about = "Link-time optimization of LLVM 22 bitcode"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fat LTO: link every module into one, internalize what is not
    /// preserved, optimize, emit one object (plus link.rsp beside it).
    Fat(Box<FatArgs>),
    /// Thin LTO: a combined summary index, then one backend per module in
    /// parallel; one object per module plus link.rsp in OUTDIR.
    Thin(Box<ThinArgs>),
    /// Compile the bundled C and Rust examples, run fat and thin LTO, link,
    /// run the programs and show what LTO did.
    Demo,
}

/// Options shared by every LTO command.
#[derive(Args)]
struct CommonArgs {
    /// Inputs: bitcode, objects, archives (.a, .rlib), or @file.rsp.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// A symbol that must stay visible (repeatable).
    #[arg(long = "export", value_name = "SYM")]
    exports: Vec<String>,
    /// A file of symbols to keep visible, one per line (# starts a comment).
    #[arg(long = "export-file", value_name = "FILE")]
    export_files: Vec<PathBuf>,
    /// Optimization level: 0, 1, 2, 3, s, z.
    #[arg(short = 'O', default_value = "2", value_name = "LEVEL")]
    opt_level: OptLevel,
    /// Target triple (default: the modules' own).
    #[arg(long)]
    target: Option<String>,
    /// Target CPU (default: the triple's generic CPU).
    #[arg(long = "target-cpu")]
    target_cpu: Option<String>,
    /// Target features, LLVM syntax (+avx2,-sse4a).
    #[arg(long = "target-features", default_value = "")]
    target_features: String,
    /// Use the .llvmbc bitcode of objects that carry it (rustc -C
    /// embed-bitcode=yes) instead of their native code.
    #[arg(long = "embedded-bitcode")]
    embedded_bitcode: bool,
    /// Use the .llvm.lto bitcode of clang -ffat-lto-objects objects.
    #[arg(long = "fat-lto-objects")]
    fat_lto_objects: bool,
    /// Write the module after each stage into DIR.
    #[arg(long = "save-temps", value_name = "DIR")]
    save_temps: Option<PathBuf>,
    /// Write the report as JSON to FILE.
    #[arg(long = "report", value_name = "FILE")]
    report: Option<PathBuf>,
}

#[derive(Args)]
struct FatArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The output object.
    #[arg(short = 'o', value_name = "OUT.o")]
    output: PathBuf,
    /// What to emit: obj, asm, bc.
    #[arg(long, default_value = "obj")]
    emit: EmitKind,
}

#[derive(Args)]
struct ThinArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The output directory: one object per module, link.rsp.
    #[arg(short = 'o', value_name = "OUTDIR")]
    output: PathBuf,
    /// Backend threads (default: every available core).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// What to emit: obj, asm, bc.
    #[arg(long, default_value = "obj")]
    emit: EmitKind,
    /// Also write <module>.imports, the modules each one imports from (as
    /// lld's --thinlto-emit-imports-files).
    #[arg(long = "emit-imports")]
    emit_imports: bool,
    /// Thin-local LTO: across the given files only; archives stay native
    /// (rustc's thin-local mode).
    #[arg(long)]
    local: bool,
    /// Keep optimized objects in DIR and reuse those whose cache key is
    /// unchanged (as lld's --thinlto-cache-dir).
    #[arg(long = "cache-dir", alias = "thinlto-cache-dir", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Cache pruning policy, lld's syntax:
    /// prune_interval=20m:prune_after=1w:cache_size=75%:cache_size_bytes=..:cache_size_files=..
    #[arg(
        long = "cache-policy",
        alias = "thinlto-cache-policy",
        value_name = "POLICY",
        requires = "cache_dir"
    )]
    cache_policy: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fat(args) => run_fat(*args),
        Command::Thin(args) => run_thin(*args),
        Command::Demo => demo::run_demo(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, whatever LLVM said.
            let text = error.to_string().replace('\n', " ");
            eprintln!("lto-engine: error: {text}");
            ExitCode::FAILURE
        }
    }
}

fn session_for(
    common: &CommonArgs,
    emit: EmitKind,
    jobs: Jobs,
    cache: Option<CacheConfig>,
) -> Result<Session, Error> {
    if let Some(dir) = &common.save_temps {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), Phase::Write, e))?;
    }
    let config = Config {
        opt_level: common.opt_level,
        target_triple: common.target.clone(),
        target_cpu: common.target_cpu.clone(),
        target_features: common.target_features.clone(),
        emit,
        input_options: InputOptions {
            embedded_bitcode: common.embedded_bitcode,
            fat_lto_objects: common.fat_lto_objects,
        },
        save_temps: common.save_temps.clone(),
        jobs,
        cache,
        ..Config::default()
    };
    let mut session = Session::new(config)?;
    for input in rsp::expand(common.inputs.clone())? {
        session.add_path(&input)?;
    }
    session.preserve(common.exports.iter().cloned());
    for file in &common.export_files {
        let text =
            std::fs::read_to_string(file).map_err(|e| Error::io(file.display(), Phase::Read, e))?;
        session.preserve(
            text.lines()
                .map(|line| line.split('#').next().unwrap_or("").trim())
                .filter(|line| !line.is_empty())
                .map(str::to_string),
        );
    }
    Ok(session)
}

fn run_fat(args: FatArgs) -> Result<(), Error> {
    let session = session_for(&args.common, args.emit, Jobs::Auto, None)?;
    let output = session.run(LtoKind::Fat)?;
    let files = output.write_fat(&args.output)?;
    write_report(&args.common, &output.report)?;
    eprint!("{}", output.report.summary());
    eprintln!(
        "  wrote {} and {}",
        files.object.display(),
        files.link_rsp.display()
    );
    Ok(())
}

fn run_thin(args: ThinArgs) -> Result<(), Error> {
    let jobs = match args.jobs {
        Some(0) => return Err(Error::Config("--jobs must be at least 1".to_string())),
        Some(n) => Jobs::Fixed(n),
        None => Jobs::Auto,
    };
    let cache = args.cache_dir.as_ref().map(|dir| CacheConfig {
        dir: dir.clone(),
        policy: args.cache_policy.clone().unwrap_or_default(),
    });
    let mut session = session_for(&args.common, args.emit, jobs, cache)?;
    let bar = progress_bar();
    if let Some(bar) = &bar {
        let bar = bar.clone();
        session.on_progress(move |done, total, name| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(name.to_string());
        });
    }
    let kind = if args.local {
        LtoKind::ThinLocal
    } else {
        LtoKind::Thin
    };
    let result = session.run(kind);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let output = result?;
    let files = output.write_thin(&args.output, args.emit_imports)?;
    write_report(&args.common, &output.report)?;
    eprint!("{}", output.report.summary());
    let unchanged = if files.unchanged > 0 {
        format!(" ({} already up to date)", files.unchanged)
    } else {
        String::new()
    };
    eprintln!(
        "  wrote {} objects{unchanged} and {}",
        files.objects.len(),
        files.link_rsp.display()
    );
    Ok(())
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
fn progress_bar() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} thin LTO [{bar:30}] {pos}/{len} {wide_msg}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

fn write_report(common: &CommonArgs, report: &lto_engine::Report) -> Result<(), Error> {
    if let Some(path) = &common.report {
        let text = serde_json::to_string_pretty(&report.to_json())
            .map_err(|e| Error::io(path.display(), Phase::Write, e.into()))?;
        lto_engine::output::write_atomically(path, text.as_bytes())?;
    }
    Ok(())
}
