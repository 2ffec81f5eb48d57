//! Fat LTO's code generation partitions (`--lto-partitions`): C, C++ and
//! Rust programs run correctly with 1, 2 and 4 partitions; each count gives
//! the same bytes whatever the job count; what was internal stays internal
//! (or takes a name nothing else has), even beside a native object that
//! defines the same names; the report lists the partitions.

mod common;
use common::*;
use lto_engine::{Config, FatPartitions, LtoKind, Session};
use std::path::{Path, PathBuf};

/// Runs `lto-engine fat` into the directory `dir/<name>/` (one file per
/// partition); returns the objects link.rsp lists (the partitions, then the
/// native inputs) and the report.
fn fat(
    dir: &Path,
    name: &str,
    inputs: &[PathBuf],
    flags: &[&str],
) -> (Vec<PathBuf>, serde_json::Value) {
    let out_dir = dir.join(name);
    std::fs::create_dir_all(&out_dir).unwrap();
    let report = out_dir.join("report.json");
    run_ok(
        engine()
            .arg("fat")
            .args(inputs)
            .arg("-o")
            .arg(format!("{}/", out_dir.display()))
            .args(["--export", "main", "-O2", "--report"])
            .arg(&report)
            .args(flags),
    );
    let listed = std::fs::read_to_string(out_dir.join("link.rsp"))
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect();
    let json = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    (listed, json)
}

/// The partition objects among link.rsp's lines (those the run wrote).
fn partitions(listed: &[PathBuf], out_dir: &Path) -> Vec<PathBuf> {
    listed
        .iter()
        .filter(|p| p.starts_with(out_dir))
        .cloned()
        .collect()
}

fn partition_count(report: &serde_json::Value) -> usize {
    report["fat"]["partitions"].as_array().unwrap().len()
}

/// Links `dir/<name>-prog` with clang and lld from `objects`.
fn link_objects(dir: &Path, objects: &[PathBuf], name: &str, cxx: bool) -> PathBuf {
    let prog = dir.join(format!("{name}-prog"));
    run_ok(
        std::process::Command::new(if cxx { "clang++-22" } else { "clang-22" })
            .arg("-fuse-ld=lld")
            .args(objects)
            .arg("-o")
            .arg(&prog),
    );
    prog
}

/// The tests/data/partitions program: what its build without LTO prints
/// (the reference), and the LTO inputs: stats.c and main.c as bitcode, then
/// native.c's object, which defines global `counter` and `bump`, the names
/// of stats.c's statics.
fn partitions_program(root: &Path) -> (String, Vec<PathBuf>) {
    let src = |name: &str| data(&format!("partitions/{name}"));
    std::fs::create_dir_all(root.join("native")).unwrap();
    let native: Vec<PathBuf> = ["stats.c", "native.c", "main.c"]
        .iter()
        .map(|s| compile_c(&root.join("native"), &src(s), &["-O2"]))
        .collect();
    let expected = run_program(&link_objects(root, &native, "native", false));
    assert!(expected.starts_with("sum="), "{expected}");
    std::fs::create_dir_all(root.join("bc")).unwrap();
    let bitcode = ["stats.c", "main.c"]
        .iter()
        .map(|s| compile_c(&root.join("bc"), &src(s), &["-O2", "-flto"]));
    let inputs = bitcode.chain([native[1].clone()]).collect();
    (expected, inputs)
}

