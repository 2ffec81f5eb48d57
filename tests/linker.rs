//! `lto-engine ld`: the engine as the linker clang runs (`--ld-path` to an
//! executable named `ld.lld`), doing the LTO step of real links and handing
//! the rest to `ld.lld-22`.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const MAIN: &str = "#include <stdio.h>\nint helper(int);\nint twice(int);\n\
                    int main(void) { printf(\"%d %d\\n\", helper(20), twice(4)); return 0; }\n";
const HELPER: &str =
    "int helper(int x) { return x * 2 + 1; }\nint twice(int x) { return x + x; }\n";

#[test]
fn clang_links_thin_and_full_lto_through_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let main = write_file(dir, "main.c", MAIN);
    let helper = write_file(dir, "helper.c", HELPER);
    // The same program without LTO: what every build must print.
    run_ok(
        clang_in(dir)
            .arg(&main)
            .arg(&helper)
            .args(["-O2", "-o", "native"]),
    );
    let expected = run_program(&dir.join("native"));
    assert_eq!(expected, "41 8\n");
    let ld = ld_path_arg(dir);
    for (flag, name) in [("-flto=thin", "thin"), ("-flto", "full")] {
        let cache = dir.join(format!("cache-{name}"));
        run_ok(
            clang_in(dir)
                .args([flag, "-O2", "-fuse-ld=lld", &ld])
                .arg(&main)
                .arg(&helper)
                .arg(format!("-Wl,--thinlto-cache-dir={}", cache.display()))
                .arg(format!(
                    "-Wl,--lto-engine-report={}",
                    dir.join(format!("{name}.json")).display()
                ))
                .args(["-o", name]),
        );
        assert_eq!(run_program(&dir.join(name)), expected, "{name}");
        let report: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let kind = if name == "thin" { "thin" } else { "fat" };
        assert_eq!(report["kind"], kind, "{report}");
        // The thin link used the cache directory lld's option named.
        let entries = std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
        if name == "thin" {
            assert!(entries >= 2, "cache entries: {entries}");
        }
    }
}

#[test]
fn lto_partitions_reach_fat_lto() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let main = write_file(dir, "main.c", MAIN);
    let helper = write_file(dir, "helper.c", HELPER);
    let ld = ld_path_arg(dir);
    // lld's spelling and clang's -plugin-opt alias; the control (no flag)
    // is the engine's auto, one partition for a program this small.
    for (flag, partitions) in [
        ("-Wl,--lto-partitions=3", 3),
        ("-Wl,-plugin-opt=lto-partitions=2", 2),
        ("-Wl,--lto-O2", 1),
    ] {
        let report = link_with_report(
            dir,
            &[
                "-flto",
                "-O2",
                "-fuse-ld=lld",
                &ld,
                flag,
                "main.c",
                "helper.c",
            ],
            "prog",
        );
        assert_eq!(run_program(&dir.join("prog")), "41 8\n", "{flag}");
        assert_eq!(
            report["fat"]["partitions"].as_array().unwrap().len(),
            partitions,
            "{flag}: {report}"
        );
    }
    // lld's rule, as one line: the count is at least one.
    run_ok(
        clang_in(dir)
            .args(["-flto", "-O2", "-c"])
            .arg(&main)
            .arg(&helper),
    );
    let error = cli_error(
        engine().current_dir(dir).args([
            "ld",
            "--lto-partitions=0",
            "main.o",
            "helper.o",
            "-o",
            "prog0",
        ]),
        "--lto-partitions=0",
    );
    assert!(error.contains("at least 1"), "{error}");
}

#[test]
fn archive_members_are_lazy_as_in_lld() {
    // libh.a: b.o defines helper and twice (used), c.o defines helper too
    // and is never needed: lld takes b.o only, so must the engine (two
    // strong definitions of helper would otherwise be an error).
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(dir, "main.c", MAIN);
    write_file(dir, "b.c", HELPER);
    write_file(
        dir,
        "c.c",
        "int helper(int x) { return x * 3; }\nint only_c(void) { return 9; }\n",
    );
    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "main.c", "b.c", "c.c"]));
    run_ok(
        Command::new("llvm-ar-22")
            .current_dir(dir)
            .args(["rcs", "libh.a", "b.o", "c.o"]),
    );
    let ld = ld_path_arg(dir);
    run_ok(clang_in(dir).args([
        "-flto=thin",
        "-fuse-ld=lld",
        &ld,
        "main.o",
        "-L.",
        "-lh",
        "-Wl,--lto-engine-report=r.json",
        "-o",
        "engine",
    ]));
    run_ok(clang_in(dir).args([
        "-flto=thin",
        "-fuse-ld=lld",
        "main.o",
        "-L.",
        "-lh",
        "-o",
        "lld",
    ]));
    assert_eq!(run_program(&dir.join("engine")), "41 8\n");
    assert_eq!(run_program(&dir.join("lld")), "41 8\n");
    let report: serde_json::Value = read_json(dir.join("r.json"));
    let modules: Vec<String> = names(&report["modules"]);
    assert!(
        modules.iter().any(|m| m.ends_with("libh.a(b.o)")),
        "{modules:?}"
    );
    assert!(
        !modules.iter().any(|m| m.contains("c.o")),
        "the unused member was compiled: {modules:?}"
    );
    // Positive control: with --whole-archive every member is taken, and the
    // two definitions of helper clash.
    let out = clang_in(dir)
        .args([
            "-flto=thin",
            "-fuse-ld=lld",
            &ld,
            "main.o",
            "-Wl,--whole-archive",
            "libh.a",
            "-Wl,--no-whole-archive",
            "-o",
            "whole",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("helper"), "{stderr}");
}

/// Two bitcode members of one archive under one name (`llvm-ar q` keeps
/// both): lld takes each for the symbol it defines, and so does the
/// engine, naming the second by its offset as lld does.
#[test]
fn archive_members_of_one_name_are_told_apart_by_offset() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(dir, "main.c", MAIN);
    for (sub, source) in [
        ("one", "int helper(int x) { return x * 2 + 1; }\n"),
        ("two", "int twice(int x) { return x + x; }\n"),
    ] {
        std::fs::create_dir(dir.join(sub)).unwrap();
        write_file(&dir.join(sub), "x.c", source);
        run_ok(clang_in(&dir.join(sub)).args(["-flto=thin", "-O2", "-c", "x.c"]));
    }
    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "main.c"]));
    run_ok(
        Command::new("llvm-ar-22")
            .current_dir(dir)
            .args(["qcs", "libd.a", "one/x.o", "two/x.o"]),
    );
    let listed = run_ok(
        Command::new("llvm-ar-22")
            .current_dir(dir)
            .args(["t", "libd.a"]),
    );
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "x.o\nx.o\n");
    let ld = ld_path_arg(dir);
    let report = link_with_report(
        dir,
        &["-flto=thin", "-fuse-ld=lld", &ld, "main.o", "-L.", "-ld"],
        "engine",
    );
    run_ok(clang_in(dir).args([
        "-flto=thin",
        "-fuse-ld=lld",
        "main.o",
        "-L.",
        "-ld",
        "-o",
        "lld",
    ]));
    assert_eq!(run_program(&dir.join("lld")), "41 8\n");
    assert_eq!(run_program(&dir.join("engine")), "41 8\n");
    let inputs: Vec<String> = strings(&report["link"]["bitcode_inputs"]);
    assert_eq!(inputs.len(), 3, "{inputs:?}");
    assert!(
        inputs.iter().any(|m| m.ends_with("libd.a(x.o)")),
        "{inputs:?}"
    );
    assert!(
        inputs.iter().any(|m| m.contains("libd.a(x.o at ")),
        "{inputs:?}"
    );
}

