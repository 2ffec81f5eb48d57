//! A small compiler driver that finishes a build the way rustc's fat LTO
//! does: upstream rlibs plus the driver's own module go through one fat LTO
//! run, and everything not explicitly preserved is internalized.
//!
//! ```sh
//! rustc --crate-type=rlib -C embed-bitcode=yes -C panic=abort toy.rs   # or -C linker-plugin-lto
//! cargo run --example rlib_driver -- --rlib libtoy.rlib --preserve main -o /tmp/x/lto.o
//! clang-22 -fuse-ld=lld @/tmp/x/link.rsp -o prog
//! ```
//!
//! The driver's module is a `main` that calls `extern "C" fn NAME(u32) ->
//! u32` from the rlibs (`--call NAME`, default `toy_sum`) with `--arg N`
//! (default 10) and prints `NAME(N) = result`.

use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::targets::TargetMachine;
use inkwell::AddressSpace;
use lto_engine::{Config, InputOptions, LtoKind, ModuleOrder, Session, WriteTo};
use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: rlib_driver --rlib PATH [--rlib PATH]... --preserve SYM \
                     [--preserve SYM]... -o OUT.o [--call NAME] [--arg N]";

/// The name of the driver's module among the session's inputs.
const MAIN_MODULE: &str = "rlib_driver.main";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rlib_driver: error: {error}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    rlibs: Vec<PathBuf>,
    preserve: Vec<String>,
    out: PathBuf,
    call: String,
    arg: u32,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let (mut rlibs, mut preserve, mut out) = (Vec::new(), Vec::new(), None);
    let (mut call, mut arg) = ("toy_sum".to_string(), 10);
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let mut value = || iter.next().ok_or(format!("{flag} needs a value ({USAGE})"));
        match flag.as_str() {
            "--rlib" => rlibs.push(PathBuf::from(value()?)),
            "--preserve" => preserve.push(value()?),
            "-o" => out = Some(PathBuf::from(value()?)),
            "--call" => call = value()?,
            "--arg" => {
                let text = value()?;
                arg = text
                    .parse()
                    .map_err(|_| format!("--arg {text}: expected a u32"))?;
            }
            _ => return Err(format!("unknown argument {flag:?} ({USAGE})").into()),
        }
    }
    let out = out.ok_or(format!("-o is required ({USAGE})"))?;
    if rlibs.is_empty() || preserve.is_empty() {
        return Err(format!("at least one --rlib and one --preserve ({USAGE})").into());
    }
    Ok(Args {
        rlibs,
        preserve,
        out,
        call,
        arg,
    })
}

/// `int main(void) { printf("NAME(N) = %u\n", NAME(N)); }`, with `NAME`
/// declared as rustc lowers `extern "C" fn(u32) -> u32`: `i32 (i32)`.
fn build_main<'c>(
    context: &'c Context,
    call: &str,
    arg: u32,
) -> Result<Module<'c>, Box<dyn Error>> {
    let module = context.create_module(MAIN_MODULE);
    target_host(&module)?;
    let i32t = context.i32_type();
    let ptr = context.ptr_type(AddressSpace::default());
    let printf = module.add_function(
        "printf",
        i32t.fn_type(&[ptr.into()], true),
        Some(Linkage::External),
    );
    let callee = module.add_function(call, i32t.fn_type(&[i32t.into()], false), None);
    let main = module.add_function("main", i32t.fn_type(&[], false), None);
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(main, "entry"));
    // The name goes in the format string as text, so a `%` in it is harmless.
    let text = format!("{}({arg}) = %u\n", call.replace('%', "%%"));
    let format = builder.build_global_string_ptr(&text, "format")?;
    let value = builder
        .build_call(callee, &[i32t.const_int(arg.into(), false).into()], "v")?
        .try_as_basic_value()
        .unwrap_basic();
    builder.build_call(
        printf,
        &[format.as_pointer_value().into(), value.into()],
        "",
    )?;
    builder.build_return(Some(&i32t.const_int(0, false)))?;
    module
        .verify()
        .map_err(|e| format!("{MAIN_MODULE}: invalid IR: {e}"))?;
    Ok(module)
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    // rlibs built with `-C embed-bitcode=yes` hold native objects with a
    // `.llvmbc` section; this makes the session take their bitcode instead
    // of their native code, as rustc's own LTO reads rlibs. Bitcode members
    // (`-C linker-plugin-lto`) go to LTO either way.
    let config = Config::builder()
        .input_options(InputOptions {
            embedded_bitcode: true,
            ..Default::default()
        })
        // Fat LTO takes the modules in the order they are given, as a
        // linker would: the driver's own code first.
        .module_order(ModuleOrder::Added)
        .build()?;
    let session = Session::new(config, LtoKind::Fat)?;
    // The driver's own code first, then its libraries: the LTO object takes
    // the place of the first bitcode input in link.rsp, and a library that
    // stays native must come after the code using it for order-sensitive
    // linkers. The module is serialized now: its context can go right after.
    {
        let context = Context::create();
        let module = build_main(&context, &args.call, args.arg)?;
        session.add_module(&module)?; // named MAIN_MODULE, its identifier
    }
    for rlib in &args.rlibs {
        let added = session.add_path(rlib)?;
        // Without bitcode the rlib still links, as native code, but nothing
        // of it is optimized with the rest.
        if added.modules.is_empty() {
            eprintln!(
                "rlib_driver: warning: {} has no bitcode (build it with -C embed-bitcode=yes \
                 or -C linker-plugin-lto); it is linked as native code",
                rlib.display()
            );
        }
    }
    if !args.preserve.iter().any(|s| s == "main") {
        eprintln!("rlib_driver: warning: main is not preserved; an executable link will miss it");
    }
    session.preserve(args.preserve.iter().cloned())?;
    let output = session.run()?;

    // Creates the output's directory when missing.
    let files = output.write(&WriteTo::object(&args.out))?;

    let report = &output.report;
    print!("{}", report.summary());
    println!("modules:");
    for module in &report.modules {
        println!("  {} ({})", module.name, module.origin);
    }
    // A crate graph internalizes thousands of symbols; a few tell the story.
    let shown = &report.internalized[..report.internalized.len().min(40)];
    let more = match report.internalized.len() - shown.len() {
        0 if shown.is_empty() => "(none)".to_string(),
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    println!("internalized: {}{more}", shown.join(", "));
    println!("object: {}", files.objects[0].display());
    println!("link.rsp: {}", files.link_rsp.display());
    Ok(())
}

/// Gives `module` the host's triple and data layout, as a compiler does for
/// the target it compiles for: LTO refuses a module without a data layout,
/// as lld does.
fn target_host(module: &Module<'_>) -> Result<(), Box<dyn Error>> {
    use inkwell::targets::{CodeModel, InitializationConfig, RelocMode, Target};
    Target::initialize_native(&InitializationConfig::default())?;
    let triple = TargetMachine::get_default_triple();
    let machine = Target::from_triple(&triple)?
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