#[test]
fn statics_and_internalized_functions_never_clash_across_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (expected, inputs) = partitions_program(root);

    for count in [1usize, 2, 4] {
        let name = format!("p{count}");
        let (listed, report) = fat(
            root,
            &name,
            &inputs,
            &["--lto-partitions", &count.to_string()],
        );
        let objects = partitions(&listed, &root.join(&name));
        assert_eq!(objects.len(), count, "{listed:?}");
        assert_eq!(partition_count(&report), count, "{report}");
        let prog = link_objects(root, &listed, &name, false);
        assert_eq!(run_program(&prog), expected, "{count} partitions");

        // Nothing that was local in its input (the statics) is a global
        // symbol of its own name in any partition.
        let syms: Vec<Sym> = objects.iter().flat_map(|o| symbols(o)).collect();
        for sym in &syms {
            assert!(
                !(sym.global && sym.defined && ["counter", "bump"].contains(&sym.name.as_str())),
                "{count} partitions: {} became a global symbol",
                sym.name
            );
        }
        // The step functions were global in stats.c and internalized by the
        // restriction pass: used from another partition, they keep their
        // own names, hidden (as lld's partitions keep them), since code
        // outside the unit may name them; used in one partition only, they
        // are local.
        let steps: Vec<&Sym> = syms
            .iter()
            .filter(|s| s.defined && s.name.starts_with("step"))
            .collect();
        assert!(
            steps
                .iter()
                .all(|s| !s.name.contains(".llvm.") && (!s.global || s.hidden)),
            "{count} partitions: {steps:?}"
        );
        let shared_steps = steps.iter().filter(|s| s.global).count() as u64;
        assert_eq!(
            report["fat"]["shared_internalized"].as_u64(),
            Some(shared_steps),
            "{report}"
        );
        if count > 1 {
            assert!(shared_steps > 0, "{count} partitions: {steps:?}");
        }
        let promoted: Vec<&Sym> = syms
            .iter()
            .filter(|s| s.global && s.defined && s.name.contains(".llvm."))
            .collect();
        if count == 1 {
            assert!(promoted.is_empty(), "{promoted:?}");
            assert_eq!(report["fat"]["promoted_locals"], 0);
        } else {
            // The control: locals were used across partitions, so without
            // the renaming they would have been global `counter`, `bump`,
            // `stepN`, and `counter`/`bump` would clash with native.c's.
            assert!(
                promoted.iter().any(
                    |s| s.name.starts_with("counter.llvm.") || s.name.starts_with("bump.llvm.")
                ),
                "{count} partitions: {promoted:?}"
            );
            assert!(report["fat"]["promoted_locals"].as_u64().unwrap() > 0);
        }
    }
}

/// Every file the run wrote, by name, with its bytes.
fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn each_partition_count_gives_the_same_objects_with_any_job_count() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inputs: Vec<PathBuf> = ["main.c", "checksum.c", "scale.c"]
        .iter()
        .map(|s| compile_c(root, &data(&format!("c/{s}")), &["-O2", "-flto"]))
        .collect();
    let mut by_count = Vec::new();
    for count in ["1", "2", "4"] {
        let one = format!("c{count}-j1");
        let four = format!("c{count}-j4");
        fat(
            root,
            &one,
            &inputs,
            &["--lto-partitions", count, "--jobs", "1"],
        );
        let (listed, report) = fat(
            root,
            &four,
            &inputs,
            &["--lto-partitions", count, "--jobs", "4"],
        );
        let (a, b) = (outputs(&root.join(&one)), outputs(&root.join(&four)));
        assert_eq!(a.len(), count.parse::<usize>().unwrap());
        assert!(a == b, "{count} partitions: --jobs 1 and --jobs 4 differ");
        // Four threads, but never more than there are partitions.
        assert_eq!(report["fat"]["jobs"].as_u64().unwrap().to_string(), count);
        let prog = link_objects(root, &listed, &four, false);
        assert_eq!(
            run_program(&prog),
            "checksum=44618 scaled=133855 kind=even api=22\n"
        );
        by_count.push(a);
    }
    // The control: the partition count does change the objects.
    assert!(by_count[1] != by_count[2]);
}