/// An rlib built for linker-plugin LTO holds bitcode and its `lib.rmeta`,
/// which links nothing: the real link gets no copy of it (megabytes per
/// crate in a cargo build, written on every relink). An archive with a
/// native member that links something is still copied.
#[test]
fn an_rlib_whose_native_part_links_nothing_is_not_copied() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(dir, "main.c", MAIN);
    write_file(
        dir,
        "helpers.rs",
        "#![no_std]\n\
         #[no_mangle]\npub extern \"C\" fn helper(x: i32) -> i32 { x.wrapping_mul(2).wrapping_add(1) }\n\
         #[no_mangle]\npub extern \"C\" fn twice(x: i32) -> i32 { x.wrapping_add(x) }\n",
    );
    rustc(
        dir,
        &dir.join("helpers.rs"),
        &[
            "--crate-type=rlib",
            "-Clinker-plugin-lto",
            "-Cpanic=abort",
            "-Ccodegen-units=1",
        ],
    );
    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "main.c"]));
    let listed = run_ok(
        Command::new("llvm-ar-22")
            .current_dir(dir)
            .args(["t", "libhelpers.rlib"]),
    );
    let members = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(members.lines().any(|m| m == "lib.rmeta"), "{members}");
    let ld = ld_path_arg(dir);
    let link = |name: &str| {
        let report = link_with_report(
            dir,
            &[
                "-flto=thin",
                "-fuse-ld=lld",
                &ld,
                "main.o",
                "libhelpers.rlib",
            ],
            name,
        );
        assert_eq!(run_program(&dir.join(name)), "41 8\n");
        strings(&report["link"]["native_copies"])
    };
    assert_eq!(link("rlib"), Vec::<String>::new());
    // Control: a native member that defines something is kept, in a copy.
    write_file(dir, "extra.c", "int extra_native(void) { return 7; }\n");
    run_ok(clang_in(dir).args(["-O2", "-c", "extra.c"]));
    run_ok(
        Command::new("llvm-ar-22")
            .current_dir(dir)
            .args(["q", "libhelpers.rlib", "extra.o"]),
    );
    assert_eq!(link("with-native"), ["libhelpers.rlib"]);
}

/// With a cache directory, each bitcode input's symbol table is kept by
/// its content: a relink reads the unchanged ones from the cache, builds
/// the edited one's again, and trusts no damaged entry.
#[test]
fn symbol_tables_are_kept_by_content_between_links() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(dir, "main.c", MAIN);
    write_file(dir, "helper.c", HELPER);
    let ld = ld_path_arg(dir);
    let link = |name: &str| {
        run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "main.c", "helper.c"]));
        let report = link_with_report(
            dir,
            &[
                "-flto=thin",
                "-fuse-ld=lld",
                &ld,
                "-Wl,--thinlto-cache-dir=cache",
                "main.o",
                "helper.o",
            ],
            name,
        );
        let tables = &report["link"]["symbol_tables"];
        let output = run_program(&dir.join(name));
        (
            tables["cached"].as_u64().unwrap(),
            tables["built"].as_u64().unwrap(),
            output,
        )
    };
    assert_eq!(link("first"), (0, 2, "41 8\n".to_string()));
    assert_eq!(link("again"), (2, 0, "41 8\n".to_string()));
    // An edit: only the edited module's table is built again.
    write_file(
        dir,
        "helper.c",
        "int helper(int x) { return x * 3 + 1; }\nint twice(int x) { return x + x; }\n",
    );
    assert_eq!(link("edited"), (1, 1, "61 8\n".to_string()));
    // Control: damaged entries are not trusted; both are built again.
    let entries = files_named(&dir.join("cache"), |name| {
        name.starts_with("llvmcache-symtab-")
    });
    assert_eq!(entries.len(), 3, "{entries:?}");
    for entry in &entries {
        let mut bytes = std::fs::read(entry).unwrap();
        bytes[0] ^= 0xff;
        std::fs::write(entry, bytes).unwrap();
    }
    assert_eq!(link("damaged"), (0, 2, "61 8\n".to_string()));
}

/// With a cache directory, a relink that hands the thin run exactly what an
/// earlier link did recalls that run (its objects from the cache) instead
/// of running it; anything the run depends on that changed runs it again:
/// an edited module, a native object that now needs a symbol LTO would
/// otherwise drop, an LTO option. Each recalled program is the one a run
/// gives.
#[test]
fn a_relink_recalls_the_thin_run_only_when_nothing_it_depends_on_changed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(
        dir,
        "main.c",
        "#include <stdio.h>\nint helper(int);\nint twice(int);\nint use_extra(void);\n\
         int main(void) { printf(\"%d %d %d\\n\", helper(20), twice(4), use_extra()); return 0; }\n",
    );
    write_file(
        dir,
        "helper.c",
        "int helper(int x) { return x * 2 + 1; }\nint twice(int x) { return x + x; }\n\
         int extra(void) { return 5; }\n",
    );
    write_file(dir, "native.c", "int use_extra(void) { return 1; }\n");
    let ld = ld_path_arg(dir);
    let compile = || {
        run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "main.c", "helper.c"]));
        run_ok(clang_in(dir).args(["-O2", "-c", "native.c"]));
    };
    let link = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "-flto=thin",
            "-fuse-ld=lld",
            &ld,
            "-Wl,--thinlto-cache-dir=cache",
            "main.o",
            "helper.o",
            "native.o",
        ];
        args.extend_from_slice(extra);
        let report = link_with_report(dir, &args, name);
        let recalled = report["memo"]["hit"] == true;
        (recalled, run_program(&dir.join(name)))
    };
    compile();
    assert_eq!(link("first", &[]), (false, "41 8 1\n".to_string()));
    // Control: nothing changed, the run is recalled, and the program is
    // the one the run linked, byte for byte.
    compile();
    assert_eq!(link("again", &[]), (true, "41 8 1\n".to_string()));
    assert_eq!(
        std::fs::read(dir.join("first")).unwrap(),
        std::fs::read(dir.join("again")).unwrap()
    );
    // The native object now calls `extra`, which the first run dropped:
    // the preserved names differ, so the run happens (a recalled one would
    // leave `extra` undefined).
    write_file(
        dir,
        "native.c",
        "int extra(void);\nint use_extra(void) { return extra(); }\n",
    );
    compile();
    assert_eq!(link("native", &[]), (false, "41 8 5\n".to_string()));
    assert_eq!(link("native-again", &[]), (true, "41 8 5\n".to_string()));
    // An edited module.
    write_file(
        dir,
        "helper.c",
        "int helper(int x) { return x * 3 + 1; }\nint twice(int x) { return x + x; }\n\
         int extra(void) { return 5; }\n",
    );
    compile();
    assert_eq!(link("edited", &[]), (false, "61 8 5\n".to_string()));
    // Another LTO level.
    assert_eq!(
        link("o1", &["-Wl,--lto-O1"]),
        (false, "61 8 5\n".to_string())
    );
    assert_eq!(
        link("o1-again", &["-Wl,--lto-O1"]),
        (true, "61 8 5\n".to_string())
    );
    // A cache moved elsewhere keeps its memos (where it is does not change
    // the run); its report names where it is now.
    std::fs::rename(dir.join("cache"), dir.join("moved")).unwrap();
    let report = link_with_report(
        dir,
        &[
            "-flto=thin",
            "-fuse-ld=lld",
            &ld,
            "-Wl,--thinlto-cache-dir=moved",
            "main.o",
            "helper.o",
            "native.o",
            "-Wl,--lto-O1",
        ],
        "from-moved",
    );
    assert_eq!(report["memo"]["hit"], true);
    assert!(report["thin"]["cache"]["dir"]
        .as_str()
        .unwrap()
        .ends_with("moved"));
    assert_eq!(run_program(&dir.join("from-moved")), "61 8 5\n");
    std::fs::rename(dir.join("moved"), dir.join("cache")).unwrap();
    // A damaged entry is not placed for the final link (the recalled
    // objects are hard links to the entries, checked where they are): the
    // run happens, and its program is right.
    let objects = files_named(&dir.join("cache"), |name| {
        name.starts_with("llvmcache-") && name.len() == "llvmcache-".len() + 40
    });
    assert!(!objects.is_empty());
    for path in &objects {
        let mut bytes = std::fs::read(path).unwrap();
        bytes[64] ^= 0xff;
        std::fs::write(path, bytes).unwrap();
    }
    assert_eq!(
        link("damaged", &["-Wl,--lto-O1"]),
        (false, "61 8 5\n".to_string())
    );
    assert_eq!(
        link("repaired", &["-Wl,--lto-O1"]),
        (true, "61 8 5\n".to_string())
    );
    // A memo whose objects are gone from the cache is not used.
    for entry in std::fs::read_dir(dir.join("cache")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("llvmcache-")
            && !name.starts_with("llvmcache-ldmemo-")
            && !name.starts_with("llvmcache-symtab-")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    assert_eq!(
        link("pruned", &["-Wl,--lto-O1"]),
        (false, "61 8 5\n".to_string())
    );
}

