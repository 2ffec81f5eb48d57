//! Distributed ThinLTO: the engine's index files run by clang's backend,
//! lld's index files run by the engine's backend, distributed objects equal
//! to in-process ones, lld's prefix replacement, and distributor jobs (lld
//! 22's JSON) run by a distributor script.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{THIN_EXPECTED as EXPECTED, THIN_SOURCES as SOURCES};

/// The engine's CLI, run in `root` (relative paths are the build's).
fn engine_in(root: &Path) -> Command {
    let mut command = engine();
    command.current_dir(root);
    command
}

/// `lto-engine index INPUTS --index-dir INDEX_DIR --export main EXTRA...`,
/// run in `root`.
fn index_in(root: &Path, inputs: &[String], index_dir: &str, extra: &[&str]) -> Command {
    let mut command = engine_in(root);
    command
        .arg("index")
        .args(inputs)
        .args(["--index-dir", index_dir, "--export", "main"])
        .args(extra);
    command
}

/// `clang-22 -fuse-ld=lld objects -o root/name`, run in `root`.
fn link_objects(root: &Path, objects: &[PathBuf], name: &str) -> PathBuf {
    let prog = root.join(name);
    run_ok(
        Command::new(CLANG)
            .current_dir(root)
            .arg("-fuse-ld=lld")
            .args(objects)
            .arg("-o")
            .arg(&prog),
    );
    prog
}

/// Links `root/prog` from a `link.rsp` whose paths are relative to `root`.
fn link_rsp(root: &Path, rsp: &str) -> PathBuf {
    let prog = root.join("prog");
    run_ok(
        Command::new(CLANG)
            .current_dir(root)
            .arg("-fuse-ld=lld")
            .arg(format!("@{rsp}"))
            .arg("-o")
            .arg(&prog),
    );
    prog
}

fn undefined(object: &Path, name: &str) -> bool {
    find(&symbols(object), name).is_some_and(|s| !s.defined)
}

/// Files under `dir`, relative to `root`, sorted.
fn files_under(root: &Path, dir: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![root.join(dir)];
    while let Some(next) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                found.insert(relative.display().to_string());
            }
        }
    }
    found
}

#[test]
fn engine_index_files_drive_clang_backends() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inputs = compile_thin_program(root);
    run_ok(&mut index_in(root, &inputs, "idx", &["--emit-imports"]));
    // Each module compiled by clang from its index slice, as a Bazel
    // action would run it.
    std::fs::create_dir_all(root.join("native")).unwrap();
    let objects: Vec<PathBuf> = SOURCES
        .iter()
        .map(|name| {
            let object = PathBuf::from(format!("native/{name}.o"));
            run_ok(
                Command::new(CLANG)
                    .current_dir(root)
                    .args(["-c", "-x", "ir", "-O2"])
                    .arg(format!("thin/{name}.o"))
                    .arg(format!("-fthinlto-index=idx/{name}.o.thinlto.bc"))
                    .arg("-o")
                    .arg(&object),
            );
            object
        })
        .collect();
    let prog = link_objects(root, &objects, "prog");
    assert_eq!(run_program(&prog), EXPECTED);
    // clang imported add_scaled into main's module and inlined it.
    let main_object = root.join("native/thin_main.o");
    assert!(!undefined(&main_object, "add_scaled"), "add_scaled inlined");
    // The local it calls through uses_secret was promoted under the name
    // the index gave it, which both sides agree on.
    let promoted = symbols(&root.join("native/hot.o"))
        .into_iter()
        .find(|s| s.name.starts_with("secret.llvm."))
        .expect("secret promoted in hot.o");
    assert!(promoted.global && promoted.defined);
    assert!(undefined(&main_object, &promoted.name));
    // The imports file lists the bitcode paths the backend opened.
    let imports = std::fs::read_to_string(root.join("idx/thin_main.o.imports")).unwrap();
    assert_eq!(imports, "thin/hot.o\nthin/strong.o\n");
}

