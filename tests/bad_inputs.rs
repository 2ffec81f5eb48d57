//! Bad inputs give a clear `Error` naming the input and phase, and a one-line
//! CLI message with a non-zero exit; never a panic or an abort. Every case
//! runs through fat LTO and through thin LTO.

mod common;
use common::*;
use lto_engine::{Config, Error, LtoKind, Phase, Session};
use std::path::{Path, PathBuf};
use std::process::Command;

fn good_bitcode(dir: &Path) -> PathBuf {
    compile_c(dir, &data("c/checksum.c"), &["-O2", "-flto"])
}

/// The LTO commands every case runs through, with their library kind.
const KINDS: [(&str, LtoKind); 2] = [("fat", LtoKind::Fat), ("thin", LtoKind::Thin)];

/// `lto-engine <command> INPUTS -o out` (fat: an object; thin: a directory).
fn lto(command: &str, inputs: &[&Path], out: &Path) -> Command {
    let mut cmd = engine();
    cmd.arg(command).args(inputs).arg("-o").arg(out);
    cmd
}

fn api_error(kind: LtoKind, inputs: &[&Path]) -> Error {
    let session = Session::new(Config::default(), kind).unwrap();
    for input in inputs {
        if let Err(error) = session.add_path(input) {
            return error;
        }
    }
    session.run().expect_err("should fail")
}

#[test]
fn truncated_bitcode() {
    for (command, kind) in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let good = std::fs::read(good_bitcode(dir.path())).unwrap();
        let bad = dir.path().join("truncated.o");
        std::fs::write(&bad, &good[..good.len() / 2]).unwrap();
        cli_error(
            &mut lto(command, &[&bad], &dir.path().join(format!("out-{command}"))),
            "truncated.o: parse:",
        );
        assert!(matches!(
            api_error(kind, &[&bad]),
            Error::InvalidInput { phase: Phase::Parse, ref input, .. } if input.ends_with("truncated.o")
        ));
        assert!(
            !dir.path().join(format!("out-{command}")).exists(),
            "no output on failure"
        );
    }
}

#[test]
fn random_bytes_named_bc() {
    for (command, _) in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("noise.bc");
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        std::fs::write(&bad, noise).unwrap();
        let text = cli_error(
            &mut lto(command, &[&bad], &dir.path().join(format!("out-{command}"))),
            "noise.bc",
        );
        assert!(text.contains("not LLVM bitcode"), "{text}");
        // Bitcode magic followed by garbage is a parse error, not a crash.
        let fake = dir.path().join("fake.bc");
        let mut bytes = b"BC\xC0\xDE".to_vec();
        bytes.extend((0..4096u32).map(|i| (i.wrapping_mul(40503) >> 7) as u8));
        std::fs::write(&fake, bytes).unwrap();
        cli_error(
            &mut lto(
                command,
                &[&fake],
                &dir.path().join(format!("out-{command}")),
            ),
            "fake.bc: parse:",
        );
    }
}

#[test]
fn archive_with_a_garbage_member() {
    for (command, _) in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let good = good_bitcode(dir.path());
        let garbage = dir.path().join("garbage.o");
        std::fs::write(&garbage, b"this is not an object file at all\n").unwrap();
        let archive = dir.path().join("libmixed.a");
        run_ok(
            Command::new("llvm-ar-22")
                .arg("rcS")
                .arg(&archive)
                .arg(&good)
                .arg(&garbage),
        );
        cli_error(
            &mut lto(
                command,
                &[&archive],
                &dir.path().join(format!("out-{command}")),
            ),
            "libmixed.a(garbage.o)",
        );
        // A corrupt archive header is an error too.
        let mut bytes = std::fs::read(&archive).unwrap();
        bytes.truncate(20);
        let corrupt = dir.path().join("libcorrupt.a");
        std::fs::write(&corrupt, bytes).unwrap();
        cli_error(
            &mut lto(
                command,
                &[&corrupt],
                &dir.path().join(format!("out-{command}")),
            ),
            "libcorrupt.a",
        );
    }
}