/// With a cache directory, the final link is remembered: a relink that
/// would give the real linker the same command line over the same files
/// writes the output it wrote, byte for byte, without running it. Anything
/// the output depends on that changed runs it: a library's content, a
/// library that appears earlier on the search path, another real linker,
/// a damaged entry. A link that printed a warning, or whose command line
/// asks for another output, is never remembered.
#[test]
fn the_final_link_is_recalled_only_when_everything_it_read_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(
        dir,
        "main.c",
        "#include <stdio.h>\nint native(void);\n\
         int main(void) { printf(\"%d\\n\", native()); return 0; }\n",
    );
    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "main.c"]));
    std::fs::create_dir_all(dir.join("first")).unwrap();
    std::fs::create_dir_all(dir.join("second")).unwrap();
    let library = |subdir: &str, value: u32| {
        write_file(
            dir,
            "native.c",
            &format!("int native(void) {{ return {value}; }}\n"),
        );
        run_ok(clang_in(dir).args(["-O2", "-c", "native.c"]));
        let archive = dir.join(subdir).join("libnative.a");
        let _ = std::fs::remove_file(&archive);
        run_ok(
            Command::new("llvm-ar-22")
                .arg("rc")
                .arg(&archive)
                .arg(dir.join("native.o")),
        );
    };
    let ld = ld_path_arg(dir);
    let wrapper = write_file(dir, "other-ld", "#!/bin/sh\nexec ld.lld-22 \"$@\"\n");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // One output name throughout: the output path is part of the command.
    let link = |step: &str, extra: &[&str], real_linker: Option<&Path>| {
        let report = dir.join(format!("{step}.json"));
        let mut command = clang_in(dir);
        command
            .args([
                "-flto=thin",
                "-fuse-ld=lld",
                &ld,
                "-Wl,--thinlto-cache-dir=cache",
            ])
            .args(["main.o", "-Lsecond", "-Lfirst", "-lnative", "-o", "prog"])
            .arg(format!("-Wl,--lto-engine-report={}", report.display()))
            .args(extra);
        if let Some(real_linker) = real_linker {
            command.env("LTO_ENGINE_REAL_LD", real_linker);
        }
        let out = run_ok(&mut command);
        let memo = read_json(&report)["link"]["final_link"]["memo"].clone();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (memo, run_program(&dir.join("prog")), stderr)
    };
    let status = |memo: &serde_json::Value| memo["status"].as_str().unwrap().to_string();
    library("first", 1);
    let (memo, printed, _) = link("cold", &[], None);
    assert_eq!((status(&memo).as_str(), printed.as_str()), ("miss", "1\n"));
    assert_eq!(memo["stored"], true, "{memo}");
    let cold = std::fs::read(dir.join("prog")).unwrap();
    // Control: nothing changed: the output is the cold link's, byte for
    // byte, and keeps its permissions.
    let (memo, printed, _) = link("again", &[], None);
    assert_eq!((status(&memo).as_str(), printed.as_str()), ("hit", "1\n"));
    assert_eq!(std::fs::read(dir.join("prog")).unwrap(), cold);
    // The library's content changed.
    library("first", 2);
    let (memo, printed, _) = link("rebuilt", &[], None);
    assert_eq!((status(&memo).as_str(), printed.as_str()), ("miss", "2\n"));
    assert_eq!(link("rebuilt-again", &[], None).0["status"], "hit");
    // A library of that name appears earlier on the search path: lld would
    // take it, so the memo must not.
    library("second", 3);
    let (memo, printed, _) = link("shadowed", &[], None);
    assert_eq!((status(&memo).as_str(), printed.as_str()), ("miss", "3\n"));
    assert_eq!(
        memo["why"], "a file appeared where the linker searches",
        "{memo}"
    );
    assert_eq!(link("shadowed-again", &[], None).0["status"], "hit");
    // Another real linker.
    let (memo, printed, _) = link("other-linker", &[], Some(&wrapper));
    assert_eq!((status(&memo).as_str(), printed.as_str()), ("miss", "3\n"));
    // A damaged output entry is not used; the link runs and stores it anew.
    for path in files_named(&dir.join("cache"), |name| {
        name.starts_with("llvmcache-ldlink-out-")
    }) {
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let (memo, printed, _) = link("damaged", &[], None);
    assert_eq!((status(&memo).as_str(), printed.as_str()), ("miss", "3\n"));
    assert_eq!(link("repaired", &[], None).0["status"], "hit");
    // A link that printed a warning is not remembered (a recalled link
    // would not print it): the warning comes every time.
    for step in ["warned", "warned-again"] {
        let (memo, printed, stderr) = link(step, &["-Wl,-z,no-such-keyword"], None);
        assert_eq!((status(&memo).as_str(), printed.as_str()), ("miss", "3\n"));
        assert_eq!(memo["stored"], false, "{memo}");
        assert!(stderr.contains("no-such-keyword"), "{stderr}");
    }
    // A command line that asks for a map is never remembered.
    let (memo, _, _) = link("map", &["-Wl,-Map=prog.map"], None);
    assert_eq!(status(&memo), "off", "{memo}");
    assert!(dir.join("prog.map").is_file());
    // A search directory whose `..` leads elsewhere than its cleaned form
    // (the dependency file names files by cleaned paths, which would then
    // be other files): never remembered.
    std::fs::create_dir_all(dir.join("deep/inner")).unwrap();
    std::os::unix::fs::symlink(dir.join("deep/inner"), dir.join("alias")).unwrap();
    let (memo, _, _) = link("climbing", &["-Lalias/.."], None);
    assert_eq!(status(&memo), "off", "{memo}");
    assert!(memo["why"].as_str().unwrap().contains("alias/.."), "{memo}");
    // Control: a `..` that leads where its cleaned form does.
    let (memo, _, _) = link("climbing-plainly", &["-Lfirst/.."], None);
    assert_eq!(status(&memo), "miss", "{memo}");
    // Of the links of one output, the last four command lines are kept
    // (each entry is a whole program), not one an edit. A command line
    // is one key (the files it reads are checked, not keyed): so far
    // three were stored (the plain one, another linker, `-Lfirst/..`).
    let outputs = || {
        files_named(&dir.join("cache"), |name| {
            name.starts_with("llvmcache-ldlink-out-")
        })
    };
    assert_eq!(outputs().len(), 3, "{:?}", outputs());
    assert_eq!(link("plain-kept", &[], None).0["status"], "hit");
    for (step, option) in [("now", "-Wl,-z,now"), ("lazy", "-Wl,-z,lazy")] {
        assert_eq!(link(step, &[option], None).0["stored"], true);
    }
    assert_eq!(outputs().len(), 4, "{:?}", outputs());
    assert_eq!(link("norelro", &["-Wl,-z,norelro"], None).0["stored"], true);
    assert_eq!(outputs().len(), 4, "{:?}", outputs());
    // The plain one was the oldest stored.
    assert_eq!(link("plain-forgotten", &[], None).0["status"], "miss");
}