#[test]
fn cxx_and_rust_programs_run_with_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // C++: comdats, vtables, static constructors across partitions.
    let sources = ["main.cpp", "circle.cpp", "square.cpp", "log.cpp"];
    let native: Vec<PathBuf> = sources
        .iter()
        .map(|s| compile_cxx(root, &data(&format!("cxx/{s}")), &["-O2"], ".native"))
        .collect();
    let expected = run_program(&link_objects(root, &native, "cxx-native", true));
    let bitcode: Vec<PathBuf> = sources
        .iter()
        .map(|s| compile_cxx(root, &data(&format!("cxx/{s}")), &["-O2", "-flto"], ".bc"))
        .collect();
    // Every count from 2 to 8 places the template static data member's
    // comdat (its initializer only runs from the object that defines it)
    // somewhere else relative to the constructor list: each must run.
    for count in ["1", "2", "3", "4", "5", "6", "7", "8"] {
        let name = format!("cxx{count}");
        let (listed, report) = fat(root, &name, &bitcode, &["--lto-partitions", count]);
        assert_eq!(partition_count(&report).to_string(), count);
        let prog = link_objects(root, &listed, &name, true);
        assert_eq!(run_program(&prog), expected, "C++, {count} partitions");
    }

    // Rust: a staticlib with std, its crate's bitcode in LTO, with a C main.
    rustc(
        root,
        &data("rust/report.rs"),
        &["--crate-type=staticlib", "-C", "linker-plugin-lto"],
    );
    let main = compile_c(root, &data("rust/report_main.c"), &["-O2"]);
    let inputs = [main, root.join("libreport.a")];
    for count in ["1", "2", "4"] {
        let name = format!("rust{count}");
        let (_, report) = fat(root, &name, &inputs, &["--lto-partitions", count]);
        assert_eq!(partition_count(&report).to_string(), count);
        let prog = link(root, &root.join(&name).join("link.rsp"), &[]);
        assert_eq!(
            run_program(&prog),
            "rust: 4 words: w1+w4+w9+w16\nc: total=9\n",
            "Rust, {count} partitions"
        );
    }
}

#[test]
fn auto_partitions_follow_the_module_size_only() {
    assert_eq!(FatPartitions::Auto.count(0), 1);
    assert_eq!(
        FatPartitions::Auto.count(FatPartitions::AUTO_INSTRUCTIONS - 1),
        1
    );
    assert_eq!(
        FatPartitions::Auto.count(2 * FatPartitions::AUTO_INSTRUCTIONS),
        2
    );
    assert_eq!(FatPartitions::Auto.count(u64::MAX), FatPartitions::AUTO_MAX);
    assert_eq!(FatPartitions::Fixed(3).count(0), 3);
    // A small program is one object by default (library and CLI).
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = ["main.c", "checksum.c", "scale.c"]
        .iter()
        .map(|s| compile_c(dir.path(), &data(&format!("c/{s}")), &["-O2", "-flto"]))
        .collect();
    let session = Session::new(Config::default(), LtoKind::Fat).unwrap();
    for input in &inputs {
        session.add_path(input).unwrap();
    }
    session.preserve(["main"]).unwrap();
    let output = session.run().unwrap();
    assert_eq!(output.objects.len(), 1);
    assert_eq!(output.report.fat.partitions.len(), 1);
    // The control: the same run asked for two gives two.
    let config = Config::builder()
        .fat_partitions(FatPartitions::Fixed(2))
        .build()
        .unwrap();
    let session = Session::new(config, LtoKind::Fat).unwrap();
    for input in &inputs {
        session.add_path(input).unwrap();
    }
    session.preserve(["main"]).unwrap();
    let output = session.run().unwrap();
    assert_eq!(output.objects.len(), 2);
    assert_eq!(output.report.fat.partitions.len(), 2);
}