#[test]
fn missing_file() {
    for (command, _) in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("does-not-exist.o");
        let text = cli_error(
            &mut lto(
                command,
                &[&missing],
                &dir.path().join(format!("out-{command}")),
            ),
            "does-not-exist.o: read:",
        );
        assert!(text.contains("No such file"), "{text}");
        let rsp = format!("@{}", dir.path().join("missing.rsp").display());
        cli_error(
            engine()
                .args([command, &rsp, "-o"])
                .arg(dir.path().join(format!("out-{command}"))),
            "missing.rsp",
        );
    }
}

#[test]
fn the_same_strong_symbol_twice() {
    for (command, kind) in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let first = compile_c(&a, &data("c/scale.c"), &["-O2", "-flto"]);
        let second = compile_c(&b, &data("c/scale.c"), &["-O2", "-flto"]);
        let text = cli_error(
            &mut lto(
                command,
                &[&first, &second],
                &dir.path().join(format!("out-{command}")),
            ),
            "link:",
        );
        assert!(text.contains("multiply defined"), "{text}");
        // Both modules are named, in fat LTO as in thin.
        assert!(
            text.contains(&format!("{}: link:", second.display()))
                && text.contains(&format!("also defined in {}", first.display())),
            "{command}: {text}"
        );
        // The same file twice is a duplicate module name.
        let error = api_error(kind, &[&first, &first]);
        assert!(matches!(error, Error::DuplicateInput { .. }), "{error}");
    }
}

/// A thin-link failure reads `<input>: thin link: <reason>`, naming the
/// phase once. (Thin LTO only: fat LTO links the two modules of such a file.)
#[test]
fn a_thin_link_error_names_the_thin_link_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = compile_c(dir.path(), &data("c/checksum.c"), &["-O2", "-flto=thin"]);
    let second = compile_c(dir.path(), &data("c/scale.c"), &["-O2", "-flto=thin"]);
    // One bitcode file holding two ThinLTO modules: the thin link takes one
    // module per input.
    let both = dir.path().join("both.o");
    run_ok(
        Command::new("llvm-cat-22")
            .arg("-b")
            .arg(&first)
            .arg(&second)
            .arg("-o")
            .arg(&both),
    );
    let text = cli_error(
        &mut lto("thin", &[&both], &dir.path().join("out")),
        "both.o: thin link: bitcode holds 2 ThinLTO modules",
    );
    assert_eq!(text.matches("thin link").count(), 1, "{text}");
    let error = api_error(LtoKind::Thin, &[&both]);
    assert!(
        matches!(
            error,
            Error::InvalidInput { phase: Phase::ThinLink, ref input, .. } if input.ends_with("both.o")
        ),
        "{error:?}"
    );
    let text = error.to_string();
    assert_eq!(text.matches("thin link").count(), 1, "{text}");
    assert!(
        text.starts_with(&format!("{}: thin link: ", both.display())),
        "{text}"
    );
}

/// Writes LLVM bitstream: enough to build an identification block that
/// claims a future LLVM and epoch, followed by an empty module block.
struct BitWriter {
    bytes: Vec<u8>,
    current: u64,
    bits: u32,
}

impl BitWriter {
    fn emit(&mut self, value: u64, width: u32) {
        self.current |= value << self.bits;
        self.bits += width;
        while self.bits >= 8 {
            self.bytes.push(self.current as u8);
            self.current >>= 8;
            self.bits -= 8;
        }
    }
    fn vbr(&mut self, mut value: u64, width: u32) {
        let limit = 1 << (width - 1);
        while value >= limit {
            self.emit((value & (limit - 1)) | limit, width);
            value >>= width - 1;
        }
        self.emit(value, width);
    }
    fn align32(&mut self) {
        if self.bits > 0 {
            self.emit(0, 8 - self.bits);
        }
        while self.bytes.len() % 4 != 0 {
            self.bytes.push(0);
        }
    }
    /// ENTER_SUBBLOCK with abbrev width 3; returns where the length goes.
    fn enter(&mut self, block_id: u64) -> usize {
        self.emit(1, 2);
        self.vbr(block_id, 8);
        self.vbr(3, 4);
        self.align32();
        let at = self.bytes.len();
        self.bytes.extend([0; 4]);
        at
    }
    fn record(&mut self, code: u64, ops: &[u64]) {
        self.emit(3, 3); // UNABBREV_RECORD
        self.vbr(code, 6);
        self.vbr(ops.len() as u64, 6);
        for op in ops {
            self.vbr(*op, 6);
        }
    }
    fn exit(&mut self, length_at: usize) {
        self.emit(0, 3); // END_BLOCK
        self.align32();
        let words = ((self.bytes.len() - length_at - 4) / 4) as u32;
        self.bytes[length_at..length_at + 4].copy_from_slice(&words.to_le_bytes());
    }
}

