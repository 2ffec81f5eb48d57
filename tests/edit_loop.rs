//! The edit loop, differentially: a seeded generator edits a multi-module
//! C program (a function's body, a function added or removed, a constant's
//! initializer, a linkage, an attribute), and after every edit the program
//! the engine links warm (`lto-engine ld` with its cache directory: cached
//! objects, kept symbol tables, remembered thin runs) must print what the
//! program clang builds natively (no LTO) prints. Every relink is also
//! linked by `ld.lld-22` with its own cache, which must agree too, and the
//! modules each recompiled are counted.
//!
//! `EDIT_LOOP_EDITS` sets the number of edits (20 here; `bench/edit-loop.sh`
//! runs 200) and `EDIT_LOOP_SEED` the seed.

mod common;
use common::*;
use std::fmt::Write as _;
use std::path::Path;

/// A small deterministic generator (xorshift64*), so a seed names a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One function: `unsigned NAME(unsigned x)`, computing from `x`, its
/// module's constant and the functions it calls (all earlier in the
/// program's order, so nothing recurses).
#[derive(Clone, Debug)]
struct Function {
    name: String,
    module: usize,
    multiply: u32,
    add: u32,
    calls: Vec<String>,
    /// `static`: called only from its own module.
    local: bool,
    /// Calls one run of it makes, itself included: bounded, so that the
    /// program stays fast however many edits add calls.
    cost: u64,
    noinline: bool,
    pure: bool,
}

/// The program: modules `m0.c` .. and `main.c`, which calls every function
/// that is not local.
struct Program {
    modules: usize,
    constants: Vec<u32>,
    functions: Vec<Function>,
    next_name: usize,
}

impl Program {
    fn new(rng: &mut Rng, modules: usize, functions: usize) -> Program {
        let mut program = Program {
            modules,
            constants: (0..modules).map(|_| rng.below(1000) as u32).collect(),
            functions: Vec::new(),
            next_name: 0,
        };
        for _ in 0..functions {
            program.add_function(rng);
        }
        program
    }

    fn add_function(&mut self, rng: &mut Rng) {
        let module = rng.below(self.modules);
        let name = format!("f{}", self.next_name);
        self.next_name += 1;
        let mut calls = Vec::new();
        let mut cost = 1;
        for _ in 0..rng.below(3) {
            if let Some(callee) = self.callable_from(module, rng) {
                let callee_cost = self.cost_of(&callee);
                if !calls.contains(&callee) && cost + callee_cost <= 1000 {
                    calls.push(callee);
                    cost += callee_cost;
                }
            }
        }
        self.functions.push(Function {
            name,
            module,
            multiply: 1 + rng.below(9) as u32,
            add: rng.below(100) as u32,
            calls,
            local: false,
            cost,
            noinline: rng.below(3) == 0,
            pure: false,
        });
    }

    fn cost_of(&self, name: &str) -> u64 {
        self.functions
            .iter()
            .find(|f| f.name == name)
            .map_or(1, |f| f.cost)
    }

    /// A function a new function in `module` may call: any earlier one
    /// that is not local to another module.
    fn callable_from(&self, module: usize, rng: &mut Rng) -> Option<String> {
        let candidates: Vec<&Function> = self
            .functions
            .iter()
            .filter(|f| !f.local || f.module == module)
            .collect();
        (!candidates.is_empty()).then(|| candidates[rng.below(candidates.len())].name.clone())
    }

    fn called(&self, name: &str) -> bool {
        self.functions
            .iter()
            .any(|f| f.calls.iter().any(|c| c == name))
    }

    /// One random edit; what it did.
    fn edit(&mut self, rng: &mut Rng) -> String {
        loop {
            let i = rng.below(self.functions.len());
            match rng.below(7) {
                0 => {
                    self.functions[i].add = rng.below(100) as u32;
                    return format!("body of {}", self.functions[i].name);
                }
                1 => {
                    self.add_function(rng);
                    return format!("added {}", self.functions.last().unwrap().name);
                }
                2 if self.functions.len() > 4 && !self.called(&self.functions[i].name) => {
                    let removed = self.functions.remove(i);
                    return format!("removed {}", removed.name);
                }
                3 => {
                    let m = rng.below(self.modules);
                    self.constants[m] = rng.below(1000) as u32;
                    return format!("constant of m{m}");
                }
                4 => {
                    // Local only when nothing in another module calls it.
                    let f = &self.functions[i];
                    let callers_elsewhere = self
                        .functions
                        .iter()
                        .any(|g| g.module != f.module && g.calls.contains(&f.name));
                    if f.local || !callers_elsewhere {
                        let f = &mut self.functions[i];
                        f.local = !f.local;
                        return format!("linkage of {} (static: {})", f.name, f.local);
                    }
                }
                5 => {
                    let f = &mut self.functions[i];
                    f.noinline = !f.noinline;
                    return format!("noinline of {}", f.name);
                }
                6 => {
                    let f = &mut self.functions[i];
                    f.pure = !f.pure;
                    return format!("pure of {}", f.name);
                }
                _ => {}
            }
        }
    }