#[test]
fn lld_index_files_drive_engine_backends() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inputs = compile_thin_program(root);
    run_ok(
        Command::new(CLANG)
            .current_dir(root)
            .args(["-fuse-ld=lld", "-flto=thin"])
            .args([
                "-Wl,--thinlto-index-only",
                "-Wl,--thinlto-emit-imports-files",
            ])
            .args(&inputs)
            .arg("-o")
            .arg("unused"),
    );
    std::fs::create_dir_all(root.join("native")).unwrap();
    let objects: Vec<PathBuf> = SOURCES
        .iter()
        .map(|name| {
            let object = PathBuf::from(format!("native/{name}.o"));
            run_ok(
                engine_in(root)
                    .arg("backend")
                    .arg(format!("thin/{name}.o"))
                    .arg("--index")
                    .arg(format!("thin/{name}.o.thinlto.bc"))
                    .arg("-o")
                    .arg(&object),
            );
            object
        })
        .collect();
    let prog = link_objects(root, &objects, "prog");
    assert_eq!(run_program(&prog), EXPECTED);
    assert!(!undefined(&root.join("native/thin_main.o"), "add_scaled"));

    // The engine's own index of the same inputs gives the same objects:
    // the two thin links decided the same.
    run_ok(&mut index_in(root, &inputs, "idx", &[]));
    for name in SOURCES {
        // The same thin link decisions, written the same way: the index
        // slices are byte for byte lld's.
        assert_eq!(
            std::fs::read(root.join(format!("idx/{name}.o.thinlto.bc"))).unwrap(),
            std::fs::read(root.join(format!("thin/{name}.o.thinlto.bc"))).unwrap(),
            "{name}: index files differ from lld's"
        );
        let object = format!("idx/{name}.o.lto.o");
        run_ok(
            engine_in(root)
                .arg("backend")
                .arg(format!("thin/{name}.o"))
                .arg(format!("--index=idx/{name}.o.thinlto.bc"))
                .arg("-o")
                .arg(&object),
        );
        assert_eq!(
            std::fs::read(root.join(&object)).unwrap(),
            std::fs::read(root.join(format!("native/{name}.o"))).unwrap(),
            "{name}: objects from lld's index and from the engine's differ"
        );
    }
}

#[test]
fn distributed_objects_equal_in_process_objects() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inputs = compile_thin_program(root);
    // hot and strong as members of a bitcode archive: they have no file of
    // their own, so the thin link writes them out for the backends.
    run_ok(Command::new("llvm-ar-22").current_dir(root).args([
        "rcs",
        "thin/libhot.a",
        "thin/hot.o",
        "thin/strong.o",
    ]));
    let link_inputs: Vec<String> = ["thin_main.o", "weak.o", "dead.o", "libhot.a"]
        .iter()
        .map(|name| format!("thin/{name}"))
        .collect();
    for (mode, inputs) in [("files", &inputs), ("archive", &link_inputs)] {
        let out = format!("{mode}-thin");
        let index_dir = format!("{mode}-idx");
        run_ok(
            engine_in(root)
                .arg("thin")
                .args(inputs)
                .args(["-o", &out, "--export", "main"]),
        );
        let report = format!("{mode}-index.json");
        run_ok(&mut index_in(
            root,
            inputs,
            &index_dir,
            &["--report", &report],
        ));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join(&report)).unwrap()).unwrap();
        for module in json["modules"].as_array().unwrap() {
            let module_path = module["module"].as_str().unwrap();
            let object = module["object"].as_str().unwrap();
            run_ok(
                engine_in(root)
                    .arg("backend")
                    .arg(module_path)
                    .arg("--index")
                    .arg(module["index"].as_str().unwrap())
                    .arg("-o")
                    .arg(object),
            );
            let in_process = Path::new(object).file_name().unwrap();
            assert_eq!(
                std::fs::read(root.join(object)).unwrap(),
                std::fs::read(root.join(&out).join(in_process)).unwrap(),
                "{mode}: {module_path}: distributed and in-process objects differ"
            );
            if mode == "archive" && module["name"].as_str().unwrap().contains("libhot.a(") {
                assert_eq!(module["module_written"], true);
                assert!(module_path.starts_with("archive-idx/libhot.a."));
            }
        }
        let prog = link_rsp(root, &format!("{index_dir}/link.rsp"));
        assert_eq!(run_program(&prog), EXPECTED, "{mode}");
    }
}

