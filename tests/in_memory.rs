//! Modules built with inkwell in the test and handed over in memory.

mod common;
use common::*;
use inkwell::context::Context;
use inkwell::module::Linkage;
use inkwell::targets::TargetMachine;
use lto_engine::{Backends, Config, Input, LtoKind, Session, WriteTo};
use lto_engine::{ModuleBuffer, ThinBuffer};

/// `cgu.0`: `int helper(int x) { return x * 5; }` (external, unused elsewhere
/// after inlining). `cgu.1`: `int entry(int x) { return helper(x) + 1; }`.
fn build_modules(context: &Context) -> (inkwell::module::Module<'_>, inkwell::module::Module<'_>) {
    let i32t = context.i32_type();
    let fn_type = i32t.fn_type(&[i32t.into()], false);

    let callee = context.create_module("cgu.0");
    target_host(&callee);
    let helper = callee.add_function("helper", fn_type, None);
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(helper, "entry"));
    let x = helper.get_first_param().unwrap().into_int_value();
    let product = builder
        .build_int_mul(x, i32t.const_int(5, false), "p")
        .unwrap();
    builder.build_return(Some(&product)).unwrap();

    let caller = context.create_module("cgu.1");
    target_host(&caller);
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

/// Links the LTO output of `link_rsp` with a C `main` that prints
/// `entry(8)`, runs it and returns what it printed.
fn entry_of_8(dir: &std::path::Path, link_rsp: &std::path::Path) -> String {
    let main_c = dir.join("main.c");
    std::fs::write(
        &main_c,
        "#include <stdio.h>\nint entry(int);\nint main(void){printf(\"%d\\n\", entry(8));return 0;}\n",
    )
    .unwrap();
    let main_o = compile_c(dir, &main_c, &["-O1"]);
    let prog = link(dir, link_rsp, &[&main_o]);
    run_program(&prog)
}