fn future_llvm_bitcode() -> Vec<u8> {
    let mut w = BitWriter {
        bytes: b"BC\xC0\xDE".to_vec(),
        current: 0,
        bits: 0,
    };
    let ident = w.enter(13); // IDENTIFICATION_BLOCK_ID
    let producer: Vec<u64> = "LLVM99.0.0".bytes().map(u64::from).collect();
    w.record(1, &producer); // IDENTIFICATION_CODE_STRING
    w.record(2, &[1]); // IDENTIFICATION_CODE_EPOCH: LLVM 22 is epoch 0
    w.exit(ident);
    let module = w.enter(8); // MODULE_BLOCK_ID
    w.record(1, &[2]); // MODULE_CODE_VERSION 2
    w.exit(module);
    w.bytes
}

#[test]
fn bitcode_from_a_newer_llvm() {
    for (command, _) in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let future = dir.path().join("future.bc");
        std::fs::write(&future, future_llvm_bitcode()).unwrap();
        let text = cli_error(
            &mut lto(
                command,
                &[&future],
                &dir.path().join(format!("out-{command}")),
            ),
            "future.bc: parse:",
        );
        assert!(text.contains("newer LLVM"), "{text}");
        assert!(text.contains("LLVM99.0.0"), "{text}");
    }
}

#[test]
fn unwritable_output_path() {
    for (command, _) in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let good = good_bitcode(dir.path());
        // A path below a regular file cannot be created, even by root.
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, b"file").unwrap();
        let out = blocker.join("out.o");
        cli_error(&mut lto(command, &[&good], &out), "not-a-dir/out.o: write:");
        // An existing output is not clobbered half-way when a later step fails.
        let existing = dir.path().join("keep.o");
        std::fs::write(&existing, b"previous").unwrap();
        let noise = dir.path().join("noise.bc");
        std::fs::write(&noise, b"garbage").unwrap();
        cli_error(&mut lto(command, &[&good, &noise], &existing), "noise.bc");
        assert_eq!(std::fs::read(&existing).unwrap(), b"previous");
    }
}

/// A module whose IR fails the verifier (a use its definition does not
/// dominate), written past the verifier with `llvm-as -disable-verify`.
fn invalid_ir(dir: &Path) -> PathBuf {
    let source = dir.join("invalid.ll");
    std::fs::write(
        &source,
        "target datalayout = \"e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128\"\n\
         target triple = \"x86_64-pc-linux-gnu\"\n\
         define i32 @main() {\n\
         entry:\n  %a = add i32 %b, 1\n  %b = add i32 1, 2\n  ret i32 %a\n}\n",
    )
    .unwrap();
    let out = dir.join("invalid.bc");
    run_ok(
        Command::new("llvm-as-22")
            .arg("-disable-verify")
            .arg(&source)
            .arg("-o")
            .arg(&out),
    );
    out
}

#[test]
fn invalid_ir_is_refused_before_any_pass() {
    for (command, kind) in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let bad = invalid_ir(dir.path());
        let out = dir.path().join("out");
        let line = cli_error(
            &mut lto(command, &[&bad], &out),
            "invalid.bc: verify: invalid IR",
        );
        assert!(line.contains("does not dominate all uses"), "{line}");
        assert!(!out.exists(), "{command}: nothing written");
        match api_error(kind, &[&bad]) {
            Error::InvalidInput { phase, .. } => assert_eq!(phase, Phase::Verify),
            other => panic!("{command}: {other:?}"),
        }
        // Positive control: without the input check the module gets past
        // the parse (fat LTO's check after linking catches it later; thin
        // LTO's passes would get it).
        let unchecked = engine()
            .arg(command)
            .arg(&bad)
            .args(["--no-verify-inputs", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&unchecked.stderr);
        assert!(
            !stderr.contains("verify: invalid IR"),
            "{command}: {stderr}"
        );
    }
}

