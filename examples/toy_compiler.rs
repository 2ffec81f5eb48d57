//! A toy compiler on a streaming ThinLTO session: three codegen threads, each
//! with its own inkwell `Context`, generate the units of a tiny program and
//! add each one to the session as soon as it is built, while the other threads are still
//! generating. It then links the thin objects with lld and runs the program.
//!
//! ```sh
//! cargo run --example toy_compiler -- --out /tmp/x [--units N]
//! ```
//!
//! The program: unit `cgu.k` (k < N, default 6) defines `int step_k(int)`,
//! which calls `step_{k-1}` of the previous unit, so ThinLTO has a chain of
//! cross-unit calls to import and inline; `cgu.main` prints
//! `step_{N-1}(2)` and `toy_version`, a string defined by `cgu.metadata`,
//! a unit that opts out of LTO as rustc's metadata module does.

use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::targets::TargetMachine;
use inkwell::AddressSpace;
use lto_engine::{Config, Input, LtoKind, ModuleRole, RunKind, Session, WriteTo};
use std::error::Error;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// Errors cross thread boundaries (from the codegen threads), hence `Send`.
type BoxError = Box<dyn Error + Send + Sync>;

const THREADS: usize = 3;
const INPUT: i32 = 2;
const VERSION: &str = "toy 0.1";
const USAGE: &str = "usage: toy_compiler [--out DIR] [--units N]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("toy_compiler: error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `--out DIR` and `--units N`.
fn parse_args() -> Result<(PathBuf, usize), BoxError> {
    let mut out = std::env::temp_dir().join(format!("toy_compiler.{}", std::process::id()));
    let mut units = 6;
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().ok_or(format!("{arg} needs a value ({USAGE})"));
        match arg.as_str() {
            "--out" => out = PathBuf::from(value()?),
            "--units" => {
                let text = value()?;
                units = match text.parse() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(format!("--units {text}: expected a number >= 1").into()),
                };
            }
            _ => return Err(format!("unknown argument {arg:?} ({USAGE})").into()),
        }
    }
    Ok((out, units))
}

/// What the program must print, computed as the generated IR does (i32
/// arithmetic wraps).
fn expected_value(units: usize) -> i32 {
    (1..units).fold(INPUT.wrapping_add(7), |value, k| {
        value.wrapping_mul(3).wrapping_add(k as i32)
    })
}

/// One codegen unit of the toy program.
#[derive(Clone, Copy)]
enum Unit {
    Step(usize),
    Main,
    Metadata,
}

impl Unit {
    fn name(self) -> String {
        match self {
            Unit::Step(k) => format!("cgu.{k}"),
            Unit::Main => "cgu.main".to_string(),
            Unit::Metadata => "cgu.metadata".to_string(),
        }
    }

    /// What the unit is: rustc's per-unit LTO choice follows from it
    /// (metadata never goes through LTO).
    fn role(self) -> ModuleRole {
        match self {
            Unit::Metadata => ModuleRole::Metadata,
            _ => ModuleRole::Regular,
        }
    }

    /// Generates the unit's IR into `context` and verifies it, so a codegen
    /// bug is reported here, by unit, rather than deep inside LTO.
    fn build(self, context: &Context, units: usize) -> Result<Module<'_>, BoxError> {
        let module = context.create_module(&self.name());
        target_host(&module)?;
        match self {
            Unit::Step(k) => build_step(context, &module, k)?,
            Unit::Main => build_main(context, &module, units)?,
            Unit::Metadata => {
                let text = context.const_string(VERSION.as_bytes(), true);
                let global = module.add_global(text.get_type(), None, "toy_version");
                global.set_initializer(&text);
                global.set_constant(true);
            }
        }
        module
            .verify()
            .map_err(|e| format!("{}: invalid IR: {e}", self.name()))?;
        Ok(module)
    }
}

/// `int step_k(int x)`: `x + 7` for k = 0, else `step_{k-1}(x) * 3 + k`.
fn build_step<'c>(context: &'c Context, module: &Module<'c>, k: usize) -> Result<(), BoxError> {
    let i32t = context.i32_type();
    let fn_type = i32t.fn_type(&[i32t.into()], false);
    let function = module.add_function(&format!("step_{k}"), fn_type, None);
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(function, "entry"));
    let x = function
        .get_first_param()
        .ok_or("step has no parameter")?
        .into_int_value();
    let value = if k == 0 {
        builder.build_int_add(x, i32t.const_int(7, false), "v")?
    } else {
        let previous = module.add_function(&format!("step_{}", k - 1), fn_type, None);
        let called = builder
            .build_call(previous, &[x.into()], "c")?
            .try_as_basic_value()
            .unwrap_basic()
            .into_int_value();
        let tripled = builder.build_int_mul(called, i32t.const_int(3, false), "t")?;
        builder.build_int_add(tripled, i32t.const_int(k as u64, false), "v")?
    };
    builder.build_return(Some(&value))?;
    Ok(())
}