#[test]
fn inkwell_modules_are_linked_internalized_and_inlined() {
    let context = Context::create();
    let (callee, caller) = build_modules(&context);
    let session = Session::new(Config::default(), LtoKind::Fat).unwrap();
    // Named by their own module identifiers ("cgu.0", "cgu.1").
    let added = session.add_module(&callee).unwrap();
    assert_eq!(added.modules, ["cgu.0"]);
    session.add_module(&caller).unwrap();
    // The compiler's context can go away once the modules are submitted.
    drop((callee, caller));
    drop(context);
    session.preserve(["entry"]).unwrap();
    let output = session.run().unwrap();
    assert_eq!(output.report.internalized, ["helper"]);
    assert_eq!(output.report.modules.len(), 2);

    let dir = tempfile::tempdir().unwrap();
    let files = output
        .write(&WriteTo::object(dir.path().join("lto.o")))
        .unwrap();
    let syms = symbols(&files.objects[0]);
    assert!(
        find(&syms, "helper").is_none(),
        "helper inlined and dropped"
    );
    assert!(find(&syms, "entry").is_some_and(|s| s.global && s.defined));

    // Call it from a C program to see it compute.
    assert_eq!(entry_of_8(dir.path(), &files.link_rsp), "41\n");
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

/// `cgu.0` and `cgu.1` as a compiler would rebuild them, with `helper`
/// multiplying by `factor`, handed over as ThinLTO buffers under `prefix`.
fn thin_session(prefix: &str, factor: u64, config: Config) -> Session {
    let context = Context::create();
    let (callee, caller) = build_modules(&context);
    if factor != 5 {
        // Rebuild helper's body with another constant.
        let helper = callee.get_function("helper").unwrap();
        let block = helper.get_first_basic_block().unwrap();
        let mul = block.get_first_instruction().unwrap();
        let x = helper.get_first_param().unwrap().into_int_value();
        let builder = context.create_builder();
        builder.position_before(&mul);
        let product = builder
            .build_int_mul(x, context.i32_type().const_int(factor, false), "p2")
            .unwrap();
        mul.replace_all_uses_with(&product.as_instruction().unwrap());
        mul.erase_from_basic_block();
    }
    // As a real compiler does: the target's data layout.
    inkwell::targets::Target::initialize_x86(&inkwell::targets::InitializationConfig::default());
    let triple = TargetMachine::get_default_triple();
    let machine = inkwell::targets::Target::from_triple(&triple)
        .unwrap()
        .create_target_machine(
            &triple,
            "x86-64",
            "",
            inkwell::OptimizationLevel::Default,
            inkwell::targets::RelocMode::PIC,
            inkwell::targets::CodeModel::Default,
        )
        .unwrap();
    let session = Session::new(config, LtoKind::Thin).unwrap();
    for (name, module) in [("cgu.0", &callee), ("cgu.1", &caller)] {
        module.set_data_layout(&machine.get_target_data().get_data_layout());
        let buffer = ThinBuffer::new(module).unwrap();
        session
            .add(Input::bitcode(format!("{prefix}{name}"), buffer.as_bytes()))
            .unwrap();
    }
    session.preserve(["entry"]).unwrap();
    session
}

#[test]
fn a_compiler_reuses_thin_objects_across_builds_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        Config::builder()
            .cache(lto_engine::CacheConfig::new(dir.path().join("cache")))
            .build()
            .unwrap()
    };
    let first = thin_session("", 5, config()).run().unwrap();
    assert!(first.objects.iter().all(|o| !o.reused_from_cache));
    let keys = first.cache_keys();
    assert_eq!(keys.len(), 2);

    // The next build, with the same modules rebuilt from scratch.
    let second = thin_session("", 5, config()).run().unwrap();
    assert!(second.objects.iter().all(|o| o.reused_from_cache));
    assert_eq!(second.cache_keys(), keys);
    for (a, b) in first.objects.iter().zip(&second.objects) {
        assert_eq!(a.bytes, b.bytes);
    }
    let thin = thin_report(&second.report);
    assert_eq!(thin.cache.as_ref().unwrap().hits, 2);

    // Without a cache, keys are LLVM's kind: from the bytes and the thin
    // link, not from names or paths (under other names, the same keys).
    // With one, promoted locals are named by their module's name, so names
    // are part of what an import brings.
    let plain = thin_session("", 5, Config::default()).run().unwrap();
    let renamed = thin_session("build-2/", 5, Config::default())
        .run()
        .unwrap();
    let renamed_keys: Vec<String> = renamed.cache_keys().into_values().collect();
    let plain_keys: Vec<String> = plain.cache_keys().into_values().collect();
    assert_eq!(renamed_keys, plain_keys);
    assert!(thin_report(&renamed.report).cache.is_none());

    // helper changes: its module misses, and so does cgu.1, which imports it.
    let edited = thin_session("", 6, config()).run().unwrap();
    assert!(edited.objects.iter().all(|o| !o.reused_from_cache));
    let reasons: Vec<String> = thin_report(&edited.report)
        .modules
        .iter()
        .map(|m| m.cache.to_string())
        .collect();
    assert_eq!(
        reasons,
        ["miss: module changed", "miss: imports changed (from cgu.0)"]
    );

    // The edited build computes: entry(8) = 8 * 6 + 1.
    let files = edited.write(&WriteTo::dir(dir.path().join("out"))).unwrap();
    assert_eq!(entry_of_8(dir.path(), &files.link_rsp), "49\n");
}

#[test]
fn a_compiler_distributes_its_thin_backends_through_the_api() {
    // The compiler runs the thin link; each backend could run on another
    // machine from the files the index names.
    let dir = tempfile::tempdir().unwrap();
    let options = lto_engine::distributed::IndexOptions::new(dir.path().join("idx"));
    let output = thin_session("", 5, Config::default())
        .run_with(Backends::IndexFiles(options))
        .unwrap();
    assert!(output.objects.is_empty(), "every module is a job");
    let files = output.write(&WriteTo::dir(dir.path().join("idx"))).unwrap();
    let jobs = &output.jobs;
    assert_eq!(jobs.len(), 2);
    let in_process = thin_session("", 5, Config::default()).run().unwrap();
    for (module, local) in jobs.iter().zip(&in_process.objects) {
        // In-memory modules have no file of their own: the thin link wrote
        // them beside the index files, and the index names those copies.
        assert!(module.module_written, "{module:?}");
        assert!(std::path::Path::new(&module.module_path).is_file());
        let output = lto_engine::distributed::backend_from_index(
            &Config::default(),
            module.module_path.as_ref(),
            &module.index_file,
        )
        .unwrap();
        assert_eq!(output.module_id, module.module_path);
        assert_eq!(output.imported_from, module.imports);
        assert_eq!(
            output.bytes, local.bytes,
            "{}: distributed and in-process objects differ",
            module.name
        );
        std::fs::write(&module.native_object, &output.bytes).unwrap();
    }
    // cgu.1 imports helper from cgu.0's copy.
    assert_eq!(jobs[1].imports, [jobs[0].module_path.clone()]);
    assert_eq!(entry_of_8(dir.path(), &files.link_rsp), "41\n");
}