/// The late passes of `lto<O2>` (LICM, GVN, unrolling, vectorizers) run on
/// each partition by default, and on the whole module when asked, when a
/// stage looks at the optimized module, or when the module has type tests,
/// whose lowering needs the whole program; the program is right every way.
#[test]
fn late_passes_run_on_partitions_unless_the_module_needs_them_whole() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inputs: Vec<PathBuf> = ["main.c", "checksum.c", "scale.c"]
        .iter()
        .map(|s| compile_c(root, &data(&format!("c/{s}")), &["-O2", "-flto"]))
        .collect();
    let expected = "checksum=44618 scaled=133855 kind=even api=22\n";
    let save_temps = root.join("temps");
    let save_temps = save_temps.to_str().unwrap();
    let runs: [(&str, &[&str], &str); 3] = [
        ("late-partitions", &[], "partitions"),
        ("late-serial", &["--lto-late-passes", "serial"], "serial"),
        ("late-temps", &["--save-temps", save_temps], "serial"),
    ];
    for (name, flags, expected_late) in runs {
        let flags: Vec<&str> = ["--lto-partitions", "2"]
            .iter()
            .chain(flags)
            .copied()
            .collect();
        let (listed, report) = fat(root, name, &inputs, &flags);
        let fat = &report["fat"];
        assert_eq!(fat["late_passes"], expected_late, "{name}: {fat}");
        let optimize: Vec<f64> = fat["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["optimize_seconds"].as_f64().unwrap())
            .collect();
        assert_eq!(optimize.len(), 2);
        if expected_late == "partitions" {
            assert!(optimize.iter().all(|&t| t > 0.0), "{name}: {optimize:?}");
            assert!(fat["late_passes_serial_because"].is_null());
        } else {
            assert!(optimize.iter().all(|&t| t == 0.0), "{name}: {optimize:?}");
        }
        let because = &fat["late_passes_serial_because"];
        match name {
            "late-serial" => assert!(because.is_null(), "{because}"),
            "late-temps" => assert!(
                because.as_str().unwrap().contains("save-temps"),
                "{because}"
            ),
            _ => {}
        }
        let prog = link_objects(root, &listed, name, false);
        assert_eq!(run_program(&prog), expected, "{name}");
    }

    // Control flow integrity: type tests are lowered with the whole program
    // in view (jump tables span partitions), so the late passes stay whole,
    // and the checks still hold with two partitions.
    let cfi: Vec<PathBuf> = ["classes", "cfi_main"]
        .iter()
        .map(|n| {
            compile_cxx(
                root,
                &data(&format!("cfi/{n}.cpp")),
                &[
                    "-O2",
                    "-flto",
                    "-fsanitize=cfi",
                    "-fno-sanitize-ignorelist",
                    "-fvisibility=hidden",
                ],
                ".cfi",
            )
        })
        .collect();
    let (listed, report) = fat(root, "cfi", &cfi, &["--lto-partitions", "2"]);
    assert_eq!(report["fat"]["late_passes"], "serial");
    let because = report["fat"]["late_passes_serial_because"]
        .as_str()
        .unwrap();
    assert!(because.contains("type tests"), "{because}");
    let prog = link_objects(root, &listed, "cfi", true);
    assert_eq!(run_program(&prog), "1\n");
    let status = std::process::Command::new(&prog)
        .arg("bad")
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(4),
        "the bad cast must trap: {status:?}"
    );
}

/// Inline C++ functions a native object calls are preserved (not
/// internalized) and split by name, so many land in another partition
/// than their out-of-line caller, where the late passes' dead-global
/// elimination sees no caller: each one must still be defined in exactly
/// one object, or the link fails with undefined references.
#[test]
fn preserved_inline_functions_used_across_partitions_stay_defined() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let src = |name: &str| data(&format!("partitions/{name}"));
    let main = compile_c(root, &src("inline_main.c"), &["-O2"]);
    let native_lib = compile_cxx(root, &src("inline_exports.cpp"), &["-O2"], ".native");
    let native = [main.clone(), native_lib];
    let expected = run_program(&link_objects(root, &native, "inline-native", true));
    assert!(expected.starts_with("inline sum="), "{expected}");
    let bitcode = compile_cxx(root, &src("inline_exports.cpp"), &["-O2", "-flto"], ".bc");
    for (name, late) in [
        ("inline-partitions", "partitions"),
        ("inline-serial", "serial"),
    ] {
        let inputs = [main.clone(), bitcode.clone()];
        let flags = ["--lto-partitions", "2", "--lto-late-passes", late];
        let (listed, report) = fat(root, name, &inputs, &flags);
        assert_eq!(report["fat"]["late_passes"], late, "{name}");
        let objects = partitions(&listed, &root.join(name));
        let tables: Vec<Vec<Sym>> = objects.iter().map(|o| symbols(o)).collect();
        let mut crossing = 0;
        for i in 0..16 {
            let inline = format!("twice{i}");
            let caller = format!("call{i}");
            let defines = |syms: &[Sym], sym: &str| find(syms, sym).is_some_and(|s| s.defined);
            let homes: Vec<usize> = (0..tables.len())
                .filter(|&p| defines(&tables[p], &inline))
                .collect();
            assert_eq!(homes.len(), 1, "{name}: {inline} defined in {homes:?}");
            let caller_home = (0..tables.len()).find(|&p| defines(&tables[p], &caller));
            if caller_home != Some(homes[0]) {
                crossing += 1;
            }
        }
        // The case under test happens: some callers are in the other
        // partition than their inline callee.
        assert!(
            crossing > 0,
            "{name}: every inline function is beside its caller"
        );
        let prog = link_objects(root, &listed, name, true);
        assert_eq!(run_program(&prog), expected, "{name}");
    }
}