#[test]
fn prefix_replacement_places_files_where_lld_does() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inputs = compile_thin_program(root);
    let replace = "thin/;index/;obj/";
    // lld first; keep what it wrote, then let the engine write the same
    // set of files.
    run_ok(
        Command::new(CLANG)
            .current_dir(root)
            .args(["-fuse-ld=lld", "-flto=thin"])
            .arg("-Wl,--thinlto-index-only=lld-objects.txt")
            .arg(format!("-Wl,--thinlto-prefix-replace={replace}"))
            .arg("-Wl,--thinlto-emit-imports-files")
            .args(&inputs)
            .arg("-o")
            .arg("unused"),
    );
    let lld_files = files_under(root, "index");
    let lld_imports: Vec<String> = SOURCES
        .iter()
        .map(|name| std::fs::read_to_string(root.join(format!("index/{name}.o.imports"))).unwrap())
        .collect();
    let lld_objects = std::fs::read_to_string(root.join("lld-objects.txt")).unwrap();
    std::fs::remove_dir_all(root.join("index")).unwrap();

    run_ok(&mut index_in(
        root,
        &inputs,
        "idx",
        &["--prefix-replace", replace, "--emit-imports"],
    ));
    assert_eq!(files_under(root, "index"), lld_files);
    assert_eq!(lld_files.len(), 2 * SOURCES.len(), "{lld_files:?}");
    for (name, lld) in SOURCES.iter().zip(&lld_imports) {
        let ours = std::fs::read_to_string(root.join(format!("index/{name}.o.imports"))).unwrap();
        assert_eq!(&ours, lld, "{name}.o.imports");
    }
    assert_eq!(lld_imports[0], "thin/hot.o\nthin/strong.o\n");
    // The objects the final link needs are where lld's index-only list puts
    // them, and the engine's directory for objects exists for the backends.
    let rsp = std::fs::read_to_string(root.join("idx/link.rsp")).unwrap();
    assert_eq!(rsp, lld_objects);
    assert!(root.join("obj").is_dir());
}

/// The last line the CLI printed on stderr, after checking it failed with
/// exit code 1 (a distributor's own output comes before it).
fn last_error_line(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("lto-engine: error: "), "{stderr}");
    last
}

#[test]
fn distributor_runs_the_jobs_and_failures_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inputs = compile_thin_program(root);
    std::fs::write(root.join("local.py"), LOCAL_DISTRIBUTOR).unwrap();
    let index = |extra: &[&str]| {
        let mut command = index_in(
            root,
            &inputs,
            "idx",
            &["--distributor", "python3", "--distributor-arg", "local.py"],
        );
        command.args(extra);
        command
    };
    // The engine's own backends, then clang's.
    for style in [&[][..], &["--remote-compiler", CLANG][..]] {
        run_ok(&mut index(style));
        let jobs: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("idx/jobs.json")).unwrap())
                .unwrap();
        let compiler = jobs["common"]["args"][0].as_str().unwrap().to_string();
        assert_eq!(compiler.ends_with(CLANG), !style.is_empty(), "{compiler}");
        let main_job = &jobs["jobs"][0];
        assert_eq!(main_job["inputs"][0], "thin/thin_main.o");
        assert_eq!(main_job["inputs"][1], "idx/thin_main.o.thinlto.bc");
        // The modules it imports from are inputs of the job too.
        let job_inputs: Vec<&str> = main_job["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            job_inputs[2..],
            ["thin/hot.o", "thin/strong.o"],
            "{job_inputs:?}"
        );
        assert_eq!(main_job["outputs"][0], "idx/thin_main.o.lto.o");
        let prog = link_rsp(root, "idx/link.rsp");
        assert_eq!(run_program(&prog), EXPECTED, "{style:?}");
        assert!(!undefined(
            &root.join("idx/thin_main.o.lto.o"),
            "add_scaled"
        ));
    }

    // A job that writes nothing: the missing object is named.
    let error = last_error_line(&mut index(&[
        "--distributor-arg",
        "--skip",
        "--distributor-arg",
        "weak.o",
    ]));
    assert!(
        error.contains("python3 local.py --skip weak.o: the distributor succeeded but the job for thin/weak.o left no object idx/weak.o.lto.o"),
        "{error}"
    );

    // A job that fails (its module is damaged under it): the distributor's
    // failure is the error.
    let error = last_error_line(&mut index(&[
        "--distributor-arg",
        "--damage",
        "--distributor-arg",
        "hot.o",
    ]));
    assert!(
        error.contains("the distributor failed (exit status 1) on idx/jobs.json"),
        "{error}"
    );
}

