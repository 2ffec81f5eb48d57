//! Code generation options as lld's LTO sets them (lld/ELF/LTO.cpp), each
//! checked by what it changes in the object or in the link: the address-
//! significance table lets `--icf=safe` fold, the module's own code model
//! (`-mcmodel=large`) is honoured, GOT loads are relaxable, every function
//! and datum has its own section for `--gc-sections`, TLS is native.
//! Constructors in `.init_array` are checked in `constructors.rs`.

mod common;
use common::*;
use object::{Object, ObjectSection, RelocationFlags};
use std::path::{Path, PathBuf};
use std::process::Command;

const LLVM_OBJCOPY: &str = "/usr/lib/llvm-22/bin/llvm-objcopy";

/// The ELF relocation types of every section of an object.
fn relocation_types(object: &Path) -> Vec<u32> {
    let data = std::fs::read(object).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let mut types = Vec::new();
    for section in file.sections() {
        for (_, relocation) in section.relocations() {
            if let RelocationFlags::Elf { r_type } = relocation.flags() {
                types.push(r_type);
            }
        }
    }
    types
}

fn thin(dir: &Path, inputs: &[PathBuf], out: &str, exports: &[&str]) {
    let mut command = engine();
    command
        .current_dir(dir)
        .arg("thin")
        .args(inputs)
        .args(["-o", out]);
    for export in exports {
        command.args(["--export", export]);
    }
    run_ok(&mut command);
}

/// `lld --icf=safe --print-icf-sections` over `objects`: what it folded.
fn icf_report(dir: &Path, objects: &[PathBuf], name: &str) -> String {
    let out = run_ok(
        Command::new(CLANG)
            .current_dir(dir)
            .args(["-fuse-ld=lld", "-Wl,--icf=safe", "-Wl,--print-icf-sections"])
            .args(objects)
            .arg("-o")
            .arg(dir.join(name)),
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn address_significance_tables_let_safe_icf_fold() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let a = write_file(
        root,
        "twin_a.c",
        "__attribute__((noinline)) int twin_a(int x) { return x * 3 + 1; }\n",
    );
    let b = write_file(
        root,
        "twin_b.c",
        "__attribute__((noinline)) int twin_b(int x) { return x * 3 + 1; }\n\
         int twin_a(int);\n\
         int main(int argc, char **argv) { (void)argv; return twin_a(argc) + twin_b(argc) == 8 ? 0 : 1; }\n",
    );
    let inputs: Vec<PathBuf> = [a, b]
        .iter()
        .map(|src| compile_c(root, src, &["-O2", "-flto=thin"]))
        .collect();
    thin(root, &inputs, "out", &["main", "twin_a", "twin_b"]);
    let objects = vec![
        root.join("out/twin_a.o.lto.o"),
        root.join("out/twin_b.o.lto.o"),
    ];
    let folded = icf_report(root, &objects, "prog");
    let twins_folded = |report: &str| {
        report
            .lines()
            .any(|l| l.contains("removing identical section") && l.contains("(.text.twin_"))
    };
    assert!(twins_folded(&folded), "--icf=safe did not fold: {folded}");
    assert!(run_ok(&mut Command::new(root.join("prog")))
        .status
        .success());

    // Control: the same objects without their tables fold nothing, since
    // lld must then assume every address is significant.
    let stripped: Vec<PathBuf> = objects
        .iter()
        .map(|object| {
            let copy = object.with_extension("noaddrsig.o");
            run_ok(
                Command::new(LLVM_OBJCOPY)
                    .args(["--remove-section", ".llvm_addrsig"])
                    .arg(object)
                    .arg(&copy),
            );
            copy
        })
        .collect();
    let folded = icf_report(root, &stripped, "prog-stripped");
    assert!(!twins_folded(&folded), "folded without tables: {folded}");
}

#[test]
fn the_modules_code_model_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let big = write_file(
        root,
        "big.c",
        "extern int table[];\nint lookup(int i) { return table[i]; }\n",
    );
    let main = write_file(
        root,
        "tab.c",
        "int table[16] = {1, 2, 3};\nint lookup(int i);\n\
         int main(int argc, char **argv) { (void)argv; return lookup(argc) == 2 ? 0 : 1; }\n",
    );
    let inputs = vec![
        compile_c(root, &big, &["-O2", "-flto=thin", "-mcmodel=large"]),
        compile_c(root, &main, &["-O2", "-flto=thin"]),
    ];
    thin(root, &inputs, "out", &["main"]);
    // The large model reaches the GOT with 64-bit offsets, as clang's own
    // -mcmodel=large object does; the small model never does.
    const R_X86_64_GOTPC64: u32 = 29;
    let large = relocation_types(&root.join("out/big.o.lto.o"));
    assert!(large.contains(&R_X86_64_GOTPC64), "{large:?}");
    let small = relocation_types(&root.join("out/tab.o.lto.o"));
    assert!(!small.contains(&R_X86_64_GOTPC64), "{small:?}");
    let prog = link_cxx(root, &["@out/link.rsp".into()], "prog");
    assert!(run_ok(&mut Command::new(prog)).status.success());
}