/// `-o OUT.o` is the whole result at any partition count: the partitions
/// joined into that one object (a relocatable link), nothing else beside
/// it, and it links alone (with the native inputs), as `clang -c` output
/// would.
#[test]
fn one_output_object_holds_every_partition() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (expected, inputs) = partitions_program(root);
    let native_object = inputs[2].clone();
    for count in [1usize, 2, 4] {
        let out_dir = root.join(format!("one{count}"));
        std::fs::create_dir_all(&out_dir).unwrap();
        let object = out_dir.join("prog.o");
        let report = root.join(format!("one{count}.json"));
        run_ok(
            engine()
                .arg("fat")
                .args(&inputs)
                .arg("-o")
                .arg(&object)
                .args(["--export", "main", "-O2", "--lto-partitions"])
                .arg(count.to_string())
                .arg("--report")
                .arg(&report),
        );
        assert_eq!(partition_count(&read_json(&report)), count);
        let mut files: Vec<String> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, ["link.rsp", "prog.o"], "{count} partitions");
        // link.rsp names the object once, then the native input.
        let listed: Vec<PathBuf> = std::fs::read_to_string(out_dir.join("link.rsp"))
            .unwrap()
            .lines()
            .map(PathBuf::from)
            .collect();
        assert_eq!(
            listed,
            [object.clone(), native_object.clone()],
            "{count} partitions"
        );
        // The object alone (and the native input) makes the program.
        let prog = link_objects(
            root,
            &[object.clone(), native_object.clone()],
            &format!("one{count}"),
            false,
        );
        assert_eq!(run_program(&prog), expected, "{count} partitions");
        // The control: with several partitions, what crosses them is in
        // the object under its promoted, hidden name (resolved inside it).
        let promoted: Vec<Sym> = symbols(&object)
            .into_iter()
            .filter(|s| s.defined && s.name.contains(".llvm."))
            .collect();
        assert_eq!(
            promoted.is_empty(),
            count == 1,
            "{count} partitions: {promoted:?}"
        );
        assert!(
            promoted.iter().all(|s| s.hidden || !s.global),
            "{promoted:?}"
        );
    }
}