#[test]
fn links_without_bitcode_and_options_it_cannot_honour() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(dir, "main.c", MAIN);
    write_file(dir, "helper.c", HELPER);
    let ld = ld_path_arg(dir);
    // No bitcode: the real linker does the link as given.
    run_ok(clang_in(dir).args([
        "-O2",
        "-fuse-ld=lld",
        &ld,
        "main.c",
        "helper.c",
        "-o",
        "plain",
    ]));
    assert_eq!(run_program(&dir.join("plain")), "41 8\n");
    // An lld LTO option the engine cannot honour: one clear error line.
    let out = clang_in(dir)
        .args([
            "-flto=thin",
            "-fuse-ld=lld",
            &ld,
            "main.c",
            "helper.c",
            "-Wl,--lto-emit-asm",
            "-o",
            "never",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("lto-engine: error: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("--lto-emit-asm"), "{line}");
    assert!(!dir.join("never").exists());
    // A library nobody can find: the real linker's own diagnostic and exit.
    let out = clang_in(dir)
        .args([
            "-flto=thin",
            "-fuse-ld=lld",
            &ld,
            "main.c",
            "helper.c",
            "-lno_such_lib_xyz",
            "-o",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ld.lld") && stderr.contains("unable to find library -lno_such_lib_xyz"),
        "{stderr}"
    );
    // `lto-engine ld` is the same linker by subcommand.
    let out = engine().args(["ld", "--version"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("LLD"),
        "{out:?}"
    );
}

#[test]
fn a_shared_object_exports_what_its_version_script_says() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(
        dir,
        "lib.c",
        "int helper_internal(int x) { return x * 7; }\n\
         int api_scale(int x) { return helper_internal(x) + 1; }\n",
    );
    write_file(
        dir,
        "exports.map",
        "LIB_1 {\n  global: api_*;\n  local: *;\n};\n",
    );
    write_file(
        dir,
        "use.c",
        "#include <stdio.h>\nint api_scale(int);\nint main(void) { printf(\"%d\\n\", api_scale(6)); return 0; }\n",
    );
    let ld = ld_path_arg(dir);
    let dynamic = |lib: &str| -> String {
        let out = Command::new("llvm-nm-22")
            .args(["-D", "--defined-only"])
            .arg(dir.join(lib))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for (lib, script) in [("libscripted.so", true), ("libopen.so", false)] {
        let mut command = clang_in(dir);
        command.args([
            "-flto=thin",
            "-O2",
            "-fPIC",
            "-shared",
            "-fuse-ld=lld",
            &ld,
            "lib.c",
        ]);
        if script {
            command.arg("-Wl,--version-script=exports.map");
        }
        let report = dir.join(format!("{lib}.json"));
        command.arg(format!("-Wl,--lto-engine-report={}", report.display()));
        run_ok(command.args(["-o", lib]));
        // The engine decided as the real linker does: what the script hides
        // was not preserved through LTO.
        let report: serde_json::Value = read_json(&report);
        let preserved: Vec<String> = strings(&report["preserved"]);
        assert!(preserved.iter().any(|p| p == "api_scale"), "{preserved:?}");
        assert_eq!(
            preserved.iter().any(|p| p == "helper_internal"),
            !script,
            "{preserved:?}"
        );
        let symbols = dynamic(lib);
        assert!(symbols.contains("api_scale"), "{lib}: {symbols}");
        // Hidden by `local: *`; exported without the script (the control).
        assert_eq!(
            symbols.contains("helper_internal"),
            !script,
            "{lib}: {symbols}"
        );
    }
    // A program uses the library's export.
    run_ok(clang_in(dir).args([
        "use.c",
        "-L.",
        "-lscripted",
        "-Wl,-rpath,$ORIGIN",
        "-o",
        "use",
    ]));
    assert_eq!(run_program(&dir.join("use")), "43\n");
}

#[test]
fn lld_distributes_thin_backends_to_the_engine() {
    // lld 22's DTLTO: lld runs the thin link and hands each backend to a
    // distributor as a job for a clang-style remote compiler: here the
    // engine (`lto-engine -c --target=... M.o -fthinlto-index=... -o ...`).
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(dir, "main.c", MAIN);
    write_file(dir, "helper.c", HELPER);
    let distributor = write_file(
        dir,
        "distribute.py",
        "#!/usr/bin/env python3\n\
         import json, subprocess, sys\n\
         jobs = json.load(open(sys.argv[-1]))\n\
         with open('commands.txt', 'a') as log:\n\
         \x20   for job in jobs['jobs']:\n\
         \x20       command = jobs['common']['args'] + job['args']\n\
         \x20       log.write(' '.join(command) + '\\n')\n\
         \x20       subprocess.check_call(command)\n",
    );
    std::fs::set_permissions(
        &distributor,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    run_ok(clang_in(dir).args([
        "-flto=thin",
        "-O2",
        "-fuse-ld=lld",
        "main.c",
        "helper.c",
        &format!("-Wl,--thinlto-distributor={}", distributor.display()),
        &format!(
            "-Wl,--thinlto-remote-compiler={}",
            env!("CARGO_BIN_EXE_lto-engine")
        ),
        "-o",
        "dtlto",
    ]));
    assert_eq!(run_program(&dir.join("dtlto")), "41 8\n");
    // The engine compiled every backend job.
    let commands = std::fs::read_to_string(dir.join("commands.txt")).unwrap();
    assert_eq!(commands.lines().count(), 2, "{commands}");
    assert!(
        commands
            .lines()
            .all(|l| l.starts_with(env!("CARGO_BIN_EXE_lto-engine"))
                && l.contains("-fthinlto-index=")),
        "{commands}"
    );
    // An option it does not take is an error naming it, not a different
    // object.
    let out = engine()
        .args([
            "-c",
            "-fsanitize=address",
            "x.o",
            "-fthinlto-index=x.bc",
            "-o",
            "y.o",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("-fsanitize=address"));
}

/// A cargo workspace: a library with generics and trait objects and its
/// unit and integration tests, and a binary using it.
fn cargo_workspace(root: &Path) {
    let files: &[(&str, &str)] = &[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"shapes\", \"app\"]\nresolver = \"2\"\n",
        ),
        (
            "shapes/Cargo.toml",
            "[package]\nname = \"shapes\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        (
            "shapes/src/lib.rs",
            "pub trait Area { fn area(&self) -> f64; }\n\
             pub struct Square(pub f64);\npub struct Rect(pub f64, pub f64);\n\
             impl Area for Square { fn area(&self) -> f64 { self.0 * self.0 } }\n\
             impl Area for Rect { fn area(&self) -> f64 { self.0 * self.1 } }\n\
             pub fn total<T: Area>(items: &[T]) -> f64 { items.iter().map(Area::area).sum() }\n\
             pub fn total_dyn(items: &[Box<dyn Area>]) -> f64 { items.iter().map(|s| s.area()).sum() }\n\
             #[cfg(test)]\nmod tests { use crate::Area; #[test] fn square() { assert_eq!(super::Square(3.0).area(), 9.0); } }\n",
        ),
        (
            "shapes/tests/sum.rs",
            "use shapes::*;\n#[test] fn sums() { assert_eq!(total(&[Square(1.0), Square(2.0)]), 5.0); }\n\
             #[test] fn sums_dyn() { let v: Vec<Box<dyn Area>> = vec![Box::new(Square(2.0)), Box::new(Rect(2.0, 3.0))]; assert_eq!(total_dyn(&v), 10.0); }\n",
        ),
        (
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             [dependencies]\nshapes = { path = \"../shapes\" }\n",
        ),
        (
            "app/src/main.rs",
            "use shapes::*;\nfn main() { let v: Vec<Box<dyn Area>> = vec![Box::new(Square(3.0)), Box::new(Rect(1.0, 2.5))]; println!(\"total {}\", total_dyn(&v)); }\n\
             #[cfg(test)]\nmod tests { #[test] fn runs() { assert_eq!(shapes::total(&[shapes::Rect(1.0, 1.0)]), 1.0); } }\n",
        ),
    ];
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn a_cargo_workspace_builds_and_tests_through_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    cargo_workspace(&root);
    let ld = engine_as_lld(dir.path());
    let report = dir.path().join("report.json");
    let cache = dir.path().join("cache");
    let cargo = |args: &[&str]| {
        let mut command = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        command
            .current_dir(&root)
            .args(args)
            .arg("--offline")
            .env("CARGO_TARGET_DIR", root.join("target"))
            .env(
                "RUSTFLAGS",
                format!(
                    "-Clinker-plugin-lto -Clinker=clang-22 -Clink-arg=-fuse-ld=lld \
                     -Clink-arg=--ld-path={} -Clink-arg=-Wl,--thinlto-cache-dir={} \
                     -Clink-arg=-Wl,--lto-engine-report={}",
                    ld.display(),
                    cache.display(),
                    report.display()
                ),
            )
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        run_ok(&mut command)
    };
    // `cargo test`: every test binary is linked by the engine and passes.
    let out = cargo(&["test"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let passed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("test result: ok"))
        .collect();
    assert!(passed.len() >= 3, "{text}");
    assert!(text.contains("test sums_dyn ... ok"), "{text}");
    let read = || -> serde_json::Value { read_json(&report) };
    assert_eq!(read()["kind"], "thin", "the links went through the engine");

    // A release build, then a one-line edit of the binary: the library's
    // modules come from the cache.
    cargo(&["build", "--release", "-p", "app"]);
    let cold = read();
    assert_eq!(cold["thin"]["cache"]["hits"], 0, "{cold}");
    let main = root.join("app/src/main.rs");
    let edited = std::fs::read_to_string(&main)
        .unwrap()
        .replace("total {}", "sum {}");
    std::fs::write(&main, edited).unwrap();
    cargo(&["build", "--release", "-p", "app"]);
    let warm = read();
    let hits = warm["thin"]["cache"]["hits"].as_u64().unwrap();
    let misses = warm["thin"]["cache"]["misses"].as_u64().unwrap();
    assert!(hits >= 1 && misses >= 1, "{warm}");
    let program = root.join("target/release/app");
    assert_eq!(run_program(&program), "sum 11.5\n");
}

/// Every file under `root/dir`, relative to `root/dir`, with its bytes.
fn files_with_bytes(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(root).unwrap().display().to_string();
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

const WORK: &str = "int helper(int x) { int s = 0; for (int i = 0; i < x; i++) s += (i * i) ^ (s >> 3); return s + 1; }\n\
                    int twice(int x) { int a[16]; for (int i = 0; i < 16; i++) a[i] = x * i; int s = 0;\n\
                    for (int i = 0; i < 16; i++) s += a[i] % 7; return s; }\n";

#[test]
fn thinlto_index_only_writes_what_lld_writes() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    write_file(dir, "src/main.c", MAIN);
    write_file(dir, "src/helper.c", HELPER);
    write_file(
        dir,
        "src/extra.c",
        "int unused_extra(int x) { return x - 1; }\n",
    );
    for name in ["main", "helper", "extra"] {
        run_ok(clang_in(dir).args([
            "-flto=thin",
            "-O2",
            "-c",
            &format!("src/{name}.c"),
            "-o",
            &format!("src/{name}.o"),
        ]));
    }
    let ld = ld_path_arg(dir);
    let objects = ["src/main.o", "src/helper.o", "src/extra.o"];
    // With a prefix replacement (and a native-object prefix), imports
    // files and a list file: lld's files under lld/, the engine's under
    // eng/, then compared byte for byte (paths inside are the modules').
    for who in ["lld", "eng"] {
        std::fs::create_dir_all(dir.join(who)).unwrap();
        let mut command = clang_in(dir);
        command.args(["-flto=thin", "-fuse-ld=lld"]);
        if who == "eng" {
            command.arg(&ld);
        }
        run_ok(
            command
                .args(objects)
                .arg(format!("-Wl,--thinlto-index-only={who}/list.txt"))
                .arg("-Wl,--thinlto-emit-imports-files")
                .arg(format!(
                    "-Wl,--thinlto-prefix-replace=src/;{who}/idx/;{who}/obj/"
                ))
                .args(["-o", &format!("{who}/prog")]),
        );
        assert!(!dir.join(format!("{who}/prog")).exists(), "{who} linked");
    }
    let lld = files_with_bytes(&dir.join("lld"));
    let eng = files_with_bytes(&dir.join("eng"));
    assert_eq!(
        lld.keys().collect::<Vec<_>>(),
        eng.keys().collect::<Vec<_>>()
    );
    assert_eq!(lld.len(), 7, "{:?}", lld.keys());
    for (name, bytes) in &lld {
        let ours = &eng[name];
        if name == "list.txt" {
            // The list names each side's own object prefix.
            assert_eq!(
                String::from_utf8_lossy(ours),
                String::from_utf8_lossy(bytes).replace("lld/obj/", "eng/obj/")
            );
            assert_eq!(
                String::from_utf8_lossy(bytes),
                "lld/obj/main.o\nlld/obj/helper.o\nlld/obj/extra.o\n"
            );
        } else {
            assert!(ours == bytes, "{name} differs from lld's");
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&lld["idx/main.o.imports"]),
        "src/helper.o\n"
    );

    // Without a replacement, clang's -plugin-opt spellings: the files go
    // beside each module. lld first; its files are moved away, then the
    // engine's compared with them.
    let beside = |who: &str| {
        let mut command = clang_in(dir);
        command.args(["-flto=thin", "-fuse-ld=lld"]);
        if who == "eng" {
            command.arg(&ld);
        }
        run_ok(
            command
                .args(objects)
                .arg(format!("-Wl,-plugin-opt=thinlto-index-only={who}.txt"))
                .arg("-Wl,-plugin-opt=thinlto-emit-imports-files")
                .args(["-o", "never"]),
        );
        let mut files = std::collections::BTreeMap::new();
        for (name, bytes) in files_with_bytes(&dir.join("src")) {
            if name.ends_with(".thinlto.bc") || name.ends_with(".imports") {
                std::fs::remove_file(dir.join("src").join(&name)).unwrap();
                files.insert(name, bytes);
            }
        }
        files
    };
    let lld = beside("lld");
    let eng = beside("eng");
    assert_eq!(lld.len(), 6, "{:?}", lld.keys());
    assert!(lld == eng, "{:?} vs {:?}", lld.keys(), eng.keys());
    assert_eq!(
        std::fs::read_to_string(dir.join("lld.txt")).unwrap(),
        std::fs::read_to_string(dir.join("eng.txt")).unwrap()
    );
    assert!(!dir.join("never").exists());

    // A full-LTO module in the link: lld leaves it empty index and imports
    // files (placeholders), and lists no object for it.
    std::fs::create_dir_all(dir.join("mixed")).unwrap();
    write_file(
        dir,
        "mixed/full.c",
        "int unused_full(int x) { return x + 2; }\n",
    );
    run_ok(clang_in(dir).args([
        "-flto=full",
        "-O2",
        "-c",
        "mixed/full.c",
        "-o",
        "mixed/full.o",
    ]));
    for who in ["lld", "eng"] {
        let mut command = clang_in(dir);
        command.args(["-flto=thin", "-fuse-ld=lld"]);
        if who == "eng" {
            command.arg(&ld);
        }
        run_ok(
            command
                .args(["mixed/full.o", "src/main.o", "src/helper.o"])
                .arg(format!("-Wl,--thinlto-index-only=mixed-{who}.txt"))
                .arg("-Wl,--thinlto-emit-imports-files")
                .arg(format!("-Wl,--thinlto-prefix-replace=src/;{who}-mixed/"))
                .args(["-o", "never"]),
        );
        assert_eq!(
            std::fs::read_to_string(dir.join(format!("mixed-{who}.txt"))).unwrap(),
            format!("{who}-mixed/main.o\n{who}-mixed/helper.o\n")
        );
        for suffix in ["thinlto.bc", "imports"] {
            let placeholder = dir.join(format!("mixed/full.o.{suffix}"));
            assert_eq!(std::fs::read(&placeholder).unwrap(), b"", "{who}");
            std::fs::remove_file(placeholder).unwrap();
        }
    }
    let lld = files_with_bytes(&dir.join("lld-mixed"));
    let eng = files_with_bytes(&dir.join("eng-mixed"));
    assert_eq!(
        lld.keys().collect::<Vec<_>>(),
        eng.keys().collect::<Vec<_>>()
    );
    assert_eq!(lld["main.o.imports"], eng["main.o.imports"]);

    // Malformed replacements, and a native-object prefix without a list
    // file: lld's own error, in one line.
    for bad in [
        "--thinlto-prefix-replace=a",
        "--thinlto-object-suffix-replace=a",
        "--thinlto-prefix-replace=a;b;c",
    ] {
        let args = [
            "-e",
            "main",
            "src/main.o",
            "src/helper.o",
            "--thinlto-index-only",
            bad,
        ];
        let out = Command::new("ld.lld-22")
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let lld = String::from_utf8_lossy(&out.stderr).into_owned();
        let lld = lld.trim().trim_start_matches("ld.lld-22: error: ");
        let ours = cli_error(engine().current_dir(dir).arg("ld").args(args), lld);
        assert!(ours.contains(lld), "{ours} vs {lld}");
    }

    // A bitcode archive member: lld names it `lib.a(m.o at OFFSET)`, no
    // path a backend can open; the engine refuses it in one line.
    run_ok(
        Command::new("llvm-ar-22")
            .current_dir(dir)
            .args(["rcs", "libh.a", "src/helper.o"]),
    );
    let out = engine()
        .current_dir(dir)
        .args(["ld", "-e", "main", "src/main.o", "libh.a"])
        .arg("--thinlto-index-only")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("libh.a(helper.o)") && stderr.contains("--thinlto-index-only"),
        "{stderr}"
    );
}

/// The bytes of `binary`'s .text section.
fn text_section(binary: &Path) -> Vec<u8> {
    let out = binary.with_extension("text");
    run_ok(
        Command::new("llvm-objcopy-22")
            .args(["-O", "binary", "--only-section=.text"])
            .arg(binary)
            .arg(&out),
    );
    std::fs::read(out).unwrap()
}

#[test]
fn lto_cgo_sets_the_code_generation_level_as_lld_does() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(dir, "main.c", MAIN);
    write_file(dir, "work.c", WORK);
    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "main.c", "work.c"]));
    let ld = ld_path_arg(dir);
    let link = |engine: bool, cgo: Option<&str>, name: &str| -> Vec<u8> {
        let mut command = clang_in(dir);
        command.args(["-flto=thin", "-fuse-ld=lld", "main.o", "work.o"]);
        if engine {
            command.arg(&ld);
        }
        if let Some(level) = cgo {
            command.arg(format!("-Wl,--lto-CGO{level}"));
        }
        run_ok(command.args(["-o", name]));
        assert_eq!(run_program(&dir.join(name)), "2446 46\n", "{name}");
        text_section(&dir.join(name))
    };
    let engine_o0 = link(true, Some("0"), "engine-cgo0");
    let lld_o0 = link(false, Some("0"), "lld-cgo0");
    let engine_default = link(true, None, "engine-default");
    // The code lld generates at that level, byte for byte.
    assert!(engine_o0 == lld_o0, "--lto-CGO0: .text differs from lld's");
    // Positive control: the level changed the code.
    assert!(
        engine_o0 != engine_default,
        "--lto-CGO0 generated the default code"
    );
    assert!(engine_o0.len() > engine_default.len());
    // The level is part of the ThinLTO cache key: a cache warmed at the
    // default level does not serve --lto-CGO0.
    let cache = format!("-Wl,--thinlto-cache-dir={}", dir.join("cache").display());
    let hits = |cgo: &[&str], name: &str| -> u64 {
        let mut args = vec![
            "-flto=thin",
            "-fuse-ld=lld",
            &ld,
            "main.o",
            "work.o",
            &cache,
        ];
        args.extend(cgo);
        let report = link_with_report(dir, &args, name);
        report["thin"]["cache"]["hits"].as_u64().unwrap()
    };
    assert_eq!(hits(&[], "cold"), 0);
    assert_eq!(hits(&[], "warm"), 2, "control: the same link hits");
    assert_eq!(hits(&["-Wl,--lto-CGO0"], "cgo0"), 0);
    // A level lld does not take is an error naming it.
    let out = engine()
        .current_dir(dir)
        .args([
            "ld",
            "-e",
            "main",
            "main.o",
            "work.o",
            "--lto-CGO7",
            "-o",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--lto-CGO7"));
}

#[test]
fn mllvm_options_reach_llvm() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(dir, "main.c", MAIN);
    write_file(dir, "helper.c", HELPER);
    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "main.c", "helper.c"]));
    let ld = ld_path_arg(dir);
    let imported = |options: &[&str], name: &str| -> u64 {
        let mut args = vec!["-flto=thin", "-fuse-ld=lld", &ld, "main.o", "helper.o"];
        args.extend(options);
        let report = link_with_report(dir, &args, name);
        assert_eq!(run_program(&dir.join(name)), "41 8\n");
        report["thin"]["modules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["imported_definitions"].as_u64().unwrap())
            .sum()
    };
    // Control: main.o imports helper's small functions.
    assert!(imported(&[], "plain") >= 2);
    // -import-instr-limit=0: nothing is small enough to import, in both
    // of lld's spellings.
    assert_eq!(imported(&["-Wl,-mllvm,-import-instr-limit=0"], "mllvm"), 0);
    assert_eq!(
        imported(&["-Wl,-plugin-opt=-import-instr-limit=0"], "plugin"),
        0
    );
    // The options are part of the ThinLTO cache key: a warm cache hits for
    // the same options only.
    let cache = format!("-Wl,--thinlto-cache-dir={}", dir.join("cache").display());
    let hits = |options: &[&str], name: &str| -> u64 {
        let mut args = vec![
            "-flto=thin",
            "-fuse-ld=lld",
            &ld,
            "main.o",
            "helper.o",
            &cache,
        ];
        args.extend(options);
        let report = link_with_report(dir, &args, name);
        report["thin"]["cache"]["hits"].as_u64().unwrap()
    };
    let option = ["-Wl,-mllvm,-x86-asm-syntax=intel"];
    assert_eq!(hits(&[], "cold"), 0);
    assert_eq!(hits(&[], "warm"), 2, "control: the same link hits");
    assert_eq!(hits(&option, "option"), 0, "another option, other keys");
    // A code generation option reaches the worker processes that compile:
    // the code is lld's with the same option, byte for byte, and differs
    // from the code without it.
    write_file(dir, "work.c", WORK);
    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "work.c"]));
    let aligned = |engine: bool, options: &[&str], name: &str| -> Vec<u8> {
        let mut command = clang_in(dir);
        command.args(["-flto=thin", "-fuse-ld=lld", "main.o", "work.o"]);
        if engine {
            command.arg(&ld);
        }
        run_ok(command.args(options).args(["-o", name]));
        assert_eq!(run_program(&dir.join(name)), "2446 46\n", "{name}");
        text_section(&dir.join(name))
    };
    let align = ["-Wl,-mllvm,-align-all-functions=6"];
    let engine_aligned = aligned(true, &align, "engine-aligned");
    assert!(engine_aligned == aligned(false, &align, "lld-aligned"));
    assert!(engine_aligned != aligned(true, &[], "engine-default"));
    // An option LLVM does not know: one line naming it, exit status 1.
    cli_error(
        engine().current_dir(dir).args([
            "ld",
            "-e",
            "main",
            "main.o",
            "-mllvm",
            "-no-such-llvm-option-xyz",
        ]),
        "-no-such-llvm-option-xyz",
    );
    // One that would print and exit inside LLVM is refused.
    cli_error(
        engine()
            .current_dir(dir)
            .args(["ld", "main.o", "-mllvm", "-help"]),
        "-help",
    );
}

