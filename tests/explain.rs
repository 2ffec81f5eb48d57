//! `explain`: what the run decided about a symbol, and why. Each answer is
//! checked on a program made to produce it, next to its control (the same
//! program changed so that the other answer comes out); LLVM's import
//! reasons are checked against `ld.lld-22 -mllvm -print-import-failures`
//! on Lua, and the answers on a Rust crate graph come from a warm cache
//! without compiling.

mod common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// A function `name` of about `2 * ops` IR instructions (a volatile load
/// and an xor each), with `attributes` before it.
fn sized_function(name: &str, ops: usize, attributes: &str) -> String {
    let mut text = format!("volatile int v_{name};\n{attributes} int {name}(int x) {{\n");
    for _ in 0..ops {
        text.push_str(&format!("  x ^= v_{name};\n"));
    }
    text.push_str("  return x;\n}\n");
    text
}

/// Writes each `(file, source)` into `dir` and compiles it with
/// `clang-22 -flto=thin -O2 -c`; the objects' names, in order.
fn compile_all(dir: &Path, sources: &[(&str, &str)]) -> Vec<String> {
    sources
        .iter()
        .map(|(file, text)| {
            write_file(dir, file, text);
            let object = format!("{}.o", file.rsplit_once('.').unwrap().0);
            let compiler = if file.ends_with(".cpp") {
                CLANGXX
            } else {
                CLANG
            };
            run_ok(Command::new(compiler).current_dir(dir).args([
                "-flto=thin",
                "-O2",
                "-c",
                file,
                "-o",
                &object,
            ]));
            object
        })
        .collect()
}

/// `lto-engine <mode> OBJECTS --export main --explain SYMBOL --explain-json`
/// in `dir` (plus `extra`): the explanations printed.
fn explain_run(
    dir: &Path,
    mode: &str,
    objects: &[String],
    symbol: &str,
    extra: &[&str],
) -> Vec<Value> {
    let out_dir = dir.join(format!("out-{mode}"));
    let _ = std::fs::remove_dir_all(&out_dir);
    let output = if mode == "fat" {
        dir.join("fat.o").display().to_string()
    } else {
        out_dir.display().to_string()
    };
    let out = run_ok(
        engine()
            .current_dir(dir)
            .arg(mode)
            .args(objects)
            .args([
                "--export",
                "main",
                "-o",
                &output,
                "--explain",
                symbol,
                "--explain-json",
            ])
            .args(extra),
    );
    let parsed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout)));
    parsed.as_array().unwrap().clone()
}

/// The one explanation of `symbol` in a thin run.
fn explain(dir: &Path, objects: &[String], symbol: &str) -> Value {
    let all = explain_run(dir, "thin", objects, symbol, &[]);
    assert_eq!(all.len(), 1, "one symbol matches {symbol}: {all:#?}");
    all[0].clone()
}

/// What `module` did about importing the explained symbol.
fn import_of<'a>(explanation: &'a Value, module: &str) -> &'a Value {
    explanation["imports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["module"] == module)
        .unwrap_or_else(|| panic!("no import decision for {module}: {explanation:#}"))
        .get("outcome")
        .unwrap()
}

const CALLS_TARGET: &str =
    "#include <stdio.h>\nint target(int);\nint main(void) { printf(\"%d\\n\", target(41)); return 0; }\n";