/// Partitions that cannot be joined (assembly), or a joining linker that is
/// missing, are a one-line error naming the output, and nothing is left
/// there; the same runs into a directory work.
#[test]
fn partitions_that_cannot_be_joined_are_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inputs: Vec<PathBuf> = ["main.c", "checksum.c", "scale.c"]
        .iter()
        .map(|s| compile_c(root, &data(&format!("c/{s}")), &["-O2", "-flto"]))
        .collect();
    let run = |output: &Path, flags: &[&str], real_ld: Option<&str>| {
        let mut command = engine();
        command
            .arg("fat")
            .args(&inputs)
            .arg("-o")
            .arg(output)
            .args(["--export", "main", "-O2", "--lto-partitions", "2"])
            .args(flags);
        if let Some(ld) = real_ld {
            command.env("LTO_ENGINE_REAL_LD", ld);
        }
        command
    };
    let asm = root.join("prog.s");
    let message = cli_error(
        &mut run(&asm, &["--emit", "asm"], None),
        &asm.display().to_string(),
    );
    assert!(
        message.contains("cannot be joined into one file"),
        "{message}"
    );
    assert!(!asm.exists());
    let object = root.join("prog.o");
    let message = cli_error(
        &mut run(&object, &[], Some("/nonexistent/ld.lld")),
        &object.display().to_string(),
    );
    assert!(message.contains("/nonexistent/ld.lld"), "{message}");
    assert!(!object.exists());
    // The controls: into a directory, both work (two files each).
    for (name, flags) in [("asm", &["--emit", "asm"][..]), ("obj", &[][..])] {
        let out = root.join(name);
        run_ok(&mut run(
            Path::new(&format!("{}/", out.display())),
            flags,
            Some("/nonexistent/ld.lld"),
        ));
        let written = std::fs::read_dir(&out)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                name.ends_with(".s") || name.ends_with(".o")
            })
            .count();
        assert_eq!(written, 2, "{name}");
    }
}

/// A C program of eight files for the partition cache: `f<i>` in `f<i>.c`,
/// each with a static helper, `main` printing them all.
fn cache_program(root: &Path, constants: &[i32; 8], flags: &[&str]) -> Vec<PathBuf> {
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut main = String::from("#include <stdio.h>\n");
    for (i, constant) in constants.iter().enumerate() {
        main.push_str(&format!("int f{i}(int);\n"));
        std::fs::write(
            src.join(format!("f{i}.c")),
            format!(
                "static int helper{i}(int x) {{ return x * {constant} + {i}; }}\n\
                 __attribute__((noinline)) int f{i}(int x) {{\n\
                   int sum = 0;\n\
                   for (int k = 0; k < x; k++) sum += helper{i}(k) ^ (sum >> 3);\n\
                   return sum;\n\
                 }}\n"
            ),
        )
        .unwrap();
    }
    main.push_str("int main(void) {\n");
    for i in 0..8 {
        main.push_str(&format!("  printf(\"%d\\n\", f{i}(100 + {i}));\n"));
    }
    main.push_str("  return 0;\n}\n");
    std::fs::write(src.join("main.c"), main).unwrap();
    let bc = root.join("bc");
    std::fs::create_dir_all(&bc).unwrap();
    let flags: Vec<&str> = ["-O2", "-flto"].iter().chain(flags).copied().collect();
    let mut inputs = vec![compile_c(&bc, &src.join("main.c"), &flags)];
    for i in 0..8 {
        inputs.push(compile_c(&bc, &src.join(format!("f{i}.c")), &flags));
    }
    inputs
}