#[test]
fn full_lto_and_thin_bitcode_link_together_as_in_lld() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(
        dir,
        "a.c",
        "#include <stdio.h>\nint from_b(int); int from_c(int);\n\
         static int local_a(int x) { return x + 100; }\n\
         int shared_a(int x) { return local_a(x) * 2; }\n\
         int main(void) { printf(\"%d %d\\n\", from_b(3), from_c(4)); return 0; }\n",
    );
    write_file(
        dir,
        "b.c",
        "int shared_a(int); int from_c(int); int c_internal(int);\n\
         int from_b(int x) { return shared_a(x) + from_c(1) + c_internal(0); }\n",
    );
    write_file(
        dir,
        "c.c",
        "int from_c(int x) { return x * 10; }\nint c_internal(int x) { return x + 1; }\n",
    );
    run_ok(clang_in(dir).args(["-flto=full", "-O2", "-c", "a.c"]));
    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "b.c", "c.c"]));
    run_ok(clang_in(dir).args(["-flto", "-fuse-ld=lld", "a.o", "b.o", "c.o", "-o", "lld"]));
    let expected = run_program(&dir.join("lld"));
    assert_eq!(expected, "217 40\n");
    let ld = ld_path_arg(dir);
    let link = |extra: &[&str], name: &str| -> serde_json::Value {
        let mut args = vec!["-flto", "-fuse-ld=lld", &ld, "a.o", "b.o", "c.o"];
        args.extend(extra);
        let report = link_with_report(dir, &args, name);
        assert_eq!(run_program(&dir.join(name)), expected, "{name}");
        report
    };
    // Both LTO runs, each keeping what the other side uses: shared_a
    // (full, used by thin b.o) and from_c (thin, used by full a.o).
    let mixed = link(&[], "mixed");
    assert_eq!(mixed["kind"], "mixed", "{mixed}");
    let runs = mixed["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["kind"], "fat");
    assert_eq!(runs[1]["kind"], "thin");
    let preserved = |run: &serde_json::Value, name: &str| {
        run["preserved"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == name)
    };
    assert!(preserved(&runs[0], "shared_a"), "{}", runs[0]);
    assert!(preserved(&runs[1], "from_c"), "{}", runs[1]);
    // Control: what only the thin side uses is not kept for the other.
    assert!(!preserved(&runs[1], "c_internal"), "{}", runs[1]);
    let thin_modules: Vec<String> = names(&runs[1]["thin"]["modules"]);
    assert_eq!(thin_modules, ["b.o", "c.o"]);

    // --lto-engine-kind=thin: every module thin, a.o's summary computed.
    let thin = link(&["-Wl,--lto-engine-kind=thin"], "all-thin");
    assert_eq!(thin["kind"], "thin", "{thin}");
    let modules = thin["thin"]["modules"].as_array().unwrap();
    assert_eq!(modules.len(), 3);
    assert_eq!(modules[0]["name"], "a.o");
    assert_eq!(modules[0]["summary_added"], true);
    // --lto-engine-kind=fat over ThinLTO bitcode: one merged module.
    write_file(dir, "main.c", MAIN);
    write_file(dir, "helper.c", HELPER);
    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "main.c", "helper.c"]));
    let report = dir.join("fat.json");
    run_ok(clang_in(dir).args([
        "-flto=thin",
        "-fuse-ld=lld",
        &ld,
        "main.o",
        "helper.o",
        "-Wl,--lto-engine-kind=fat",
        &format!("-Wl,--lto-engine-report={}", report.display()),
        "-o",
        "fat",
    ]));
    assert_eq!(run_program(&dir.join("fat")), "41 8\n");
    let fat: serde_json::Value = read_json(report);
    assert_eq!(fat["kind"], "fat", "{fat}");
    cli_error(
        engine()
            .current_dir(dir)
            .args(["ld", "main.o", "--lto-engine-kind=fast"]),
        "--lto-engine-kind=fast",
    );
}