/// `main`: `printf("%s: step_%d(%d) = %d\n", toy_version, N-1, 2, step_{N-1}(2))`.
fn build_main<'c>(context: &'c Context, module: &Module<'c>, units: usize) -> Result<(), BoxError> {
    let i32t = context.i32_type();
    let printf_type = i32t.fn_type(&[context.ptr_type(AddressSpace::default()).into()], true);
    let printf = module.add_function("printf", printf_type, None);
    let last = units - 1;
    let step_type = i32t.fn_type(&[i32t.into()], false);
    let step = module.add_function(&format!("step_{last}"), step_type, None);
    // A declaration of the metadata unit's string (same type as there).
    let version_type = context.i8_type().array_type(VERSION.len() as u32 + 1);
    let version = module.add_global(version_type, None, "toy_version");
    version.set_constant(true);
    let main = module.add_function("main", i32t.fn_type(&[], false), None);
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(main, "entry"));
    let format = builder.build_global_string_ptr("%s: step_%d(%d) = %d\n", "format")?;
    let input = i32t.const_int(INPUT as u64, false);
    let value = builder
        .build_call(step, &[input.into()], "v")?
        .try_as_basic_value()
        .unwrap_basic();
    let args = [
        format.as_pointer_value().into(),
        version.as_pointer_value().into(),
        i32t.const_int(last as u64, false).into(),
        input.into(),
        value.into(),
    ];
    builder.build_call(printf, &args, "")?;
    builder.build_return(Some(&i32t.const_int(0, false)))?;
    Ok(())
}

/// Runs `command`, failing with one line (the tool's first line of stderr).
fn run_tool(command: &mut Command) -> Result<String, BoxError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let out = command
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("");
        return Err(format!("{program} failed ({}): {first}", out.status).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One codegen thread: its own context, each unit submitted once built
/// (its bitcode is taken then; the module need not outlive the call).
fn generate(session: Session, units: &[Unit], count: usize) -> Result<(), BoxError> {
    let context = Context::create();
    for unit in units {
        let module = unit.build(&context, count)?;
        // Named by its module identifier; its role decides its part.
        session.add(Input::module(&module).role(unit.role()))?;
    }
    Ok(())
}

fn run() -> Result<(), BoxError> {
    let (out, count) = parse_args()?;
    let session = Session::new(Config::default(), LtoKind::Thin)?;
    session.preserve(["main"])?;

    // The threads take the units round-robin; the session loads each
    // submitted unit for the thin link in the background while the
    // threads go on generating.
    let units: Vec<Unit> = [Unit::Main, Unit::Metadata]
        .into_iter()
        .chain((0..count).map(Unit::Step))
        .collect();
    std::thread::scope(|scope| -> Result<(), BoxError> {
        let mut threads = Vec::new();
        for t in 0..THREADS {
            let mine: Vec<Unit> = units.iter().copied().skip(t).step_by(THREADS).collect();
            let session = session.clone();
            let work = move || generate(session, &mine, count);
            let thread = std::thread::Builder::new().name(format!("codegen-{t}"));
            threads.push(thread.spawn_scoped(scope, work)?);
        }
        // The scope joins every thread before an error leaves it.
        for thread in threads {
            thread.join().map_err(|_| "a codegen thread panicked")??;
        }
        Ok(())
    })?;
    let loaded = session.loaded();
    let output = session.run()?;
    let files = output.write(&WriteTo::dir(&out))?;

    let prog = out.join("prog");
    let rsp = format!("@{}", files.link_rsp.display());
    run_tool(
        Command::new("clang-22")
            .args(["-fuse-ld=lld", &rsp, "-o"])
            .arg(&prog),
    )?;
    let printed = run_tool(&mut Command::new(&prog))?;
    let (last, value) = (count - 1, expected_value(count));
    let expected = format!("{VERSION}: step_{last}({INPUT}) = {value}\n");
    if printed != expected {
        return Err(format!("prog printed {printed:?}, expected {expected:?}").into());
    }

    print!("program output: {printed}");
    let report = &output.report;
    if report.kind != RunKind::Thin {
        return Err(format!("a {} run, not a thin one", report.kind).into());
    }
    let thin = &report.thin;
    let alone: Vec<&str> = report.no_lto.iter().map(|m| m.name.as_str()).collect();
    println!(
        "thin-linked units: {} ({loaded} loaded before finish); compiled alone: {}",
        thin.modules.len(),
        alone.join(", ")
    );
    let main = thin.modules.iter().find(|m| m.name == Unit::Main.name());
    let main = main.ok_or("cgu.main is not in the thin report")?;
    if main.imports.is_empty() {
        println!("main imported nothing");
    }
    for source in &main.imports {
        let definitions = source.definitions.join(", ");
        println!("main imported from {}: {definitions}", source.module);
    }
    println!("diagnostics: {}", output.diagnostics.len());
    println!("output: {}", out.display());
    Ok(())
}

/// Gives `module` the host's triple and data layout, as a compiler does for
/// the target it compiles for: LTO refuses a module without a data layout,
/// as lld does.
fn target_host(module: &Module<'_>) -> Result<(), BoxError> {
    use inkwell::targets::{CodeModel, InitializationConfig, RelocMode, Target};
    Target::initialize_native(&InitializationConfig::default())?;
    let triple = TargetMachine::get_default_triple();
    let machine = Target::from_triple(&triple)
        .map_err(|e| e.to_string())?
        .create_target_machine(
            &triple,
            "generic",
            "",
            inkwell::OptimizationLevel::Default,
            RelocMode::PIC,
            CodeModel::Default,
        )
        .ok_or("cannot create a target machine for the host")?;
    module.set_triple(&triple);
    module.set_data_layout(&machine.get_target_data().get_data_layout());
    Ok(())
}