/// A fresh directory per case.
fn case(root: &Path, name: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn import_reasons_each_with_a_control() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let rejected = |explanation: &Value, reason: &str, threshold: u64| {
        let outcome = import_of(explanation, "main.o");
        assert_eq!(outcome["outcome"], "rejected", "{explanation:#}");
        assert_eq!(outcome["reason"], reason, "{explanation:#}");
        assert_eq!(outcome["threshold"], threshold, "{explanation:#}");
        outcome["size"].as_u64().unwrap()
    };
    let imported = |explanation: &Value| {
        let outcome = import_of(explanation, "main.o");
        assert_eq!(outcome["outcome"], "imported", "{explanation:#}");
        assert_eq!(outcome["from"], "b.o", "{explanation:#}");
    };

    // Too large for the threshold (100), with both numbers; control: small.
    let dir = case(root, "too-large");
    let big = sized_function("target", 60, "");
    let objects = compile_all(&dir, &[("main.c", CALLS_TARGET), ("b.c", &big)]);
    let size = rejected(&explain(&dir, &objects, "target"), "TooLarge", 100);
    assert!(size > 100, "size {size}");
    let dir = case(root, "too-large-control");
    let small = sized_function("target", 5, "");
    let objects = compile_all(&dir, &[("main.c", CALLS_TARGET), ("b.c", &small)]);
    let explanation = explain(&dir, &objects, "target");
    imported(&explanation);
    // Imported and inlined: no out-of-line copy needed in main.o.
    let inlined = explanation["inlining"].as_array().unwrap();
    assert!(
        inlined
            .iter()
            .any(|s| s["module"] == "main.o" && s["caller"] == "main" && s["inlined"] == true),
        "{explanation:#}"
    );

    // The threshold decays along a chain of imports (100, then 70): a
    // function of about 80 instructions is too large behind an imported
    // caller; control: called directly, it is imported.
    let dir = case(root, "chain");
    let middle = "int target(int);\nint middle(int x) { return target(x) + 1; }\n";
    let main = "#include <stdio.h>\nint middle(int);\nint main(void) { printf(\"%d\\n\", middle(41)); return 0; }\n";
    let eighty = sized_function("target", 40, "");
    let objects = compile_all(&dir, &[("main.c", main), ("b.c", middle), ("c.c", &eighty)]);
    let explanation = explain(&dir, &objects, "target");
    let size = rejected(&explanation, "TooLarge", 70);
    assert!((71..=100).contains(&size), "size {size}");
    let dir = case(root, "chain-control");
    let objects = compile_all(&dir, &[("main.c", CALLS_TARGET), ("c.c", &eighty)]);
    let outcome = import_of(&explain(&dir, &objects, "target"), "main.o").clone();
    assert_eq!(outcome["outcome"], "imported", "{outcome:#}");

    // noinline; control: without it.
    let dir = case(root, "noinline");
    let objects = compile_all(
        &dir,
        &[
            ("main.c", CALLS_TARGET),
            (
                "b.c",
                &sized_function("target", 5, "__attribute__((noinline))"),
            ),
        ],
    );
    let explanation = explain(&dir, &objects, "target");
    rejected(&explanation, "NoInline", 100);
    // Not inlined anywhere: its out-of-line copy stays, in b.o, with a size.
    let copies = explanation["out_of_line"].as_array().unwrap();
    assert!(
        copies.iter().any(|c| c["module"] == "b.o"
            && c["symbol"] == "target"
            && c["size"].as_u64().unwrap() > 0),
        "{explanation:#}"
    );
    let dir = case(root, "noinline-control");
    let objects = compile_all(&dir, &[("main.c", CALLS_TARGET), ("b.c", &small)]);
    imported(&explain(&dir, &objects, "target"));

    // Interposable (weak); control: strong (above).
    let dir = case(root, "weak");
    let objects = compile_all(
        &dir,
        &[
            ("main.c", CALLS_TARGET),
            ("b.c", &sized_function("target", 5, "__attribute__((weak))")),
        ],
    );
    rejected(
        &explain(&dir, &objects, "target"),
        "InterposableLinkage",
        100,
    );

    // Not eligible: it uses a local in llvm.used, which cannot be promoted;
    // control: the same local without `used`.
    let dir = case(root, "not-eligible");
    let used = "static int counter __attribute__((used));\nint target(int x) { counter += x; return x + counter; }\n";
    let objects = compile_all(&dir, &[("main.c", CALLS_TARGET), ("b.c", used)]);
    rejected(&explain(&dir, &objects, "target"), "NotEligible", 100);
    let dir = case(root, "not-eligible-control");
    let plain = "static int counter;\nint target(int x) { counter += x; return x + counter; }\n";
    let objects = compile_all(&dir, &[("main.c", CALLS_TARGET), ("b.c", plain)]);
    imported(&explain(&dir, &objects, "target"));

    // Only its address is taken: LLVM imports for calls; control: a call.
    let dir = case(root, "address");
    let address = "#include <stdio.h>\nint target(int);\nint (*volatile pointer)(int) = target;\n\
                   int main(void) { printf(\"%d\\n\", pointer(41)); return 0; }\n";
    let objects = compile_all(&dir, &[("main.c", address), ("b.c", &small)]);
    assert_eq!(
        import_of(&explain(&dir, &objects, "target"), "main.o")["outcome"],
        "not_called"
    );
}