#[test]
fn got_loads_are_relaxable_and_sections_are_per_function() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let lib = write_file(
        root,
        "lib.c",
        "extern int counter;\n\
         __attribute__((noinline)) int read_counter(void) { return counter; }\n\
         int unused_export(int x) { return x * 7; }\n\
         int unused_datum[64] = {1};\n",
    );
    let main = write_file(
        root,
        "main.c",
        "int counter = 5;\nint read_counter(void);\n\
         int main(void) { return read_counter() == 5 ? 0 : 1; }\n",
    );
    let inputs = vec![
        compile_c(root, &lib, &["-O2", "-flto=thin", "-fPIC"]),
        compile_c(root, &main, &["-O2", "-flto=thin"]),
    ];
    thin(
        root,
        &inputs,
        "out",
        &[
            "main",
            "read_counter",
            "unused_export",
            "unused_datum",
            "counter",
        ],
    );
    let object = root.join("out/lib.o.lto.o");
    // A preemptible global in PIC code is read through the GOT with a
    // relocation the linker may relax to a direct lea.
    const R_X86_64_REX_GOTPCRELX: u32 = 42;
    let types = relocation_types(&object);
    assert!(types.contains(&R_X86_64_REX_GOTPCRELX), "{types:?}");
    // Every function and datum in its own section, so --gc-sections drops
    // what nothing uses even though it stayed exported.
    let sections = section_names(&object);
    for wanted in [
        ".text.read_counter",
        ".text.unused_export",
        ".data.unused_datum",
    ] {
        assert!(
            sections.iter().any(|s| s == wanted),
            "{wanted}: {sections:?}"
        );
    }
    assert!(find(&symbols(&object), "unused_export").is_some_and(|s| s.defined));
    let prog = root.join("prog");
    run_ok(
        Command::new(CLANG)
            .current_dir(root)
            .args(["-fuse-ld=lld", "-Wl,--gc-sections", "@out/link.rsp", "-o"])
            .arg(&prog),
    );
    assert!(run_ok(&mut Command::new(&prog)).status.success());
    let linked = symbols(&prog);
    assert!(find(&linked, "read_counter").is_some());
    assert!(find(&linked, "unused_export").is_none(), "not collected");
    assert!(find(&linked, "unused_datum").is_none(), "not collected");
}

#[test]
fn thread_locals_use_native_tls() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let src = write_file(
        root,
        "tls.c",
        "#include <stdio.h>\n\
         _Thread_local int depth = 3;\n\
         __attribute__((noinline)) int bump(void) { return ++depth; }\n\
         int main(void) { printf(\"%d\\n\", bump() + bump()); return 0; }\n",
    );
    let inputs = vec![compile_c(root, &src, &["-O2", "-flto=thin"])];
    thin(root, &inputs, "out", &["main"]);
    let object = root.join("out/tls.o.lto.o");
    let syms = symbols(&object);
    assert!(
        !syms.iter().any(|s| s.name.starts_with("__emutls")),
        "emulated TLS: {syms:?}"
    );
    let sections = section_names(&object);
    assert!(
        sections.iter().any(|s| s.starts_with(".tdata")),
        "{sections:?}"
    );
    let prog = link_cxx(root, &["@out/link.rsp".into()], "prog");
    assert_eq!(run_program(&prog), "9\n");
}