#[test]
fn defsym_keeps_the_bitcode_it_names_and_refuses_to_replace_it() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(
        dir,
        "d.c",
        "#include <stdio.h>\nint real_impl(int x) { return x * 3; }\nint alias_fn(int);\n\
         int main(void) { printf(\"%d\\n\", alias_fn(5)); return 0; }\n",
    );
    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "d.c"]));
    let ld = ld_path_arg(dir);
    run_ok(clang_in(dir).args([
        "-flto=thin",
        "-fuse-ld=lld",
        "d.o",
        "-Wl,--defsym=alias_fn=real_impl",
        "-o",
        "lld",
    ]));
    assert_eq!(run_program(&dir.join("lld")), "15\n");
    let preserved = |extra: &[&str], name: &str| -> (bool, bool) {
        let report = dir.join(format!("{name}.json"));
        let out = clang_in(dir)
            .args(["-flto=thin", "-fuse-ld=lld", &ld, "d.o"])
            .args(extra)
            .arg(format!("-Wl,--lto-engine-report={}", report.display()))
            .args(["-o", name])
            .output()
            .unwrap();
        let report: serde_json::Value = read_json(report);
        let kept = report["preserved"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "real_impl");
        (out.status.success(), kept)
    };
    // Both spellings: real_impl stays for the real linker's --defsym.
    for (extra, name) in [
        (["-Wl,--defsym=alias_fn=real_impl"], "joined"),
        (["-Wl,--defsym,alias_fn=real_impl"], "separate"),
    ] {
        assert_eq!(preserved(&extra, name), (true, true), "{name}");
        assert_eq!(run_program(&dir.join(name)), "15\n");
    }
    // Control: without it, real_impl is not kept (and alias_fn is
    // undefined, so the link fails).
    assert_eq!(
        preserved(&["-Wl,--defsym=alias_fn=0"], "control"),
        (true, false)
    );
    // A symbol the bitcode defines cannot be redefined by --defsym.
    let stderr = cli_error(
        engine()
            .current_dir(dir)
            .args(["ld", "-e", "main", "d.o", "--defsym", "main=real_impl"]),
        "--defsym=main=real_impl",
    );
    assert!(stderr.contains("defined in bitcode"), "{stderr}");
}

