//! Modules built with inkwell in the test and handed over in memory.

mod common;
use common::*;
use inkwell::context::Context;
use inkwell::module::Linkage;
use inkwell::targets::TargetMachine;
use lto_engine::llvm::{ModuleBuffer, ThinBuffer};
use lto_engine::{Config, LtoKind, Session};

/// `cgu.0`: `int helper(int x) { return x * 5; }` (external, unused elsewhere
/// after inlining). `cgu.1`: `int entry(int x) { return helper(x) + 1; }`.
fn build_modules(context: &Context) -> (inkwell::module::Module<'_>, inkwell::module::Module<'_>) {
    let i32t = context.i32_type();
    let fn_type = i32t.fn_type(&[i32t.into()], false);
    let triple = TargetMachine::get_default_triple();

    let callee = context.create_module("cgu.0");
    callee.set_triple(&triple);
    let helper = callee.add_function("helper", fn_type, None);
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(helper, "entry"));
    let x = helper.get_first_param().unwrap().into_int_value();
    let product = builder
        .build_int_mul(x, i32t.const_int(5, false), "p")
        .unwrap();
    builder.build_return(Some(&product)).unwrap();

    let caller = context.create_module("cgu.1");
    caller.set_triple(&triple);
    let decl = caller.add_function("helper", fn_type, Some(Linkage::External));
    let entry = caller.add_function("entry", fn_type, None);
    builder.position_at_end(context.append_basic_block(entry, "entry"));
    let arg = entry.get_first_param().unwrap().into_int_value();
    let call = builder
        .build_call(decl, &[arg.into()], "c")
        .unwrap()
        .try_as_basic_value()
        .unwrap_basic()
        .into_int_value();
    let sum = builder
        .build_int_add(call, i32t.const_int(1, false), "s")
        .unwrap();
    builder.build_return(Some(&sum)).unwrap();
    (callee, caller)
}

#[test]
fn inkwell_modules_are_linked_internalized_and_inlined() {
    let context = Context::create();
    let (callee, caller) = build_modules(&context);
    let mut session = Session::new(Config::default()).unwrap();
    session.add_module("cgu.0", &callee).unwrap();
    session.add_module("cgu.1", &caller).unwrap();
    // The compiler's context can go away once the modules are submitted.
    drop((callee, caller));
    drop(context);
    session.preserve(["entry"]);
    let output = session.run(LtoKind::Fat).unwrap();
    assert_eq!(output.report.internalized, ["helper"]);
    assert_eq!(output.report.modules.len(), 2);

    let dir = tempfile::tempdir().unwrap();
    let files = output.write_fat(&dir.path().join("lto.o")).unwrap();
    let syms = symbols(&files.object);
    assert!(
        find(&syms, "helper").is_none(),
        "helper inlined and dropped"
    );
    assert!(find(&syms, "entry").is_some_and(|s| s.global && s.defined));

    // Call it from a C program to see it compute.
    let main_c = dir.path().join("main.c");
    std::fs::write(
        &main_c,
        "#include <stdio.h>\nint entry(int);\nint main(void){printf(\"%d\\n\", entry(8));return 0;}\n",
    )
    .unwrap();
    let main_o = compile_c(dir.path(), &main_c, &["-O1"]);
    let prog = link(dir.path(), &files.link_rsp, &[&main_o]);
    assert_eq!(run_program(&prog), "41\n");
}

#[test]
fn buffers_hold_bitcode_and_a_thin_summary() {
    let context = Context::create();
    let (callee, _caller) = build_modules(&context);
    let plain = ModuleBuffer::new(&callee).unwrap();
    let thin = ThinBuffer::new(&callee).unwrap();
    assert_eq!(&plain.as_bytes()[..4], b"BC\xC0\xDE");
    assert_eq!(&thin.as_bytes()[..4], b"BC\xC0\xDE");
    // The summary makes the thin buffer differ; llvm-bcanalyzer names it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thin.bc");
    std::fs::write(&path, thin.as_bytes()).unwrap();
    let dump = run_ok(std::process::Command::new("llvm-bcanalyzer-22").arg(&path));
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(text.contains("GLOBALVAL_SUMMARY_BLOCK"), "{text}");
    let path = dir.path().join("plain.bc");
    std::fs::write(&path, plain.as_bytes()).unwrap();
    let dump = run_ok(std::process::Command::new("llvm-bcanalyzer-22").arg(&path));
    assert!(!String::from_utf8_lossy(&dump.stdout).contains("GLOBALVAL_SUMMARY_BLOCK"));
    // Buffers cross threads.
    let handle = std::thread::spawn(move || thin.as_bytes().len());
    assert!(handle.join().unwrap() > 0);
}