#[test]
fn unknown_processors_and_features_are_warnings_not_stderr_noise() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("cpu.ll");
    std::fs::write(
        &source,
        "target datalayout = \"e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128\"\n\
         target triple = \"x86_64-pc-linux-gnu\"\n\
         define i32 @main() #0 {\n  ret i32 0\n}\n\
         attributes #0 = { \"target-cpu\"=\"x96-64\" \"target-features\"=\"+sse2,+bogus\" }\n",
    )
    .unwrap();
    let bitcode = dir.path().join("cpu.bc");
    run_ok(
        Command::new("llvm-as-22")
            .arg(&source)
            .arg("-o")
            .arg(&bitcode),
    );
    // Positive control: LLVM itself (llc) prints this straight to stderr.
    let llc = Command::new("llc-22")
        .arg("-filetype=obj")
        .arg(&bitcode)
        .arg("-o")
        .arg(dir.path().join("llc.o"))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&llc.stderr);
    assert!(
        printed.contains("'x96-64' is not a recognized processor"),
        "{printed}"
    );
    for command in ["fat", "thin"] {
        let out = dir.path().join(command);
        let result = lto(command, &[&bitcode], &out)
            .args(["--export", "main"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(result.status.success(), "{command}: {stderr}");
        // LLVM printed nothing itself: each mention is the engine's warning.
        for line in stderr.lines().filter(|l| l.contains("is not a recognized")) {
            assert!(
                line.starts_with("lto-engine: warning: "),
                "{command}: printed by LLVM: {line:?} in {stderr}"
            );
        }
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
        assert!(
            warnings
                .iter()
                .any(|l| l.contains("'x96-64' is not a recognized processor")),
            "{command}: {stderr}"
        );
        assert!(
            warnings
                .iter()
                .any(|l| l.contains("'+bogus' is not a recognized feature")),
            "{command}: {stderr}"
        );
        assert!(
            !warnings.iter().any(|l| l.contains("'+sse2'")),
            "{command}: a known feature is kept: {stderr}"
        );
    }
}

/// The data layout LLVM 22 gives `triple`'s architecture.
fn data_layout(triple: &str) -> &'static str {
    match triple.split('-').next() {
        Some("x86_64") => {
            "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
        }
        Some("aarch64") => "e-m:e-p270:32:32-p271:32:32-p272:64:64-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128-Fn32",
        Some("riscv64") => "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128",
        _ => panic!("no data layout for {triple}"),
    }
}

/// `dir/<name>.bc`: a module for `triple` (with its data layout) defining
/// `i32 @<function>()`.
fn one_function_module(dir: &Path, name: &str, triple: &str, function: &str) -> PathBuf {
    one_function_module_with(dir, name, triple, function, Some(data_layout(triple)))
}

/// As [`one_function_module`], with `layout` as the module's data layout
/// (none when `None`).
fn one_function_module_with(
    dir: &Path,
    name: &str,
    triple: &str,
    function: &str,
    layout: Option<&str>,
) -> PathBuf {
    let source = dir.join(format!("{name}.ll"));
    let layout = layout
        .map(|layout| format!("target datalayout = \"{layout}\"\n"))
        .unwrap_or_default();
    std::fs::write(
        &source,
        format!(
            "{layout}target triple = \"{triple}\"\ndefine i32 @{function}() {{\n  ret i32 7\n}}\n"
        ),
    )
    .unwrap();
    let bitcode = dir.join(format!("{name}.bc"));
    run_ok(
        Command::new("llvm-as-22")
            .arg(&source)
            .arg("-o")
            .arg(&bitcode),
    );
    bitcode
}

/// A module whose triple names a target this build lacks: the error names
/// the module whose triple asked for it; with the target configured, it
/// names none (the configuration is the thing to fix). Control: the same
/// module for x86-64 runs.
#[test]
fn a_target_the_build_lacks_names_the_module_that_asked_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, triple: &str| one_function_module(dir.path(), name, triple, "entry");
    let riscv = write("cgu.math", "riscv64-unknown-linux-gnu");
    for (_, kind) in KINDS {
        let session = Session::new(Config::default(), kind).unwrap();
        session.add_path(&riscv).unwrap();
        session.preserve(["entry"]).unwrap();
        let error = session
            .run()
            .expect_err("riscv64 is not in this build")
            .to_string();
        assert!(
            error.contains("riscv64-unknown-linux-gnu, the target of module")
                && error.contains("cgu.math"),
            "{kind:?}: {error}"
        );
    }
    let x86 = write("cgu.x86", "x86_64-unknown-linux-gnu");
    let session = Session::new(Config::default(), LtoKind::Fat).unwrap();
    session.add_path(&x86).unwrap();
    session.preserve(["entry"]).unwrap();
    session.run().unwrap();
}