#[test]
fn chroot_reads_absolute_inputs_under_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("abs")).unwrap();
    // A program without the C runtime (whose files would be read under
    // the root too): _start exits with helper(20).
    write_file(
        dir,
        "start.c",
        "int helper(int);\nvoid _start(void) { int r = helper(20);\n\
         __asm__ volatile(\"mov $60, %%eax; syscall\" :: \"D\"(r)); __builtin_unreachable(); }\n",
    );
    write_file(dir, "helper.c", HELPER);
    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "start.c", "helper.c"]));
    std::fs::rename(dir.join("start.o"), root.join("abs/start.o")).unwrap();
    std::fs::rename(dir.join("helper.o"), root.join("abs/helper.o")).unwrap();
    let ld = ld_path_arg(dir);
    let link = |engine: bool, chroot: bool, name: &str| {
        let mut command = clang_in(dir);
        command.args(["-flto=thin", "-fuse-ld=lld", "-nostdlib", "-static"]);
        if engine {
            command.arg(&ld);
        }
        if chroot {
            command.arg(format!("-Wl,--chroot,{}", root.display()));
        }
        // An absolute output: the engine's objects must still reach lld.
        if engine {
            command.arg(format!(
                "-Wl,--lto-engine-report={}",
                dir.join(format!("{name}.json")).display()
            ));
        }
        command
            .args(["-Wl,/abs/start.o,/abs/helper.o", "-o"])
            .arg(dir.join(name))
            .output()
            .unwrap()
    };
    let exit_code = |name: &str| Command::new(dir.join(name)).status().unwrap().code();
    assert!(link(false, true, "lld").status.success());
    assert_eq!(exit_code("lld"), Some(41));
    let out = link(true, true, "engine");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(exit_code("engine"), Some(41));
    let report = std::fs::read_to_string(dir.join("engine.json")).unwrap();
    assert!(
        report.contains(&format!("{}/abs/start.o", root.display())),
        "{report}"
    );
    // Control: without --chroot, /abs/start.o does not exist.
    let out = link(true, false, "plain");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/abs/start.o"));
}