#[test]
fn a_backend_refuses_modules_changed_since_the_thin_link() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inputs = compile_thin_program(root);
    run_ok(&mut index_in(root, &inputs, "idx", &[]));
    // hot.o rebuilt differently after the thin link: the modules that
    // import from it must not compile against the stale index.
    compile_c(
        &root.join("thin"),
        &data("thin/hot.c"),
        &["-O1", "-flto=thin"],
    );
    let backend = |module: &str| {
        let mut command = engine_in(root);
        command
            .arg("backend")
            .arg(format!("thin/{module}.o"))
            .arg(format!("--index=idx/{module}.o.thinlto.bc"))
            .args(["-o", "x.o"]);
        command
    };
    let error = cli_error(&mut backend("thin_main"), "thin/hot.o");
    assert!(
        error.contains("changed since the thin link that wrote idx/thin_main.o.thinlto.bc"),
        "{error}"
    );
    cli_error(&mut backend("hot"), "thin/hot.o: distribute: changed");
    // Another module's index is not this module's.
    let mut wrong = engine_in(root);
    wrong
        .arg("backend")
        .arg("thin/weak.o")
        .arg("--index=idx/dead.o.thinlto.bc")
        .args(["-o", "x.o"]);
    cli_error(
        &mut wrong,
        "is not this module's index (it names thin/dead.o)",
    );
    // Not an index at all, and a missing one.
    let mut garbage = engine_in(root);
    garbage
        .arg("backend")
        .arg("thin/weak.o")
        .arg("--index=thin/weak.o")
        .args(["-o", "x.o"]);
    cli_error(&mut garbage, "not a ThinLTO index file");
    let mut missing = engine_in(root);
    missing
        .arg("backend")
        .arg("thin/weak.o")
        .arg("--index=idx/none.thinlto.bc")
        .args(["-o", "x.o"]);
    cli_error(&mut missing, "idx/none.thinlto.bc: read");
    assert!(!root.join("x.o").exists(), "no output on failure");

    // An empty index (lld writes one for a lazy member it left out of the
    // link): nothing to compile, an empty object so the build goes on.
    std::fs::write(root.join("idx/empty.thinlto.bc"), b"").unwrap();
    run_ok(
        engine_in(root)
            .arg("backend")
            .arg("thin/dead.o")
            .arg("--index=idx/empty.thinlto.bc")
            .args(["-o", "empty.o"]),
    );
    let empty = symbols(&root.join("empty.o"));
    assert!(
        empty
            .iter()
            .all(|s| !s.defined || s.name.ends_with(".o") || s.name == "empty"),
        "{empty:?}"
    );
}

#[test]
fn minimized_thin_link_bitcode_indexes_the_full_modules() {
    // clang -fthin-link-bitcode writes, besides the full module X.o, a
    // minimized X.thinlink.bc (summary only) for the thin link; the index
    // must record X.o, which the backends compile.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("thin")).unwrap();
    let mut minimized = Vec::new();
    for name in SOURCES {
        run_ok(
            Command::new(CLANG)
                .current_dir(root)
                .args(["-O2", "-flto=thin", "-c"])
                .arg(data(&format!("thin/{name}.c")))
                .arg(format!("-fthin-link-bitcode=thin/{name}.thinlink.bc"))
                .arg("-o")
                .arg(format!("thin/{name}.o")),
        );
        minimized.push(format!("thin/{name}.thinlink.bc"));
    }
    let replace = ".thinlink.bc;.o";
    run_ok(
        Command::new("ld.lld-22")
            .current_dir(root)
            .args(["-e", "main", "--thinlto-index-only"])
            .arg("--thinlto-emit-imports-files")
            .arg(format!("--thinlto-object-suffix-replace={replace}"))
            .args(&minimized)
            .args(["-o", "unused"]),
    );
    run_ok(&mut index_in(
        root,
        &minimized,
        "idx",
        &["--object-suffix-replace", replace, "--emit-imports"],
    ));
    assert_eq!(
        std::fs::read_to_string(root.join("idx/thin_main.o.imports")).unwrap(),
        "thin/hot.o\nthin/strong.o\n"
    );
    for name in SOURCES {
        // Named after the full module, and equal to lld's.
        for suffix in ["thinlto.bc", "imports"] {
            assert_eq!(
                std::fs::read(root.join(format!("idx/{name}.o.{suffix}"))).unwrap(),
                std::fs::read(root.join(format!("thin/{name}.o.{suffix}"))).unwrap(),
                "{name}.o.{suffix} differs from lld's"
            );
        }
        run_ok(
            engine_in(root)
                .arg("backend")
                .arg(format!("thin/{name}.o"))
                .arg(format!("--index=idx/{name}.o.thinlto.bc"))
                .args(["-o", &format!("idx/{name}.o.lto.o")]),
        );
    }
    let prog = link_rsp(root, "idx/link.rsp");
    assert_eq!(run_program(&prog), EXPECTED);
    assert!(!undefined(
        &root.join("idx/thin_main.o.lto.o"),
        "add_scaled"
    ));
}