/// Per partition: `"hit"` or the miss's reason.
fn cache_statuses(report: &serde_json::Value) -> Vec<String> {
    report["fat"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let cache = &p["cache"];
            match cache["status"].as_str().unwrap() {
                "hit" => "hit".to_string(),
                _ => cache["why"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

/// With `--cache-dir`, each fat partition's object is kept under its
/// bitcode and settings: a relink reuses every partition an edit did not
/// touch, and what it gives is what a cold run gives, byte for byte.
#[test]
fn the_fat_cache_reuses_the_partitions_an_edit_did_not_touch() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut constants = [3, 5, 7, 11, 13, 17, 19, 23];
    let inputs = cache_program(root, &constants, &[]);
    let run = |name: &str, cache: &str, extra: &[&str]| {
        let mut flags = vec!["--lto-partitions", "4", "--cache-dir", cache];
        flags.extend_from_slice(extra);
        let (listed, report) = fat(root, name, &inputs, &flags);
        let printed = run_program(&link_objects(root, &listed, name, false));
        (outputs(&root.join(name)), report, printed)
    };
    let cache = root.join("cache").display().to_string();
    let (cold, report, expected) = run("cold", &cache, &[]);
    assert_eq!(
        cache_statuses(&report),
        vec!["no earlier run of this partitioning"; 4]
    );
    // Control: nothing changed, every partition is reused, same bytes.
    let (warm, report, printed) = run("warm", &cache, &[]);
    assert_eq!(cache_statuses(&report), vec!["hit"; 4]);
    assert_eq!((warm == cold, printed), (true, expected.clone()));

    // One function's body changes: its partition (and main's, which may
    // have inlined it) compile again, the others are reused; the objects
    // are a cold run's of the edited program, with a cache of its own.
    constants[5] = 29;
    cache_program(root, &constants, &[]);
    let fresh = root.join("fresh").display().to_string();
    let (edited_cold, _, edited_expected) = run("edited-cold", &fresh, &[]);
    assert_ne!(edited_expected, expected);
    let (edited, report, printed) = run("edited", &cache, &[]);
    let statuses = cache_statuses(&report);
    let missed = statuses.iter().filter(|s| *s != "hit").count();
    assert!((1..4).contains(&missed), "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| s == "hit" || s == "its code changed"),
        "{statuses:?}"
    );
    assert_eq!(printed, edited_expected);
    assert!(
        edited == edited_cold,
        "a warm run's objects differ from a cold run's"
    );

    // A damaged entry is compiled again, never used.
    for path in files_named(&root.join("cache"), |name| {
        name.starts_with("llvmcache-") && !name.starts_with("llvmcache-fatrec-")
    }) {
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[16] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let (repaired, report, printed) = run("damaged", &cache, &[]);
    assert_eq!(cache_statuses(&report), vec!["its entry is damaged"; 4]);
    assert!(repaired == edited_cold && printed == edited_expected);

    // Other settings: nothing is reused.
    let (_, report, printed) = run("o1", &cache, &["--lto-late-passes", "serial"]);
    assert_eq!(cache_statuses(&report), vec!["the settings changed"; 4]);
    assert_eq!(printed, edited_expected);

    // The policy prunes fat entries as it prunes thin ones: at most two
    // files stay (the control: more than two were there).
    let entries = || files_named(&root.join("cache"), |name| name.starts_with("llvmcache-"));
    assert!(entries().len() > 2, "{:?}", entries());
    let policy = "prune_interval=0s:cache_size_files=2";
    run("pruned", &cache, &["--cache-policy", policy]);
    assert!(entries().len() <= 2, "{:?}", entries());
}

/// With debug info every partition used to carry every compile unit, and
/// an edit changes its file's unit (its checksum): nothing was reused.
/// Each partition but the first now keeps the units it reaches, so an edit
/// still reuses some, and the program's debug info verifies.
#[test]
fn the_fat_cache_reuses_partitions_of_a_program_with_debug_info() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut constants = [3, 5, 7, 11, 13, 17, 19, 23];
    let inputs = cache_program(root, &constants, &["-g"]);
    let run = |name: &str, cache: &str| {
        let flags = ["--lto-partitions", "4", "--cache-dir", cache];
        let (listed, report) = fat(root, name, &inputs, &flags);
        let prog = link_objects(root, &listed, name, false);
        (outputs(&root.join(name)), report, prog)
    };
    let cache = root.join("cache").display().to_string();
    run("cold", &cache);
    constants[5] = 29;
    cache_program(root, &constants, &["-g"]);
    let (edited, report, prog) = run("edited", &cache);
    let statuses = cache_statuses(&report);
    assert!(statuses.contains(&"hit".to_string()), "{statuses:?}");
    assert_eq!(
        statuses[0], "its code changed",
        "partition 0 keeps every unit"
    );
    let fresh = root.join("fresh").display().to_string();
    let (edited_cold, _, _) = run("edited-cold", &fresh);
    assert!(
        edited == edited_cold,
        "a warm run's objects differ from a cold run's"
    );
    let verify = run_ok(
        std::process::Command::new("llvm-dwarfdump-22")
            .arg("--verify")
            .arg(&prog),
    );
    assert!(String::from_utf8_lossy(&verify.stdout).contains("No errors."));
}