    fn write(&self, dir: &Path) {
        for m in 0..self.modules {
            let mut text = String::new();
            writeln!(text, "const unsigned k{m} = {}u;", self.constants[m]).unwrap();
            for f in &self.functions {
                // Declarations of everything it may call, then its body.
                if f.module == m && !f.local {
                    writeln!(text, "unsigned {}(unsigned);", f.name).unwrap();
                }
            }
            for f in self.functions.iter().filter(|f| f.module == m) {
                for callee in &f.calls {
                    let callee = self.functions.iter().find(|g| g.name == *callee).unwrap();
                    if callee.module != m {
                        writeln!(text, "unsigned {}(unsigned);", callee.name).unwrap();
                    }
                }
                let mut attributes = Vec::new();
                if f.noinline {
                    attributes.push("noinline");
                }
                if f.pure {
                    attributes.push("pure");
                }
                let attributes = if attributes.is_empty() {
                    String::new()
                } else {
                    format!("__attribute__(({})) ", attributes.join(", "))
                };
                let linkage = if f.local { "static " } else { "" };
                let mut body = format!("x * {}u + {}u + k{m}", f.multiply, f.add);
                for callee in &f.calls {
                    write!(body, " + {callee}(x + 1u)").unwrap();
                }
                // A local function must be defined before its callers.
                writeln!(
                    text,
                    "{attributes}{linkage}unsigned {}(unsigned x) {{ return {body}; }}",
                    f.name
                )
                .unwrap();
            }
            std::fs::write(dir.join(format!("m{m}.c")), text).unwrap();
        }
        let mut main = String::from("#include <stdio.h>\n");
        for f in self.functions.iter().filter(|f| !f.local) {
            writeln!(main, "unsigned {}(unsigned);", f.name).unwrap();
        }
        main.push_str("int main(void) {\n");
        for f in self.functions.iter().filter(|f| !f.local) {
            writeln!(main, "  printf(\"{0} %u\\n\", {0}(3u));", f.name).unwrap();
        }
        main.push_str("  return 0;\n}\n");
        std::fs::write(dir.join("main.c"), main).unwrap();
    }

    fn sources(&self) -> Vec<String> {
        (0..self.modules)
            .map(|m| format!("m{m}.c"))
            .chain(["main.c".to_string()])
            .collect()
    }
}

/// Entries in a cache directory that hold objects (`llvmcache-<key>`).
fn object_entries(dir: &Path) -> std::collections::BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Default::default();
    };
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.starts_with("llvmcache-")
                && !name.starts_with("llvmcache-symtab-")
                && !name.starts_with("llvmcache-ldmemo-")
                && !name.starts_with("llvmcache-inline-")
        })
        .collect()
}

#[test]
fn warm_relinks_print_what_native_builds_print_edit_after_edit() {
    let edits: usize = std::env::var("EDIT_LOOP_EDITS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("EDIT_LOOP_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_ef01);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut rng = Rng(seed | 1);
    let mut program = Program::new(&mut rng, 6, 24);
    let ld = ld_path_arg(dir);
    let (mut engine_compiled, mut lld_compiled, mut recalled, mut spared) = (0, 0, 0, 0);
    let (mut previous, mut changed_output) = (String::new(), 0);
    for step in 0..=edits {
        let what = if step == 0 {
            "cold".to_string()
        } else {
            program.edit(&mut rng)
        };
        program.write(dir);
        let sources = program.sources();
        // Natively, no LTO: the reference.
        let mut native = clang_in(dir);
        native.args(["-O2", "-o", "native"]).args(&sources);
        run_ok(&mut native);
        let expected = run_program(&dir.join("native"));
        if step > 0 && expected != previous {
            changed_output += 1;
        }
        previous = expected.clone();
        // The thin bitcode both linkers get.
        for source in &sources {
            run_ok(clang_in(dir).args(["-flto=thin", "-O2", "-c", source]));
        }
        let objects: Vec<String> = sources.iter().map(|s| s.replace(".c", ".o")).collect();
        let mut args = vec![
            "-flto=thin".to_string(),
            "-fuse-ld=lld".to_string(),
            ld.clone(),
            "-Wl,--thinlto-cache-dir=engine-cache".to_string(),
        ];
        args.extend(objects.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let report = link_with_report(dir, &args, "engine");
        let printed = run_program(&dir.join("engine"));
        assert_eq!(
            printed, expected,
            "seed {seed:#x}, edit {step} ({what}): the warm engine link differs from the native build"
        );
        if report["memo"]["hit"] == true {
            recalled += 1;
        } else {
            engine_compiled += report["thin"]["cache"]["misses"].as_u64().unwrap();
            spared += report["thin"]["cache"]["hits_by_finer_key"]
                .as_u64()
                .unwrap();
        }
        let before = object_entries(&dir.join("lld-cache"));
        run_ok(
            clang_in(dir)
                .args([
                    "-flto=thin",
                    "-fuse-ld=lld",
                    "-Wl,--thinlto-cache-dir=lld-cache",
                ])
                .args(&objects)
                .args(["-o", "lld"]),
        );
        lld_compiled += object_entries(&dir.join("lld-cache"))
            .difference(&before)
            .count();
        assert_eq!(
            run_program(&dir.join("lld")),
            expected,
            "seed {seed:#x}, edit {step} ({what}): lld's link differs from the native build"
        );
        eprintln!("edit {step}: {what}");
    }
    eprintln!(
        "edit loop: seed {seed:#x}, {edits} edits, every warm link right; modules compiled: \
         engine {engine_compiled} ({spared} more kept by its finer key), ld.lld-22 \
         {lld_compiled} (new cache entries); thin runs recalled whole: {recalled}"
    );
    // Controls: the edits change what the program prints (a stale object
    // would show), and the caches worked: relinks recompiled less than a
    // cold link of every module each time would have.
    assert!(
        changed_output * 3 >= edits,
        "{changed_output} of {edits} edits changed the output"
    );
    let modules = (program.modules + 1) as u64;
    assert!(
        engine_compiled < modules * (edits as u64 + 1),
        "{engine_compiled} modules compiled in {} links",
        edits + 1
    );
}