#[test]
fn visibility_liveness_and_prevailing_each_with_a_control() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let main = "#include <stdio.h>\nint run(int);\nint api(int);\n\
                int main(void) { printf(\"%d\\n\", run(41) + api(1)); return 0; }\n";
    // `helper` is b.c's alone (`run` is not imported): internalized;
    // `unused` is dead; `api` is imported into main.o and calls the static
    // `secret`, which is then promoted under a new name; the chain to
    // `helper` runs from main.
    let b = "__attribute__((noinline)) int helper(int x) { return x * 3; }\n\
             int unused(int x) { return x - 1; }\n\
             static __attribute__((noinline)) int secret(int x) { return x + 7; }\n\
             int api(int x) { return secret(x); }\n\
             __attribute__((noinline)) int run(int x) { return helper(x); }\n";
    let dir = case(root, "visibility");
    let objects = compile_all(&dir, &[("main.c", main), ("b.c", b)]);
    let helper = explain(&dir, &objects, "helper");
    assert_eq!(helper["outcome"], "internalized", "{helper:#}");
    assert_eq!(helper["live"], true);
    let chain: Vec<&str> = helper["live_chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(chain, ["main", "run", "helper"], "{helper:#}");
    assert_eq!(helper["live_root"], "preserved");
    let unused = explain(&dir, &objects, "unused");
    assert_eq!(unused["outcome"], "dropped", "{unused:#}");
    assert_eq!(unused["live"], false);
    assert_eq!(unused["live_chain"].as_array().unwrap().len(), 0);
    assert!(
        unused["out_of_line"].as_array().unwrap().is_empty(),
        "{unused:#}"
    );
    let secret = explain(&dir, &objects, "secret");
    assert_eq!(secret["outcome"], "promoted", "{secret:#}");
    let renamed = secret["final_name"].as_str().unwrap();
    assert!(renamed.starts_with("secret.llvm."), "{secret:#}");
    // Its out-of-line copy is under the new name.
    assert!(
        secret["out_of_line"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["symbol"] == renamed),
        "{secret:#}"
    );

    // Controls: preserved, `helper` stays visible because the caller said
    // so; `unused`, preserved, is live from itself; with `api` not
    // importable, `secret` stays local.
    let kept = explain_run(
        &dir,
        "thin",
        &objects,
        "helper",
        &["--export", "helper", "--export", "unused"],
    );
    assert_eq!(kept[0]["outcome"], "kept visible", "{:#}", kept[0]);
    assert_eq!(kept[0]["kept_because"][0], "preserved");
    let live = explain_run(&dir, "thin", &objects, "unused", &["--export", "unused"]);
    assert_eq!(live[0]["live"], true, "{:#}", live[0]);
    assert_eq!(live[0]["live_chain"][0], "unused");
    let dir = case(root, "visibility-control");
    let b_noinline = b.replace("int api(int x)", "__attribute__((noinline)) int api(int x)");
    let objects = compile_all(&dir, &[("main.c", main), ("b.c", &b_noinline)]);
    let secret = explain(&dir, &objects, "secret");
    assert_eq!(secret["outcome"], "local", "{secret:#}");
    assert!(secret["final_name"].is_null());

    // Prevailing copies: strong over weak; control: two weak copies, the
    // first in link order.
    let weak = "__attribute__((weak)) int run(int x) { return x; }\nint api(int x) { return x; }\n";
    let strong = "int run(int x) { return x + 1; }\n";
    let dir = case(root, "prevailing");
    let objects = compile_all(&dir, &[("main.c", main), ("a.c", weak), ("b.c", strong)]);
    let run = explain(&dir, &objects, "run");
    assert_eq!(run["prevailing"]["module"], "b.o", "{run:#}");
    assert_eq!(run["prevailing"]["reason"], "strong over weak");
    let dir = case(root, "prevailing-control");
    let weak_b = "__attribute__((weak)) int run(int x) { return x; }\n";
    let objects = compile_all(&dir, &[("main.c", main), ("a.c", weak), ("b.c", weak_b)]);
    let run = explain(&dir, &objects, "run");
    assert_eq!(run["prevailing"]["module"], "a.o", "{run:#}");
    assert_eq!(run["prevailing"]["reason"], "first in link order");
    let copies = run["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 3, "{run:#}");
    assert_eq!(copies[0]["defined"], false);
    assert_eq!(copies[1]["linkage"], "weak");
}

#[test]
fn cxx_names_demangled_and_each_module_with_its_own_copy() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    // An inline function in a header: each module has its own linkonce_odr
    // copy in a comdat, so neither imports it.
    let header = "namespace ns { inline int target(int x) { return x * 2 + 1; } }\n";
    let main = "#include <cstdio>\n#include \"t.h\"\nint use_b(int);\n\
                int main() { int r; [[clang::noinline]] r = ns::target(20); std::printf(\"%d\\n\", r + use_b(1)); }\n";
    let b = "#include \"t.h\"\nint use_b(int x) { int r; [[clang::noinline]] r = ns::target(x); return r; }\n";
    write_file(dir, "t.h", header);
    let objects = compile_all(dir, &[("main.cpp", main), ("b.cpp", b)]);
    let all = explain_run(dir, "thin", &objects, "ns::target", &[]);
    assert_eq!(all.len(), 1, "{all:#?}");
    let target = &all[0];
    assert_eq!(target["symbol"], "_ZN2ns6targetEi");
    assert_eq!(target["demangled"], "ns::target(int)");
    let copies = target["copies"].as_array().unwrap();
    assert!(
        copies.iter().all(|c| c["defined"] == true
            && c["linkage"] == "linkonce_odr"
            && c["comdat"] == "_ZN2ns6targetEi"),
        "{target:#}"
    );
    assert_eq!(target["prevailing"]["reason"], "first in link order");
    assert_eq!(import_of(target, "b.o")["outcome"], "defined_here");
    // The call sites marked noinline say so in the inliner's remarks.
    assert!(
        target["inlining"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["inlined"] == false && s["remark"] == "NeverInline"),
        "{target:#}"
    );
}

#[test]
fn fat_lto_says_internalized_and_which_partition() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let b = format!(
        "{}int other(int x) {{ return x + 2; }}\n",
        sized_function("target", 60, "__attribute__((noinline))")
    );
    let main = "#include <stdio.h>\nint target(int);\nint other(int);\n\
                int main(int argc, char **argv) { printf(\"%d\\n\", target(41) + other(argc)); return 0; }\n";
    let objects = compile_all(dir, &[("main.c", main), ("b.c", &b)]);
    let all = explain_run(dir, "fat", &objects, "target", &["--lto-partitions", "2"]);
    let target = &all[0];
    assert_eq!(target["fat_lto"], true);
    assert_eq!(target["outcome"], "internalized", "{target:#}");
    assert!(target["imports"].as_array().unwrap().is_empty());
    assert!(target["partition"].as_u64().is_some(), "{target:#}");
    assert_eq!(target["live_chain"][0], "main");
    // `other` is inlined into main and no copy remains; control: preserved,
    // `target` keeps its visibility.
    let other = &explain_run(dir, "fat", &objects, "other", &[])[0];
    assert!(
        other["inlining"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["caller"] == "main" && s["inlined"] == true),
        "{other:#}"
    );
    assert!(
        other["out_of_line"].as_array().unwrap().is_empty(),
        "{other:#}"
    );
    let kept = &explain_run(dir, "fat", &objects, "target", &["--export", "target"])[0];
    assert_eq!(kept["outcome"], "kept visible", "{kept:#}");
}

/// One rejected import as `-print-import-failures` prints it: (importing
/// module, callee, reason, threshold, size).
type Failure = (String, String, String, u64, u64);

/// lld's rejected imports and imports (importer stem, name, source stem)
/// from its stderr under `-print-import-failures -print-imports`.
fn llds_decisions(stderr: &str) -> (BTreeSet<Failure>, BTreeSet<(String, String, String)>) {
    let stem = |path: &str| {
        let file = path.rsplit('/').next().unwrap();
        file.rsplit_once('.')
            .map_or(file, |(stem, _)| stem)
            .to_string()
    };
    let mut failures = BTreeSet::new();
    let mut imports = BTreeSet::new();
    let mut module = String::new();
    for line in stderr.lines() {
        if let Some(name) = line.strip_prefix("Missed imports into module ") {
            module = name.to_string();
        } else if let Some((head, rest)) = line.split_once("): Reason = ") {
            let Some((_, name)) = head.split_once(" (") else {
                continue;
            };
            let fields: BTreeMap<&str, &str> =
                std::iter::once(("Reason", rest.split(',').next().unwrap()))
                    .chain(rest.split(", ").filter_map(|f| f.split_once(" = ")))
                    .collect();
            if fields["Reason"] == "None" {
                continue;
            }
            failures.insert((
                module.clone(),
                name.to_string(),
                fields["Reason"].to_string(),
                fields["Threshold"].parse().unwrap(),
                fields["Size"].parse().unwrap(),
            ));
        } else if let Some((importer, rest)) = line.split_once(": Import ") {
            if let Some((name, source)) = rest.rsplit_once(" from ") {
                imports.insert((stem(importer), name.to_string(), stem(source)));
            }
        }
    }
    (failures, imports)
}

/// On Lua (33 modules): every import LLVM rejected, with its reason,
/// threshold and size, is what `ld.lld-22 -mllvm -print-import-failures`
/// prints for the same objects, and every import it made is one lld made.
#[test]
fn import_reasons_equal_llds_on_lua() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let objects = compile_lua(root);
    // Two links: LLVM prints the failures to its debug stream and the
    // imports to stderr, which interleave mid-line in one run, as the
    // lines of backends on several threads do.
    let lld = |option: &str| {
        let out = run_ok(
            clang_in(root)
                .args(["-flto=thin", "-fuse-ld=lld", "-O2"])
                .args(&objects)
                .args(["-lm", "-ldl", "-o", "lua-lld"])
                .arg(format!("-Wl,-mllvm,{option}"))
                // One backend thread: each backend prints its imports.
                .arg("-Wl,--thinlto-jobs=1"),
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let (failures, _) = llds_decisions(&lld("-print-import-failures"));
    let (_, imports) = llds_decisions(&lld("-print-imports"));
    assert!(
        failures.len() > 50,
        "lld rejected few imports: {failures:?}"
    );
    let asked: BTreeSet<&str> = failures
        .iter()
        .map(|f| f.1.as_str())
        .chain(imports.iter().map(|i| i.1.as_str()))
        .filter(|name| !name.contains(".llvm."))
        .collect();
    let mut command = engine();
    command.current_dir(root).arg("thin").args(&objects).args([
        "--export",
        "main",
        "-o",
        "out",
        "--explain-json",
    ]);
    for name in &asked {
        command.args(["--explain", name]);
    }
    let out = run_ok(&mut command);
    let explanations: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut engine_failures = BTreeSet::new();
    let mut engine_imports = BTreeSet::new();
    for explanation in explanations
        .iter()
        .filter(|e| asked.contains(e["query"].as_str().unwrap()))
    {
        // Explained by the exact name asked: statics of the same name in
        // two modules come out once each.
        let name = explanation["symbol"].as_str().unwrap().to_string();
        for decision in explanation["imports"].as_array().unwrap() {
            let module = decision["module"].as_str().unwrap().to_string();
            let outcome = &decision["outcome"];
            match outcome["outcome"].as_str().unwrap() {
                "rejected" => {
                    engine_failures.insert((
                        module,
                        name.clone(),
                        outcome["reason"].as_str().unwrap().to_string(),
                        outcome["threshold"].as_u64().unwrap(),
                        outcome["size"].as_u64().unwrap(),
                    ));
                }
                "imported" => {
                    let stem = |path: &str| {
                        path.trim_start_matches("lua/")
                            .trim_end_matches(".o")
                            .to_string()
                    };
                    engine_imports.insert((
                        stem(&module),
                        name.clone(),
                        stem(outcome["from"].as_str().unwrap()),
                    ));
                }
                "unexplained" => panic!("no reason for {name} in {module}: {explanation:#}"),
                _ => {}
            }
        }
    }
    let missing: Vec<_> = failures.difference(&engine_failures).collect();
    let extra: Vec<_> = engine_failures.difference(&failures).collect();
    assert!(missing.is_empty() && extra.is_empty(), "rejections lld has and the engine lacks: {missing:#?}\nthe engine has and lld lacks: {extra:#?}");
    // lld lists imported variables and functions alike; so does explain.
    // Imported locals lld names as promoted (`.str.1.llvm.<hash>`), a name
    // of its module identifiers' hash: compared by the others.
    let missing: Vec<_> = imports
        .iter()
        .filter(|(_, name, _)| !name.contains(".llvm."))
        .filter(|i| !engine_imports.contains(i))
        .collect();
    assert!(
        missing.is_empty(),
        "imports lld made that explain does not report: {missing:#?}"
    );
}

/// `clang-22 -###`'s linker command for `args` in `dir`: the arguments
/// after the linker's path.
fn linker_args(dir: &Path, args: &[&str]) -> Vec<String> {
    let out = run_ok(clang_in(dir).arg("-###").args(args));
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text.lines().last().unwrap().trim();
    let words: Vec<String> = line
        .trim_matches('"')
        .split("\" \"")
        .map(|w| w.replace("\\\\", "\\"))
        .collect();
    words[1..].to_vec()
}

/// `main.c` and `b.c` compiled with `-flto=thin`, `native.c` without, and
/// linked by `lto-engine explain --json target ld` with clang's linker
/// command (into `prog`): the explanation of `target`.
fn explain_through_ld(dir: &Path, main: &str, b: &str, native: &str) -> Value {
    let objects = compile_all(dir, &[("main.c", main), ("b.c", b)]);
    write_file(dir, "native.c", native);
    run_ok(clang_in(dir).args(["-O2", "-c", "native.c", "-o", "native.o"]));
    let link = [
        "-flto=thin",
        "-fuse-ld=lld",
        &objects[0],
        &objects[1],
        "native.o",
        "-o",
        "prog",
    ];
    let args = linker_args(dir, &link);
    let out = run_ok(
        engine()
            .current_dir(dir)
            .args(["explain", "--json", "target", "ld"])
            .args(&args),
    );
    let explanations: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    explanations[0].clone()
}

/// In the linker mode, a native object's strong definition over a weak
/// bitcode one is the copy that prevails (lld's rule), and the explanation
/// says so; control: a weak native definition leaves the bitcode copy
/// prevailing.
#[test]
fn the_linker_mode_names_a_native_definition_that_prevails() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let weak = "__attribute__((weak)) int target(int x) { return x; }\n";
    for (case_name, native, native_prevails) in [
        (
            "strong-native",
            "int target(int x) { return x + 1000; }\n",
            true,
        ),
        (
            "weak-native",
            "__attribute__((weak)) int target(int x) { return x + 1000; }\n",
            false,
        ),
    ] {
        let dir = case(root, case_name);
        let target = explain_through_ld(&dir, CALLS_TARGET, weak, native);
        let native_copy = target["copies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["native"] == true);
        assert_eq!(native_copy.unwrap()["module"], "native.o", "{target:#}");
        if native_prevails {
            assert_eq!(target["prevailing"]["module"], "native.o", "{target:#}");
            assert_eq!(target["prevailing"]["reason"], "native definition");
        } else {
            assert_eq!(target["prevailing"]["module"], "b.o", "{target:#}");
        }
        let printed = run_program(&dir.join("prog"));
        assert_eq!(
            printed.trim(),
            if native_prevails { "1041" } else { "41" },
            "{case_name}"
        );
    }
}

/// In the linker mode a bitcode function native code calls stays visible
/// because native code refers to it; control: the same native object
/// without that call, and only the other module's call keeps it visible.
#[test]
fn the_linker_mode_says_native_code_refers_to_it() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let main = "#include <stdio.h>\nint native_entry(int);\nint target(int);\n\
                int main(void) { printf(\"%d\\n\", native_entry(1) + target(2)); return 0; }\n";
    let b = "__attribute__((noinline)) int target(int x) { return x * 10; }\n";
    for (case_name, native, referenced) in [
        (
            "referenced",
            "int target(int);\nint native_entry(int x) { return target(x); }\n",
            true,
        ),
        (
            "not-referenced",
            "int native_entry(int x) { return x; }\n",
            false,
        ),
    ] {
        let dir = case(root, case_name);
        let target = explain_through_ld(&dir, main, b, native);
        if referenced {
            assert_eq!(target["outcome"], "kept visible", "{target:#}");
            assert!(
                target["kept_because"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == "referenced from native code"),
                "{target:#}"
            );
        } else {
            // Still visible, for main.o's call, which it does not import
            // (noinline): but not for native code.
            let reasons = target["kept_because"].as_array().unwrap();
            assert!(
                !reasons.iter().any(|r| r == "referenced from native code"),
                "{target:#}"
            );
            assert!(
                reasons.iter().any(|r| r == "used by another module"),
                "{target:#}"
            );
        }
        let printed = run_program(&dir.join("prog"));
        assert_eq!(
            printed.trim(),
            if referenced { "30" } else { "21" },
            "{case_name}"
        );
    }
}

/// LLVM's import options reach the replay: under `-import-instr-limit=110`
/// the same too-large function is rejected at 110; under `-import-cutoff`,
/// which the replay does not follow, no reason is given rather than a
/// wrong one.
#[test]
fn import_options_are_followed_or_no_reason_is_given() {
    let root = tempfile::tempdir().unwrap();
    let dir = case(root.path(), "options");
    let objects = compile_all(
        &dir,
        &[
            ("main.c", CALLS_TARGET),
            ("b.c", &sized_function("target", 60, "")),
        ],
    );
    let under = |option: &str| {
        let all = explain_run(
            &dir,
            "thin",
            &objects,
            "target",
            &[&format!("--mllvm={option}")],
        );
        import_of(&all[0], "main.o").clone()
    };
    let limit = under("-import-instr-limit=110");
    assert_eq!(limit["outcome"], "rejected", "{limit:#}");
    assert_eq!(limit["threshold"], 110, "{limit:#}");
    let cutoff = under("-import-cutoff=100");
    assert_eq!(cutoff["outcome"], "unexplained", "{cutoff:#}");
}

/// The inliner's decisions the cache keeps beside each object are never
/// stale: after an edit (the callee made `noinline`), a warm run explains
/// what a cold run of the edited program explains; control: before the
/// edit the callee was inlined, so the edit changes the answer.
#[test]
fn cached_inliner_decisions_follow_an_edit() {
    let root = tempfile::tempdir().unwrap();
    let dir = case(root.path(), "edit");
    let cache = dir.join("cache").display().to_string();
    let small = sized_function("target", 5, "");
    let objects = compile_all(&dir, &[("main.c", CALLS_TARGET), ("b.c", &small)]);
    let report = dir.join("report.json").display().to_string();
    let warm = |objects: &[String]| {
        let flags = ["--cache-dir", cache.as_str(), "--report", report.as_str()];
        explain_run(&dir, "thin", objects, "target", &flags)[0]["inlining"].clone()
    };
    let before = warm(&objects);
    assert!(
        before
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["inlined"] == true),
        "{before:#}"
    );
    let edited = sized_function("target", 5, "__attribute__((noinline))");
    let objects = compile_all(&dir, &[("main.c", CALLS_TARGET), ("b.c", &edited)]);
    // Twice: the first run compiles the edited module, the second hits.
    warm(&objects);
    let after = warm(&objects);
    let statuses: Vec<Value> = read_json(&report)["thin"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["cache"]["status"].clone())
        .collect();
    assert!(statuses.iter().all(|s| s == "hit"), "{statuses:?}");
    let cold = explain_run(&dir, "thin", &objects, "target", &[])[0]["inlining"].clone();
    assert_eq!(after, cold);
    assert_ne!(after, before);
}
