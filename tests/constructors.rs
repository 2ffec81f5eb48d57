//! Static constructors and C++ through every LTO path: C constructors and
//! destructors with priorities in three modules, and a C++ program of four
//! translation units (virtual calls across modules, a template static data
//! member in a comdat with a dynamic initializer, std::cout from static
//! initializers, an exception crossing modules, a thread_local, a
//! function-local static, init_priority). Every path must print what the
//! native build prints, with constructors in `.init_array` as lld's LTO
//! emits them.

mod common;
use common::*;
use lto_engine::{Config, Input, LtoKind, ModuleLto, ModuleOrder, Session, WriteTo};
use std::path::{Path, PathBuf};
use std::process::Command;

const C_SOURCES: [&str; 3] = ["ctor_main", "ctor_a", "ctor_b"];
const CXX_SOURCES: [&str; 4] = ["log", "circle", "square", "main"];

fn c_objects(dir: &Path, flags: &[&str]) -> Vec<PathBuf> {
    C_SOURCES
        .iter()
        .map(|name| compile_c(dir, &data(&format!("ctors/{name}.c")), flags))
        .collect()
}

fn cxx_objects(dir: &Path, flags: &[&str], suffix: &str) -> Vec<PathBuf> {
    CXX_SOURCES
        .iter()
        .map(|name| compile_cxx(dir, &data(&format!("cxx/{name}.cpp")), flags, suffix))
        .collect()
}