/// Modules for another architecture are refused, naming the module and
/// both triples, as lld refuses an input of another machine (it used to be
/// linked in with a warning, or compiled into an object the final link
/// refused). Controls: two spellings of one target (clang's and rustc's)
/// link; an explicit target overrides the modules' own.
#[test]
fn modules_for_another_target_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, triple: &str, function: &str| {
        one_function_module(dir.path(), name, triple, function)
    };
    let main = write("cgu.main", "x86_64-pc-linux-gnu", "entry");
    let rustc = write("cgu.rustc", "x86_64-unknown-linux-gnu", "helper");
    let math = write("cgu.math", "aarch64-unknown-linux-gnu", "math");
    let run = |kind: LtoKind, inputs: &[&Path], config: Config| {
        let session = Session::new(config, kind).unwrap();
        for input in inputs {
            session.add_path(input).unwrap();
        }
        session.preserve(["entry", "helper", "math"]).unwrap();
        session.run()
    };
    for (_, kind) in KINDS {
        let error = run(kind, &[&main, &math], Config::default()).expect_err("aarch64 in x86-64");
        let text = error.to_string();
        assert!(
            matches!(error, Error::InvalidInput { .. }),
            "{kind:?}: {text}"
        );
        assert!(
            text.contains("cgu.math.bc")
                && text.contains("aarch64-unknown-linux-gnu")
                && text.contains("x86_64-pc-linux-gnu"),
            "{kind:?}: {text}"
        );
        run(kind, &[&main, &rustc], Config::default()).unwrap();
    }
    let config = Config::builder()
        .target_triple("x86_64-unknown-linux-gnu")
        .build()
        .unwrap();
    run(LtoKind::Fat, &[&main, &math], config).unwrap();
}

/// A module without a data layout is refused, as lld refuses it (`input
/// module has no datalayout`), fat and thin, from a file (at `run`) and
/// from memory (at `add`), naming the module. Controls: lld's own refusal
/// of the same bitcode; the same modules with the layout run.
#[test]
fn a_module_without_a_data_layout_is_refused_as_lld_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let triple = "x86_64-pc-linux-gnu";
    let bare = one_function_module_with(dir.path(), "bare", triple, "main", None);
    let out = Command::new("ld.lld-22")
        .arg(&bare)
        .args(["-e", "main", "-o"])
        .arg(dir.path().join("lld-prog"))
        .output()
        .unwrap();
    let lld = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{lld}");
    assert!(lld.contains("input module has no datalayout"), "{lld}");

    let laid = one_function_module(dir.path(), "laid", triple, "main");
    let context = inkwell::context::Context::create();
    let module = context.create_module("cgu.bare");
    module.set_triple(&inkwell::targets::TargetMachine::get_default_triple());
    let i32_type = context.i32_type();
    let main = module.add_function("main", i32_type.fn_type(&[], false), None);
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(main, "entry"));
    builder
        .build_return(Some(&i32_type.const_int(0, false)))
        .unwrap();
    for (_, kind) in KINDS {
        let session = Session::new(Config::default(), kind).unwrap();
        session.add_path(&bare).unwrap();
        session.preserve(["main"]).unwrap();
        let error = session.run().expect_err("no datalayout").to_string();
        assert!(
            error.contains("bare.bc") && error.contains("input module has no datalayout"),
            "{kind:?}: {error}"
        );
        let session = Session::new(Config::default(), kind).unwrap();
        let error = session
            .add_module(&module)
            .expect_err("no datalayout")
            .to_string();
        assert!(
            error.contains("cgu.bare") && error.contains("input module has no datalayout"),
            "{kind:?}: {error}"
        );
    }
    target_host(&module);
    for (_, kind) in KINDS {
        let session = Session::new(Config::default(), kind).unwrap();
        session.add_path(&laid).unwrap();
        session
            .add_module(&module)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        session.preserve(["main"]).unwrap();
        // Two definitions of main: the point is that both were taken in.
        let error = session.run().expect_err("main defined twice").to_string();
        assert!(error.contains("multiply defined"), "{kind:?}: {error}");
    }
}