#[test]
fn llvm_options_are_set_once_per_process() {
    use lto_engine::{Config, LtoKind, Session};
    let with = |option: &str| {
        Config::builder()
            .llvm_option(option)
            .build()
            .and_then(|config| Session::new(config, LtoKind::Thin))
    };
    // Unknown to LLVM: an error with LLVM's reason, not its exit.
    let Err(error) = with("-no-such-llvm-option-xyz") else {
        panic!("an unknown LLVM option was accepted")
    };
    assert!(
        matches!(error, lto_engine::Error::Config(_)) && error.to_string().contains("Unknown"),
        "{error}"
    );
    // Set once; the same options again are fine (LLVM would refuse a
    // second occurrence of most options).
    with("-import-instr-limit=7").unwrap();
    with("-import-instr-limit=7").unwrap();
    // Other options in the same process: refused, they cannot be unset.
    let Err(error) = with("-import-instr-limit=3") else {
        panic!("other LLVM options were accepted in the same process")
    };
    assert!(error.to_string().contains("process-wide"), "{error}");
}

#[test]
fn start_lib_objects_are_lazy_as_in_lld() {
    // c.o defines helper too and is never needed: between --start-lib and
    // --end-lib lld leaves it out, so must the engine.
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(dir, "main.c", MAIN);
    write_file(dir, "b.c", HELPER);
    write_file(
        dir,
        "c.c",
        "int helper(int x) { return x * 3; }\nint only_c(void) { return 9; }\n",
    );
    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "main.c", "b.c", "c.c"]));
    let ld = ld_path_arg(dir);
    let lazy = ["-Wl,--start-lib", "b.o", "c.o", "-Wl,--end-lib"];
    run_ok(
        clang_in(dir)
            .args(["-flto=thin", "-fuse-ld=lld", &ld, "main.o"])
            .args(lazy)
            .args(["-Wl,--lto-engine-report=r.json", "-o", "engine"]),
    );
    assert_eq!(run_program(&dir.join("engine")), "41 8\n");
    let report: serde_json::Value = read_json(dir.join("r.json"));
    let modules: Vec<String> = names(&report["modules"]);
    assert_eq!(modules, ["main.o", "b.o"]);
    // Control: as plain objects both are taken, and helper is defined twice.
    let out = clang_in(dir)
        .args(["-flto=thin", "-fuse-ld=lld", &ld, "main.o", "b.o", "c.o"])
        .args(["-o", "eager"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("helper"));
    // With --thinlto-index-only, the file left out gets lld's skip index:
    // every file byte-identical to lld's.
    let index_files = |who: &str| {
        let mut command = clang_in(dir);
        command.args(["-flto=thin", "-fuse-ld=lld"]);
        if who == "eng" {
            command.arg(&ld);
        }
        run_ok(
            command
                .arg("main.o")
                .args(lazy)
                .arg(format!("-Wl,--thinlto-index-only={who}.txt"))
                .arg("-Wl,--thinlto-emit-imports-files")
                .args(["-o", "never"]),
        );
        let mut files = std::collections::BTreeMap::new();
        for name in ["main.o", "b.o", "c.o"] {
            for suffix in ["thinlto.bc", "imports"] {
                let path = dir.join(format!("{name}.{suffix}"));
                files.insert(format!("{name}.{suffix}"), std::fs::read(&path).unwrap());
                std::fs::remove_file(path).unwrap();
            }
        }
        files
    };
    let lld = index_files("lld");
    let eng = index_files("eng");
    assert!(!lld["c.o.thinlto.bc"].is_empty());
    for (name, bytes) in &lld {
        assert!(&eng[name] == bytes, "{name} differs from lld's");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("lld.txt")).unwrap(),
        "main.o\nb.o\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("eng.txt")).unwrap(),
        "main.o\nb.o\n"
    );
}

/// `--save-temps` (and lld's one-dash `-save-temps`) keeps, in
/// `<output>.temps`, every stage's bitcode, each fat partition as code
/// generation got it, and the objects the real link got; the directory need
/// not exist beforehand.
#[test]
fn save_temps_keeps_stages_partitions_and_objects() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(dir, "main.c", MAIN);
    write_file(dir, "helper.c", HELPER);
    let ld = ld_path_arg(dir);
    let listing = |temps: &Path| -> Vec<String> {
        let mut names = Vec::new();
        for entry in walk(temps) {
            names.push(entry.strip_prefix(temps).unwrap().display().to_string());
        }
        names.sort();
        names
    };
    for (kind, flag) in [("fat", "--save-temps"), ("thin", "-save-temps")] {
        let prog = format!("{kind}-prog");
        run_ok(clang_in(dir).args([
            "-flto=thin",
            "-O2",
            "-fuse-ld=lld",
            &ld,
            &format!("-Wl,--lto-engine-kind={kind}"),
            "-Wl,--lto-partitions=2",
            &format!("-Wl,{flag}"),
            "main.c",
            "helper.c",
            "-o",
            &prog,
        ]));
        assert_eq!(run_program(&dir.join(&prog)), "41 8\n");
        let names = listing(&dir.join(format!("{prog}.temps")));
        // clang names its temporary objects main-<random>.o.
        let expected: &[(&str, &str)] = if kind == "fat" {
            &[
                ("lto.input.bc", ""),
                ("lto.after-restriction.bc", ""),
                ("lto.after-opt.bc", ""),
                ("lto.partition.0.bc", ""),
                ("lto.partition.1.bc", ""),
                ("fat/main-", ".o.lto.o"),
                ("fat/main-", ".o.lto.1.o"),
            ]
        } else {
            &[
                ("main-", ".thin-lto-input.bc"),
                ("helper-", ".thin-lto-after-pm.bc"),
                ("thin/main-", ".o.lto.o"),
                ("thin/helper-", ".o.lto.o"),
            ]
        };
        for (start, end) in expected {
            assert!(
                names
                    .iter()
                    .any(|n| n.starts_with(start) && n.ends_with(end)),
                "{kind}: {start}*{end} not in {names:?}"
            );
        }
    }
    // The control: without the option, nothing is kept.
    run_ok(clang_in(dir).args([
        "-flto",
        "-O2",
        "-fuse-ld=lld",
        &ld,
        "main.c",
        "helper.c",
        "-o",
        "plain",
    ]));
    assert!(!dir.join("plain.temps").exists());
}

/// Every file under `root`.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// The linker mode decides what stays visible as lld does (entry point,
/// dynamic exports, what native inputs reference), so it prints none of
/// the session's warnings about a caller's preserved names: a shared
/// object whose version script hides its `main` links without one, and so
/// does a program whose crt objects reference symbols the C library
/// defines. The control: the same bitcode through `lto-engine thin`
/// without preserving `main` warns.
#[test]
fn the_linker_mode_leaves_preserved_names_to_lld() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_file(
        dir,
        "lib.c",
        "int main(void) { return 0; }\nint api(void) { return 1; }\n",
    );
    write_file(dir, "exports.map", "{\n  global: api;\n  local: *;\n};\n");
    write_file(dir, "main.c", MAIN);
    write_file(dir, "helper.c", HELPER);
    let ld = ld_path_arg(dir);
    for args in [
        vec![
            "-fPIC",
            "-shared",
            "lib.c",
            "-Wl,--version-script=exports.map",
            "-o",
            "lib.so",
        ],
        vec!["main.c", "helper.c", "-o", "prog"],
    ] {
        let out = clang_in(dir)
            .args(["-flto=thin", "-O2", "-fuse-ld=lld", &ld])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(!stderr.contains("warning"), "{args:?}: {stderr}");
    }
    assert_eq!(run_program(&dir.join("prog")), "41 8\n");

    run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", "lib.c", "-o", "lib.o"]));
    let out = Command::new(env!("CARGO_BIN_EXE_lto-engine"))
        .current_dir(dir)
        .args(["thin", "lib.o", "--export", "api", "-o", "out"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: lib.o: `main` is defined but not preserved"),
        "{stderr}"
    );
}