fn strings(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

/// `lto-engine ARGS... --export main` in `dir`.
fn engine_run(dir: &Path, args: &[String]) {
    run_ok(
        engine()
            .current_dir(dir)
            .args(args)
            .args(["--export", "main"]),
    );
}

fn args(list: &[&str], inputs: &[PathBuf]) -> Vec<String> {
    let mut out: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    out.extend(strings(inputs));
    out
}

/// Checks that every object listed in `dir/link.rsp` (or `objects`) that
/// holds constructors holds them in `.init_array` and none in `.ctors`,
/// and carries an address-significance table; returns how many held
/// constructors.
fn check_structor_sections(objects: &[PathBuf]) -> usize {
    let mut with_ctors = 0;
    for object in objects {
        let sections = section_names(object);
        assert!(
            !sections
                .iter()
                .any(|s| s.starts_with(".ctors") || s.starts_with(".dtors")),
            "{}: constructors in .ctors/.dtors, which the C runtime does not run: {sections:?}",
            object.display()
        );
        if sections.iter().any(|s| s.starts_with(".init_array")) {
            with_ctors += 1;
        }
        assert!(
            sections.iter().any(|s| s == ".llvm_addrsig"),
            "{}: no address-significance table: {sections:?}",
            object.display()
        );
    }
    with_ctors
}

/// Distributed ThinLTO of `inputs` in `root`: index files in `index_dir`,
/// then a distributor runs the engine's backend for each module.
fn distributed(root: &Path, inputs: &[PathBuf], index_dir: &str, extra: &[&str]) {
    std::fs::write(root.join("local.py"), LOCAL_DISTRIBUTOR).unwrap();
    let mut list = vec![
        "index",
        "--index-dir",
        index_dir,
        "--distributor",
        "python3",
        "--distributor-arg",
        "local.py",
    ];
    list.extend_from_slice(extra);
    engine_run(root, &args(&list, inputs));
}

/// The objects a link.rsp names (relative to `dir`).
fn rsp_objects(dir: &Path, rsp: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string(rsp)
        .unwrap()
        .lines()
        .filter(|l| l.ends_with(".o"))
        .map(|l| dir.join(l))
        .collect()
}

#[test]
fn c_constructors_run_in_priority_order_through_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The native objects are named like the bitcode ones: built apart.
    let native_dir = root.join("native");
    std::fs::create_dir(&native_dir).unwrap();
    let native = c_objects(&native_dir, &["-O2"]);
    let expected = run_program(&link_cxx(root, &strings(&native), "native-prog"));
    assert_eq!(
        expected,
        "ctor a 101 (after 0)\nctor b 200 (after 1)\nctor main 300 (after 2)\nctor a 400 (after 3)\n\
         ctor main 65535 (after 4)\nctor b 65535 (after 5)\nmain: state 2 peer 1\n\
         dtor a, 6 constructors ran\ndtor main 300\ndtor b 200\n"
    );
    let bitcode = c_objects(root, &["-O2", "-flto=thin"]);

    // Thin: two modules with constructors used to be "llvm.global_ctors
    // multiply defined".
    engine_run(root, &args(&["thin", "-o", "thin"], &bitcode));
    let objects = rsp_objects(root, &root.join("thin/link.rsp"));
    assert_eq!(check_structor_sections(&objects), 3);
    // llvm.used in two modules: both tags kept.
    for (object, tag) in [
        ("thin/ctor_a.o.lto.o", "a_tag"),
        ("thin/ctor_b.o.lto.o", "b_tag"),
    ] {
        assert!(
            find(&symbols(&root.join(object)), tag).is_some_and(|s| s.defined),
            "{object}: {tag}"
        );
    }
    let prog = link_cxx(root, &["@thin/link.rsp".into()], "thin-prog");
    assert_eq!(run_program(&prog), expected, "thin");

    // Thin-local (rustc's mode).
    engine_run(root, &args(&["thin", "--local", "-o", "local"], &bitcode));
    let prog = link_cxx(root, &["@local/link.rsp".into()], "local-prog");
    assert_eq!(run_program(&prog), expected, "thin-local");

    // Fat: one object, every constructor in .init_array.
    engine_run(root, &args(&["fat", "-o", "fat.o"], &bitcode));
    assert_eq!(check_structor_sections(&[root.join("fat.o")]), 1);
    let prog = link_cxx(root, &["fat.o".into()], "fat-prog");
    assert_eq!(run_program(&prog), expected, "fat");

    // Distributed: index files, then the engine's backend per module.
    distributed(root, &bitcode, "idx", &[]);
    let objects = rsp_objects(root, &root.join("idx/link.rsp"));
    assert_eq!(check_structor_sections(&objects), 3);
    let prog = link_cxx(root, &["@idx/link.rsp".into()], "dist-prog");
    assert_eq!(run_program(&prog), expected, "distributed");

    // A module compiled without LTO inside a thin session (library).
    // As a linker: constructors of equal priority run in command-line order.
    let config = Config::builder()
        .module_order(ModuleOrder::Added)
        .build()
        .unwrap();
    let session = Session::new(config, LtoKind::Thin).unwrap();
    for (i, object) in bitcode.iter().enumerate() {
        let lto = if i == 1 {
            ModuleLto::No
        } else {
            ModuleLto::Session
        };
        session.add(Input::path(object).lto(lto)).unwrap();
    }
    session.preserve(["main"]).unwrap();
    let output = session.run().unwrap();
    let written = output.write(&WriteTo::dir(root.join("mixed"))).unwrap();
    let objects = rsp_objects(root, &written.link_rsp);
    assert_eq!(check_structor_sections(&objects), 3);
    let rsp = written.link_rsp.display().to_string();
    let prog = link_cxx(root, &[format!("@{rsp}")], "mixed-prog");
    assert_eq!(run_program(&prog), expected, "thin + a module without LTO");
}

