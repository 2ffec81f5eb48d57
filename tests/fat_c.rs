//! Fat LTO of a multi-file C program compiled with `clang-22 -O2 -flto`.

mod common;
use common::*;
use lto_engine::{Config, EmitKind, Input, LtoKind, ModuleOrder, Session};
use std::path::PathBuf;

const EXPECTED: &str = "checksum=44618 scaled=133855 kind=even api=22\n";

fn c_inputs(dir: &std::path::Path) -> Vec<PathBuf> {
    ["main.c", "checksum.c", "scale.c"]
        .iter()
        .map(|src| compile_c(dir, &data(&format!("c/{src}")), &["-O2", "-flto"]))
        .collect()
}

#[test]
fn c_program_through_cli_links_runs_and_internalizes() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = c_inputs(dir.path());
    let out = dir.path().join("out/lto.o");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    // Inputs through a response file, as build systems pass them.
    let rsp = dir.path().join("inputs.rsp");
    let listed: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    std::fs::write(&rsp, listed.join("\n")).unwrap();
    let report = dir.path().join("report.json");
    run_ok(
        engine()
            .arg("fat")
            .arg(format!("@{}", rsp.display()))
            .args(["-o", out.to_str().unwrap(), "--export", "main"])
            .args(["--export", "lto_api_version", "--report"])
            .arg(&report),
    );
    let link_rsp = out.parent().unwrap().join("link.rsp");
    assert_eq!(
        std::fs::read_to_string(&link_rsp).unwrap().trim(),
        out.display().to_string(),
        "all inputs were bitcode: only the LTO object remains"
    );
    let prog = link(dir.path(), &link_rsp, &[]);
    assert_eq!(run_program(&prog), EXPECTED);

    let syms = symbols(&out);
    // helper_mix is external in checksum.c but only checksum uses it.
    assert!(
        find(&syms, "helper_mix").is_none_or(|s| !s.global),
        "helper_mix must be internalized: {:?}",
        find(&syms, "helper_mix")
    );
    for kept in ["main", "lto_api_version"] {
        let sym = find(&syms, kept).unwrap_or_else(|| panic!("{kept} missing"));
        assert!(
            sym.global && sym.defined,
            "{kept} must stay global: {sym:?}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let internalized: Vec<&str> = json["internalized"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(internalized.contains(&"helper_mix"), "{internalized:?}");
    assert!(!internalized.contains(&"main"), "{internalized:?}");
    assert_eq!(json["modules"].as_array().unwrap().len(), 3);
}

#[test]
fn fat_output_is_deterministic_and_emits_asm_and_bitcode() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = c_inputs(dir.path());
    let run = |emit: EmitKind, reversed: bool| {
        // Module order as a linker's: the order the inputs are added in.
        let config = Config::builder()
            .emit(emit)
            .module_order(ModuleOrder::Added)
            .build()
            .unwrap();
        let session = Session::new(config, LtoKind::Fat).unwrap();
        let mut ordered = inputs.clone();
        if reversed {
            ordered.reverse();
        }
        for input in &ordered {
            session.add_path(input).unwrap();
        }
        session.preserve(["main"]).unwrap();
        session.run().unwrap().objects.remove(0).bytes
    };
    let first = run(EmitKind::Object, false);
    assert_eq!(
        first,
        run(EmitKind::Object, false),
        "same inputs, same bytes"
    );
    // Input order is a linker's semantics (the first weak copy and comdat
    // prevail, constructors of equal priority run in that order), so a
    // reversed order may give other bytes; it is deterministic too.
    assert_eq!(
        run(EmitKind::Object, true),
        run(EmitKind::Object, true),
        "reversed inputs, same bytes"
    );
    let asm = String::from_utf8(run(EmitKind::Assembly, false)).unwrap();
    assert!(asm.contains("main:"), "assembly text: {asm}");
    let bitcode = run(EmitKind::Bitcode, false);
    assert_eq!(&bitcode[..4], b"BC\xC0\xDE");
}

#[test]
fn save_temps_writes_each_stage_as_bitcode() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = c_inputs(dir.path());
    let temps = dir.path().join("temps");
    let out = dir.path().join("lto.o");
    run_ok(
        engine()
            .arg("fat")
            .args(&inputs)
            .args([
                "-o",
                out.to_str().unwrap(),
                "--export",
                "main",
                "--save-temps",
            ])
            .arg(&temps)
            .arg("-O3"),
    );
    for stage in ["lto.input", "lto.after-restriction", "lto.after-opt"] {
        let path = temps.join(format!("{stage}.bc"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Each stage parses back as a module.
        let session = Session::new(Config::default(), LtoKind::Fat).unwrap();
        session.add(Input::bitcode(stage, bytes)).unwrap();
        session.preserve(["main"]).unwrap();
        session.run().unwrap();
    }
}

/// A preserved `linkonce_odr` definition whose calls in the unit are all
/// inlined is still emitted, weak, as LLVM's LTO (and lld) make every
/// prevailing one: a native object calls it. Its unpreserved twin,
/// inlined the same way, is gone (the control: the pipeline does drop
/// unused inline functions).
#[test]
fn preserved_inline_function_is_emitted_after_its_calls_are_inlined() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let bitcode = root.join("inline_export.bc");
    run_ok(
        std::process::Command::new("llvm-as-22")
            .arg(data("restrict/inline_export.ll"))
            .arg("-o")
            .arg(&bitcode),
    );
    let main = compile_c(root, &data("restrict/inline_export_main.c"), &["-O2"]);
    for partitions in ["1", "2"] {
        let out_dir = root.join(format!("p{partitions}"));
        std::fs::create_dir_all(&out_dir).unwrap();
        run_ok(
            engine()
                .arg("fat")
                .arg(&main)
                .arg(&bitcode)
                .arg("-o")
                .arg(out_dir.join("lto.o"))
                .args(["-O2", "--lto-partitions", partitions]),
        );
        let rsp = std::fs::read_to_string(out_dir.join("link.rsp")).unwrap();
        let objects: Vec<PathBuf> = rsp
            .lines()
            .map(PathBuf::from)
            .filter(|p| p.starts_with(&out_dir))
            .collect();
        let defined = |name: &str| {
            objects
                .iter()
                .filter(|o| find(&symbols(o), name).is_some_and(|s| s.defined && s.global))
                .count()
        };
        assert_eq!(defined("exported_inline"), 1, "{partitions} partitions");
        assert_eq!(defined("caller"), 1, "{partitions} partitions");
        let unexported = objects
            .iter()
            .filter(|o| find(&symbols(o), "unexported_inline").is_some())
            .count();
        assert_eq!(unexported, 0, "{partitions} partitions");
        let prog = link(&out_dir, &out_dir.join("link.rsp"), &[]);
        assert_eq!(run_program(&prog), "17 15\n", "{partitions} partitions");
    }
}
