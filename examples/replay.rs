//! Replays a compiler's codegen over bitcode files, for `bench/stream.sh`:
//! `threads` codegen threads each "generate" their share of the files
//! (a sleep of `--codegen-us-per-kib` per KiB of bitcode stands in for code
//! generation) and either add each to the session as soon as it is done
//! (`--mode stream`: the session loads it in the background while the
//! others are generated) or, once all are done, add them all from one
//! thread (`--mode batch`). Thin LTO runs either way; the objects are
//! written to `--out`.
//!
//! ```sh
//! cargo run --release --example replay -- --mode stream --threads 2 \
//!     --codegen-us-per-kib 200 --out /tmp/out a.bc b.bc ...
//! ```
//!
//! Prints one line: `mode=.. modules=.. wall_s=.. after_last_submit_s=..`,
//! the second being how long LTO took once the last module was in: what
//! streaming shortens, since loading (and computing missing summaries) has
//! already happened.

use lto_engine::{Config, Input, Jobs, LtoKind, Session, WriteTo};
use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Args {
    stream: bool,
    threads: usize,
    codegen_us_per_kib: u64,
    out: PathBuf,
    files: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        stream: true,
        threads: 2,
        codegen_us_per_kib: 200,
        out: std::env::temp_dir().join(format!("replay-{}", std::process::id())),
        files: Vec::new(),
    };
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--mode" => args.stream = value()? == "stream",
            "--threads" => args.threads = value()?.parse()?,
            "--codegen-us-per-kib" => args.codegen_us_per_kib = value()?.parse()?,
            "--out" => args.out = value()?.into(),
            _ => args.files.push(arg.into()),
        }
    }
    if args.files.is_empty() || args.threads == 0 {
        return Err("usage: replay [--mode stream|batch] [--threads N] [--codegen-us-per-kib N] [--out DIR] FILE...".into());
    }
    Ok(args)
}

/// The files of codegen thread `thread`, with their bytes once "generated".
fn generate(args: &Args, thread: usize) -> impl Iterator<Item = (String, Vec<u8>)> + '_ {
    args.files
        .iter()
        .skip(thread)
        .step_by(args.threads)
        .map(move |file| {
            let bytes = std::fs::read(file).unwrap_or_default();
            let kib = bytes.len() as u64 / 1024;
            std::thread::sleep(Duration::from_micros(kib * args.codegen_us_per_kib));
            (file.display().to_string(), bytes)
        })
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let config = Config::builder().jobs(Jobs::Fixed(args.threads)).build()?;
    let start = Instant::now();
    let (output, last_submit) = if args.stream {
        let session = Session::new(config, LtoKind::Thin)?;
        session.preserve(["main"])?;
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..args.threads)
                .map(|thread| {
                    let (session, args) = (session.clone(), &args);
                    scope.spawn(move || {
                        for (name, bytes) in generate(args, thread) {
                            session.add(Input::bitcode(name, bytes))?;
                        }
                        Ok::<(), lto_engine::Error>(())
                    })
                })
                .collect();
            for handle in handles {
                handle.join().map_err(|_| "a codegen thread panicked")??;
            }
            Ok::<(), Box<dyn Error>>(())
        })?;
        let last_submit = Instant::now();
        (session.run()?, last_submit)
    } else {
        let generated: Vec<Vec<(String, Vec<u8>)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..args.threads)
                .map(|thread| {
                    let args = &args;
                    scope.spawn(move || generate(args, thread).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let last_submit = Instant::now();
        let mut all: Vec<(String, Vec<u8>)> = generated.into_iter().flatten().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let session = Session::new(config, LtoKind::Thin)?;
        for (name, bytes) in all {
            session.add(Input::bitcode(name, bytes))?;
        }
        session.preserve(["main"])?;
        (session.run()?, last_submit)
    };
    output.write(&WriteTo::dir(&args.out))?;
    println!(
        "mode={} modules={} wall_s={:.3} after_last_submit_s={:.3}",
        if args.stream { "stream" } else { "batch" },
        output.objects.len(),
        start.elapsed().as_secs_f64(),
        last_submit.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("replay: error: {error}");
            ExitCode::FAILURE
        }
    }
}