#[test]
fn cxx_program_behaves_as_native_through_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let native = cxx_objects(root, &["-O2"], ".native");
    let expected = run_program(&link_cxx(root, &strings(&native), "native-prog"));
    // Every initializer ran: the banner, the announcements, one ticket per
    // type (three modules hold the comdat of Registry<Shape>::ticket).
    assert!(expected.starts_with(
        "log: early (init_priority 200), HOME set\nlog: banner (default priority)\n\
         circle: static init\nsquare: static init\n"
    ));
    assert!(
        expected.contains("tickets issued 3, shape ticket valid 1\n"),
        "{expected}"
    );
    assert!(expected.contains("caught geometry_error: not positive: -1 code 42\n"));
    assert!(expected.ends_with("done\nlog: goodbye\n"), "{expected}");

    let thin_bc = cxx_objects(root, &["-O2", "-flto=thin"], "");
    let full_bc = cxx_objects(root, &["-O2", "-flto"], ".full");

    engine_run(
        root,
        &args(&["thin", "--jobs", "2", "-o", "thin"], &thin_bc),
    );
    let objects = rsp_objects(root, &root.join("thin/link.rsp"));
    assert!(check_structor_sections(&objects) >= 3);
    let prog = link_cxx(root, &["@thin/link.rsp".into()], "thin-prog");
    assert_eq!(run_program(&prog), expected, "thin");

    engine_run(root, &args(&["thin", "--local", "-o", "local"], &thin_bc));
    let prog = link_cxx(root, &["@local/link.rsp".into()], "local-prog");
    assert_eq!(run_program(&prog), expected, "thin-local");

    for (name, inputs) in [("fat-thinbc", &thin_bc), ("fat-fullbc", &full_bc)] {
        let object = format!("{name}.o");
        engine_run(root, &args(&["fat", "-o", &object], inputs));
        assert_eq!(check_structor_sections(&[root.join(&object)]), 1);
        let prog = link_cxx(root, &[object], name);
        assert_eq!(run_program(&prog), expected, "{name}");
    }

    distributed(root, &thin_bc, "idx", &[]);
    let prog = link_cxx(root, &["@idx/link.rsp".into()], "dist-prog");
    assert_eq!(run_program(&prog), expected, "distributed");

    // Cached: a cold run fills the cache, a warm one reuses every object.
    for (run, misses) in [("cold", CXX_SOURCES.len()), ("warm", 0)] {
        let out = format!("cached-{run}");
        let report = format!("{run}.json");
        engine_run(
            root,
            &args(
                &[
                    "thin",
                    "--cache-dir",
                    "cache",
                    "--report",
                    &report,
                    "-o",
                    &out,
                ],
                &thin_bc,
            ),
        );
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join(&report)).unwrap()).unwrap();
        let missed = report["thin"]["cache"]["misses"].as_u64();
        assert_eq!(missed, Some(misses as u64), "{run}: {report}");
        let prog = link_cxx(root, &[format!("@{out}/link.rsp")], &format!("{out}-prog"));
        assert_eq!(run_program(&prog), expected, "{run} cache");
    }

    // lld's full LTO of the same bitcode agrees (the reference for fat).
    let lld_full = root.join("lld-full");
    run_ok(
        Command::new(CLANGXX)
            .current_dir(root)
            .args(["-flto", "-fuse-ld=lld", "-pthread"])
            .args(&full_bc)
            .arg("-o")
            .arg(&lld_full),
    );
    assert_eq!(run_program(&lld_full), expected, "lld full LTO");
}

/// Whether `function` in the object (or program) `path` still makes an
/// indirect call or jump (a virtual call left as is).
fn calls_indirectly(path: &Path, function: &str) -> bool {
    let out = run_ok(
        Command::new("/usr/lib/llvm-22/bin/llvm-objdump")
            .args(["-d", "--no-show-raw-insn"])
            .arg(format!("--disassemble-symbols={function}"))
            .arg(path),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains(function),
        "{function} not found in {}",
        path.display()
    );
    text.lines().any(|l| l.contains("*%") || l.contains("*("))
}

#[test]
fn devirtualizes_where_lld_does() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let compile = |flags: &[&str], suffix: &str| -> Vec<PathBuf> {
        ["dog", "main"]
            .iter()
            .map(|n| compile_cxx(root, &data(&format!("wpd/{n}.cpp")), flags, suffix))
            .collect()
    };
    let call = "_Z4callPK6Animali";
    let wpv = "--lto-whole-program-visibility";
    // (name, LTO flavour, extra clang flags, engine/lld flag, devirtualized)
    let cases: [(&str, &str, &[&str], bool, bool); 8] = [
        (
            "full-hidden",
            "-flto",
            &["-fvisibility=hidden"],
            false,
            true,
        ),
        ("full-public", "-flto", &[], false, false),
        ("full-public-wpv", "-flto", &[], true, true),
        // Thin: split LTO units, clang's default with -fwhole-program-vtables.
        (
            "thin-hidden",
            "-flto=thin",
            &["-fvisibility=hidden"],
            false,
            true,
        ),
        ("thin-public", "-flto=thin", &[], false, false),
        ("thin-public-wpv", "-flto=thin", &[], true, true),
        // Thin, unsplit: index-only devirtualization.
        (
            "thin-unsplit",
            "-flto=thin",
            &["-fvisibility=hidden", "-fno-split-lto-unit"],
            false,
            true,
        ),
        (
            "thin-unsplit-public-wpv",
            "-flto=thin",
            &["-fno-split-lto-unit"],
            true,
            true,
        ),
    ];
    for (name, lto, extra, flag, devirtualized) in cases {
        let mut flags = vec!["-O2", lto, "-fwhole-program-vtables"];
        flags.extend_from_slice(extra);
        let inputs = compile(&flags, &format!(".{name}"));
        let thin = lto == "-flto=thin";
        // The engine: thin and distributed for thin bitcode, fat for both.
        let engine_flags: &[&str] = if flag { &[wpv] } else { &[] };
        let run = |list: &[&str]| {
            let mut list = list.to_vec();
            list.extend_from_slice(engine_flags);
            engine_run(root, &args(&list, &inputs));
        };
        let mut objects = Vec::new();
        if thin {
            for mode in ["thin", "index"] {
                let out = format!("{name}-{mode}");
                if mode == "thin" {
                    run(&["thin", "-o", &out]);
                } else {
                    distributed(root, &inputs, &out, engine_flags);
                }
                objects.push((
                    root.join(&out).join(format!("main.{name}.o.lto.o")),
                    format!("@{out}/link.rsp"),
                ));
            }
        }
        let object = format!("{name}-fat.o");
        run(&["fat", "-o", &object]);
        objects.push((root.join(&object), object.clone()));
        for (index, (object, link_input)) in objects.into_iter().enumerate() {
            assert_eq!(
                !calls_indirectly(&object, call),
                devirtualized,
                "{name}: engine object {}",
                object.display()
            );
            let prog = link_cxx(root, &[link_input], &format!("{name}-prog-{index}"));
            assert_eq!(run_program(&prog), "4\n", "{name}");
        }
        // lld's LTO of the same inputs decides the same.
        let lld_prog = root.join(format!("{name}-lld"));
        let mut lld = Command::new(CLANGXX);
        lld.current_dir(root)
            .args([lto, "-fuse-ld=lld"])
            .args(inputs.iter())
            .arg("-o")
            .arg(&lld_prog);
        if flag {
            lld.arg(format!("-Wl,{wpv}"));
        }
        run_ok(&mut lld);
        assert_eq!(
            !calls_indirectly(&lld_prog, call),
            devirtualized,
            "{name}: lld"
        );
        assert_eq!(run_program(&lld_prog), "4\n", "{name}: lld");
    }
}

#[test]
fn cfi_inputs_are_refused_by_thin_lto() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inputs: Vec<PathBuf> = ["dog", "main"]
        .iter()
        .map(|n| {
            compile_cxx(
                root,
                &data(&format!("wpd/{n}.cpp")),
                &[
                    "-O2",
                    "-flto=thin",
                    "-fsanitize=cfi",
                    "-fno-sanitize-ignorelist",
                    "-fvisibility=hidden",
                ],
                "",
            )
        })
        .collect();
    let error = cli_error(
        engine()
            .current_dir(root)
            .arg("thin")
            .args(&inputs)
            .args(["--export", "main", "-o", "t"]),
        "dog.o",
    );
    assert!(error.contains("-fsanitize=cfi"), "{error}");
    assert!(!root.join("t/link.rsp").exists(), "nothing written");
}

#[test]
fn fat_lto_enforces_cfi_like_lld() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inputs: Vec<PathBuf> = ["classes", "cfi_main"]
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
                "",
            )
        })
        .collect();
    engine_run(root, &args(&["fat", "-o", "fat.o"], &inputs));
    let engine_prog = link_cxx(root, &["fat.o".into()], "fat-prog");
    let lld_prog = root.join("lld-prog");
    run_ok(
        Command::new(CLANGXX)
            .current_dir(root)
            .args(["-flto", "-fuse-ld=lld"])
            .args(&inputs)
            .arg("-o")
            .arg(&lld_prog),
    );
    for prog in [&engine_prog, &lld_prog] {
        assert_eq!(run_program(prog), "1\n");
        // The bad cast is caught: the program traps instead of calling B::g.
        let status = Command::new(prog).arg("bad").status().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(4), "{}: {status:?}", prog.display());
    }
}
