//! Fat LTO: the modules are linked in input order into the first one with
//! one `Linker`, everything not preserved is internalized (the restriction
//! pass), `lto<On>` runs, and the module is split into code generation
//! partitions compiled in parallel (one object each). With more than one
//! partition, the late function passes of `lto<On>` run on the partitions
//! instead of the whole module (`late_passes_cut`).
//!
//! Why the first module and not the costliest, as rustc does: rustc picks the
//! costliest so that it need not serialize and reparse it into a new context;
//! here every module is parsed from bitcode into one context anyway, so the
//! only saving would be one IR move. And the link order is a linker's
//! semantics: the destination keeps its comdats and weak definitions, and
//! its `llvm.global_ctors` entries come first. Linking into a module other
//! than the first gives a C++ program another prevailing copy of each
//! template static data member, and its dynamic initializer then runs at the
//! wrong place, where lld and the native build run it in input order.

use crate::codegen;
use crate::config::{Config, EmitKind, FatLatePasses, FatPartitions};
use crate::error::{Error, Phase, Result};
use crate::input::{parse_error, BitcodeInput};
use crate::jobs::JobSlots;
use crate::llvm::{self, Diagnostic, PipelinePart};
use crate::report::{ModuleReport, PartitionCache, PartitionReport, Report, RunKind, Step};
use crate::stages::{StageName, Stages};
use crate::thin::Lookup;
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// What a fat run produced: the emitted bytes of each code generation
/// partition, the report, and LLVM's warnings and remarks.
pub(crate) struct FatRun {
    /// One object per code generation partition, in partition order.
    pub objects: Vec<Vec<u8>>,
    /// What the run did.
    pub report: Report,
    /// LLVM's warnings and remarks.
    pub diagnostics: Vec<Diagnostic>,
    /// The inliner's decisions on the merged module, kept for `explain`.
    pub inlining: Option<Vec<llvm::InlineDecision>>,
}

/// Runs fat LTO over `modules`, keeping `preserved` visible.
pub(crate) fn run(
    config: &Config,
    modules: &[BitcodeInput],
    preserved: &BTreeSet<String>,
    slots: &JobSlots,
) -> Result<FatRun> {
    let mut report = Report {
        kind: RunKind::Fat,
        preserved: preserved.iter().cloned().collect(),
        ..Report::default()
    };
    let mut diagnostics = Vec::new();
    let context = codegen::module_context(config, false)?;
    let explaining = !config.explain.is_empty();
    if explaining {
        llvm::record_inlining(&context)
            .map_err(|reason| Error::llvm("fat LTO".to_string(), Phase::Optimize, reason))?;
    }
    // lld's regular LTO task: the whole module's remarks (code generation's
    // too when it is one partition) go to the file named.
    let remarks_file = config.opt_remarks.as_ref().map(|r| r.filename.as_path());
    let remarks = codegen::remarks_to(config, &context, remarks_file, "fat LTO")?;
    let optimized = link_and_optimize(
        &context,
        config,
        modules,
        preserved,
        &mut report,
        &mut diagnostics,
    )?;
    drop(remarks);
    let inlining = if explaining {
        Some(
            llvm::take_inlining(&context)
                .map_err(|reason| Error::llvm("fat LTO".to_string(), Phase::Optimize, reason))?,
        )
    } else {
        None
    };
    let objects = match optimized {
        Optimized::Objects(objects) => objects,
        Optimized::Split {
            split,
            triple,
            base_name,
            late_cut,
        } => {
            // The merged module's context (its uniqued metadata, debug
            // info, constants: ripgrep's takes 0.6 s to free) goes on a
            // thread of its own while the partitions start, and its memory
            // goes back to the system as soon as it is free.
            let freeing = llvm::free_in_background(context);
            let compiled = compile_partitions(
                config,
                &triple,
                &split,
                &base_name,
                late_cut,
                &mut report,
                slots,
            );
            if let Some(freeing) = freeing {
                let _ = freeing.join();
            }
            let (objects, partition_diagnostics) = compiled?;
            diagnostics.extend(partition_diagnostics);
            objects
        }
    };
    report.output_bytes = objects.iter().map(Vec::len).sum();
    Ok(FatRun {
        objects,
        report,
        diagnostics,
        inlining,
    })
}

/// The external definitions that the liveness of the modules' summaries
/// finds dead from `preserved`, as lld's regular LTO computes it before
/// merging (`LTO::linkRegularLTO`); none when a module has no summary (lld
/// merges such a module whole).
fn dead_definitions(modules: &[BitcodeInput], preserved: &BTreeSet<String>) -> Vec<String> {
    let mut index = llvm::ThinIndex::new();
    for (k, module) in modules.iter().enumerate() {
        if index.add(&module.bytes, 0, &format!("{k}")).is_err() {
            return Vec::new();
        }
    }
    let roots: Vec<u64> = preserved
        .iter()
        .filter_map(|name| llvm::guid_for_symbol(name).ok())
        .collect();
    index.compute_dead(&roots, false);
    let Ok(definitions) = index.definitions() else {
        return Vec::new();
    };
    let dead: BTreeSet<String> = definitions
        .into_iter()
        .filter(|d| !d.live && d.linkage != llvm::LinkageClass::Local)
        .map(|d| d.name)
        .collect();
    dead.into_iter().collect()
}

/// The merged, optimized module: compiled already (one partition), or
/// split into partitions for [`compile_partitions`].
enum Optimized {
    Objects(Vec<Vec<u8>>),
    Split {
        split: llvm::SplitModule,
        triple: String,
        base_name: String,
        /// Where the late passes of `lto<On>` start, when they run on each
        /// partition.
        late_cut: Option<usize>,
    },
}

/// Parses, links, internalizes and optimizes the modules, then compiles
/// the result (one partition) or splits it: the phases of LLVM's
/// `LTO::runRegularLTO`, each its own step below.
fn link_and_optimize(
    context: &Context,
    config: &Config,
    modules: &[BitcodeInput],
    preserved: &BTreeSet<String>,
    report: &mut Report,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Optimized> {
    let parsed = parse_and_check(config, context, modules, report)?;
    if config.cache.is_some() {
        // With a cache the split places definitions by the input they come
        // from, so that an edit stays in few partitions.
        for module in &parsed {
            llvm::tag_origin(&module.module, &origin_name(&module.name))
                .map_err(|reason| Error::llvm(module.name.clone(), Phase::Link, reason))?;
        }
    }
    if parsed.is_empty() {
        // All inputs are native: `-o` still gets a valid (empty) object so
        // build rules that expect it hold; link.rsp lists only the natives.
        return emit_empty(config, context, report).map(|object| Optimized::Objects(vec![object]));
    }
    let (base_name, base, strong_definitions) =
        link_into_base(context, parsed, report, diagnostics)?;
    if config.opt_remarks.is_some() {
        // lld's notes on what its liveness leaves out of the merged module
        // (here merged whole: the optimizer drops the same code). Its IR
        // symbol table marks the runtime library functions a module
        // defines as used: roots, as for the restriction.
        let roots = with_runtime_functions(config, &base, preserved)?;
        for name in dead_definitions(modules, &roots) {
            llvm::emit_dead_function_remark(&base, &name);
        }
    }
    let stages = Stages::new(config, &base_name, None);
    stages.reached(&base, StageName::LtoInput, Phase::Link)?;
    restrict(
        config,
        &base,
        &base_name,
        preserved,
        &strong_definitions,
        report,
    )?;
    stages.reached(&base, StageName::LtoAfterRestriction, Phase::Restrict)?;

    let triple = codegen::triple_for(config, &base);
    let machine = codegen::target_machine(config, &triple, Some(&base))?;
    if config.target_triple.is_some() {
        codegen::retarget(&base, &machine);
    }
    llvm::drop_unknown_subtarget_names(&base, &machine);
    let planned = report.time(Step::Optimize, || {
        optimize(config, context, &base, &base_name, &machine, &stages)
    })?;
    if planned.late_cut.is_none() {
        stages.reached(&base, StageName::LtoAfterOpt, Phase::Optimize)?;
    }
    diagnostics.extend(llvm::take_diagnostics(context, &base_name));

    if planned.partitions <= 1 {
        let start = Instant::now();
        let bytes = report.time(Step::Codegen, || {
            codegen::emit(&base, &machine, config.emit, &base_name)
        })?;
        llvm::fail_on_error_diagnostics(context, &base_name, Phase::Codegen)?;
        diagnostics.extend(llvm::take_diagnostics(context, &base_name));
        report.fat.partitions = vec![PartitionReport {
            instructions: 0,
            object_bytes: bytes.len(),
            codegen: start.elapsed(),
            ..PartitionReport::default()
        }];
        report.fat.jobs = 1;
        return Ok(Optimized::Objects(vec![bytes]));
    }
    report.fat.late_passes_on_partitions = planned.late_cut.is_some();
    report.fat.late_passes_serial_because = planned.serial_because;
    let partitions = planned.partitions;
    let split = report
        .time(Step::Split, || {
            llvm::split_module(base, partitions, config.cache.is_some())
        })
        .map_err(|reason| {
            Error::llvm(
                base_name.clone(),
                Phase::Codegen,
                format!("splitting into {partitions} partitions: {reason}"),
            )
        })?;
    diagnostics.extend(llvm::take_diagnostics(context, &base_name));
    Ok(Optimized::Split {
        split,
        triple,
        base_name,
        late_cut: planned.late_cut,
    })
}

/// Parses every module, in input order (as a linker: the first weak copy
/// of a symbol prevails, and constructors of equal priority run in this
/// order), and checks each before linking: the verifier (the linker and
/// every pass after it assume valid IR) and one architecture.
fn parse_and_check<'ctx, 'i>(
    config: &Config,
    context: &'ctx Context,
    modules: &'i [BitcodeInput],
    report: &mut Report,
) -> Result<Parsed<'ctx, 'i>> {
    let ordered: Vec<&BitcodeInput> = modules.iter().collect();
    let parsed = report.time(Step::Parse, || parse_all(context, &ordered))?;
    report.time(Step::Verify, || {
        parsed.iter().try_for_each(|module| {
            crate::stages::check_input(config, &module.name, &module.module, None)
        })
    })?;
    if config.target_triple.is_none() {
        crate::input::check_one_target(
            parsed.iter().map(|m| {
                let triple = m.module.get_triple();
                (
                    m.name.as_str(),
                    triple.as_str().to_string_lossy().into_owned(),
                )
            }),
            Phase::Link,
        )?;
    }
    report.modules = parsed
        .iter()
        .map(|module| ModuleReport {
            name: module.name.clone(),
            origin: module.input.origin.to_string(),
            bitcode_bytes: module.input.bytes.as_slice().len(),
            instructions: module.cost,
        })
        .collect();
    Ok(parsed)
}

/// Links every parsed module into the first (the base), verified after:
/// the base's name, the linked module, and the module that brought in each
/// strong definition.
fn link_into_base<'ctx>(
    context: &'ctx Context,
    mut parsed: Parsed<'ctx, '_>,
    report: &mut Report,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<(String, Module<'ctx>, HashMap<String, String>)> {
    let base = parsed.remove(0);
    let (base_name, base) = (base.name, base.module);
    report.base_module = Some(base_name.clone());
    // Diagnostics of the parse are the base's; of each link, the linked
    // module's (a conflicting module flag names the module brought in).
    diagnostics.extend(llvm::take_diagnostics(context, &base_name));
    let (link_diagnostics, strong_definitions) =
        report.time(Step::Link, || link_all(context, &base, parsed))?;
    diagnostics.extend(link_diagnostics);
    base.verify().map_err(|e| {
        Error::llvm(
            base_name.clone(),
            Phase::Link,
            format!(
                "linked module fails verification: {}",
                e.to_string_lossy().trim()
            ),
        )
    })?;
    Ok((base_name, base, strong_definitions))
}

/// The name an input is placed by when partitions follow inputs: its file
/// name (an archive member's `lib.a(member.o)`), so that a build tree
/// moved elsewhere keeps its partitioning.
fn origin_name(module: &str) -> String {
    let member = module.rfind('(').map_or(module.len(), |open| open);
    let start = module[..member].rfind('/').map_or(0, |slash| slash + 1);
    module[start..].to_string()
}

/// The restriction pass: what is not preserved (nor a runtime library
/// function the module defines) becomes internal, after the vcall
/// visibility update that depends on what stays visible.
fn restrict(
    config: &Config,
    base: &Module<'_>,
    base_name: &str,
    preserved: &BTreeSet<String>,
    strong_definitions: &HashMap<String, String>,
    report: &mut Report,
) -> Result<()> {
    let restrict_error = |reason| Error::llvm(base_name.to_string(), Phase::Restrict, reason);
    let preserved = &with_runtime_functions(config, base, preserved)?;
    report.preserved = preserved.iter().cloned().collect();
    let names: Vec<&str> = preserved.iter().map(String::as_str).collect();
    // Before the restriction pass, as LLVM's LTO: what is preserved is what
    // code outside the unit can see.
    llvm::update_vcall_visibility(base, config.whole_program_visibility, &names)
        .map_err(restrict_error)?;
    report.internalized = report
        .time(Step::Restrict, || {
            // As LLVM's LTO does for every prevailing definition (the merged
            // module holds only those): a preserved inline function is
            // emitted even when the pipeline inlines all its calls, since
            // code outside the unit may call it.
            llvm::weaken_linkonce(base, &names)?;
            llvm::internalize(base, &names)
        })
        .map_err(restrict_error)?;
    report.internalized.sort();
    report.fat.internalized_from = report
        .internalized
        .iter()
        .filter_map(|name| Some((name.clone(), strong_definitions.get(name)?.clone())))
        .collect();
    Ok(())
}

/// How the optimized module is compiled: the partition count, and where
/// the late passes start when they run on each partition (with why not,
/// when they could not).
struct CodegenPlan {
    partitions: usize,
    late_cut: Option<usize>,
    serial_because: Option<String>,
}

/// Runs `lto<On>` on the linked module. With partitions, the late passes
/// may run on each partition (see `late_passes_cut`): the pipeline runs up
/// to the cut here and the rest runs after the split, unless the module or
/// the run needs all of it in one piece.
fn optimize(
    config: &Config,
    context: &Context,
    base: &Module<'_>,
    base_name: &str,
    machine: &inkwell::targets::TargetMachine,
    stages: &Stages<'_>,
) -> Result<CodegenPlan> {
    // Remarks to a file: every optimization runs on the whole module, whose
    // context writes them, as lld's do (partitions only generate code).
    let cut = if config.fat_late_passes == FatLatePasses::OnPartitions
        && config.emit != EmitKind::Bitcode
        && config.fat_partitions != FatPartitions::Fixed(1)
        && config.opt_remarks.is_none()
    {
        late_passes_cut(&codegen::lto_pipeline(machine, config, base_name)?)
    } else {
        None
    };
    let part = cut.map_or(PipelinePart::Whole, PipelinePart::BeforeCut);
    codegen::optimize_lto(base, machine, config, base_name, part)?;
    llvm::fail_on_error_diagnostics(context, base_name, Phase::Optimize)?;
    let partitions = if config.emit == EmitKind::Bitcode {
        1
    } else {
        config.fat_partitions.count(llvm::instruction_count(base))
    };
    let (late_cut, serial_because) = match cut {
        Some(cut) if partitions > 1 => late_passes_placement(cut, stages, base),
        _ => (None, None),
    };
    if let (Some(cut), None) = (cut, late_cut) {
        // The late passes on the whole module after all: the two parts in
        // sequence are the whole pipeline.
        let part = PipelinePart::FromCut(cut);
        codegen::optimize_lto(base, machine, config, base_name, part)?;
        llvm::fail_on_error_diagnostics(context, base_name, Phase::Optimize)?;
    }
    Ok(CodegenPlan {
        partitions,
        late_cut,
        serial_because,
    })
}

/// `preserved` and the runtime library functions (`memcpy`, `fmod`,
/// `__divti3`, ... for the module's target) that `module` defines with
/// external linkage. Code generation may call them though no IR does, so
/// LLVM's IR symbol table marks them as used and lld's LTO never
/// internalizes them; dropped as unused, a bitcode definition would leave
/// the calls to the C library's copy.
fn with_runtime_functions(
    config: &Config,
    module: &Module<'_>,
    preserved: &BTreeSet<String>,
) -> Result<BTreeSet<String>> {
    let triple = codegen::triple_for(config, module);
    let libcalls = llvm::runtime_libcall_symbols(&triple).map_err(Error::Config)?;
    let mut all = preserved.clone();
    for name in libcalls {
        let defined = match (module.get_function(&name), module.get_global(&name)) {
            (Some(function), _) => Some(function.as_global_value()),
            (None, Some(global)) => Some(global),
            (None, None) => None,
        }
        .is_some_and(|value| {
            !value.is_declaration()
                && !matches!(value.get_linkage(), Linkage::Internal | Linkage::Private)
        });
        if defined {
            all.insert(name);
        }
    }
    Ok(all)
}

/// Where the late passes from `cut` run once the module is known to be
/// split: on the partitions (`Some(cut)`), or on the whole module with the
/// reason why.
fn late_passes_placement(
    cut: usize,
    stages: &Stages<'_>,
    module: &Module<'_>,
) -> (Option<usize>, Option<String>) {
    if stages.active() {
        let reason = "a stage hook, save-temps or verify looks at the optimized module";
        return (None, Some(reason.to_string()));
    }
    match llvm::whole_module_late_passes(module) {
        Some(reason) => (None, Some(reason)),
        None => (Some(cut), None),
    }
}

/// Module passes that may run on a partition as well as on the whole
/// module, at the end of `lto<On>`: each works on what the partition
/// defines, given the conditions `llvm::whole_module_late_passes` checks
/// (no type tests for `lowertypetests`, no virtual function elimination
/// for `globaldce`, no allocation tokens for `alloc-token`).
const PARTITION_SAFE_MODULE_PASSES: &[&str] = &[
    "lowertypetests",
    "elim-avail-extern",
    "globaldce",
    "rel-lookup-table-converter",
    "cg-profile",
    "coro-cleanup",
    "alloc-token",
    "verify",
];

/// Where the late passes of the pipeline `passes` (top-level, as
/// `codegen::lto_pipeline` lists them) start: after the last pass that
/// needs the whole program. From there on, every pass is a function pass
/// (which by the pass manager's contract changes only the function it runs
/// on) or one of [`PARTITION_SAFE_MODULE_PASSES`]. `None` when no real
/// function pass is among them (`lto<O1>`, whose tail is clean-up only):
/// then there is nothing worth running in parallel.
fn late_passes_cut(passes: &[String]) -> Option<usize> {
    let partition_safe = |pass: &str| {
        let name = pass.split(['<', '(']).next().unwrap_or(pass);
        name == "function" || PARTITION_SAFE_MODULE_PASSES.contains(&name)
    };
    let cut = passes
        .iter()
        .rposition(|pass| !partition_safe(pass))
        .map_or(0, |last| last + 1);
    passes[cut..]
        .iter()
        .any(|pass| pass.starts_with("function") && pass != "function(annotation-remarks)")
        .then_some(cut)
}

/// What one partition gets done to it after parsing, so that what was
/// local before the split is local again or cannot clash, and what other
/// partitions use stays defined.
#[derive(Default)]
struct PartitionRepairs<'a> {
    /// Definitions used in this partition only: local again.
    localize: Vec<(&'a str, llvm::LocalLinkage)>,
    /// Definitions and declarations of locals used across partitions:
    /// renamed to a name no other object can have.
    rename: Vec<&'a str>,
    /// `linkonce` definitions other partitions use: kept through the late
    /// passes, whose dead-global elimination sees no use of them here.
    keep: Vec<&'a str>,
}

/// Compiles each partition of the split module on its own thread, as
/// LLVM's `splitCodeGen`, but the module was written as bitcode once and
/// each partition loads from it, into a context of its own (a context is
/// not thread-safe), only the definitions it holds: LLVM's `SplitModule`
/// clones the module for each partition and writes each clone, serially
/// (on ripgrep 4.4 s for 4 partitions, against 1.2 s for the plan and the
/// one write). Returns the objects in partition order.
///
/// The split makes every local a hidden global so that partitions can
/// refer to each other. Left so, a static function `helper` of a C file
/// would clash with a global `helper` of a native object in the final
/// link, and every local would take a place in the dynamic symbol
/// machinery of the linker. So, per local: used in its own partition only,
/// it is made local again; used from another partition, it keeps hidden
/// visibility under a name with a `.llvm.<hash>` suffix (as ThinLTO's
/// promotion), the hash taken over the split module's bitcode. A local that
/// module-level asm names (the asm stays in partition 0) keeps its name,
/// as with lld.
fn compile_partitions(
    config: &Config,
    triple: &str,
    split: &llvm::SplitModule,
    base_name: &str,
    late_cut: Option<usize>,
    report: &mut Report,
    slots: &JobSlots,
) -> Result<(Vec<Vec<u8>>, Vec<Diagnostic>)> {
    let count = split.members.len();
    let store = PartitionStore::open(config, triple, late_cut, count, report)?;
    // The promoted locals' suffix must be one no other object of the link
    // can have. Without a cache: a hash of the whole split module. With
    // one, it must not change when one function does (every partition
    // naming a promoted local would miss): a hash of the inputs' names,
    // the preserved names and the count (two objects of other programs
    // from inputs so named would meet as a duplicate hidden symbol, an
    // error of the final link, never a silent mix).
    let suffix_source = match &store {
        Some(store) => llvm::sha1(store.run.as_bytes()),
        None => llvm::sha1(split.bitcode.as_bytes()),
    };
    let mut word = [0u8; 8];
    word.copy_from_slice(&suffix_source[..8]);
    let suffix = format!(".llvm.{}", u64::from_le_bytes(word));

    let mut repairs: Vec<PartitionRepairs> =
        (0..count).map(|_| PartitionRepairs::default()).collect();
    let (mut promoted, mut relocalized, mut kept_names) = (0, 0, 0);
    for local in &split.locals {
        let used_elsewhere = local.used_in.iter().any(|&p| p != local.defined_in);
        if local.named_by_module_asm {
            if local.defined_in == 0 && !used_elsewhere {
                repairs[0].localize.push((&local.name, local.linkage));
                relocalized += 1;
            }
            continue;
        }
        if !used_elsewhere {
            repairs[local.defined_in]
                .localize
                .push((&local.name, local.linkage));
            relocalized += 1;
        } else if report.internalized.binary_search(&local.name).is_ok() {
            // Global in its input, internalized here: the name is the
            // symbol's own in the link, which code outside the unit may
            // name after all (a member the real link loads for a call code
            // generation made, a `DW.ref.<personality>` comdat that must
            // meet its twin). It stays, hidden, as LLVM's `SplitModule`
            // leaves it for lld: no other definition of it can be in the
            // link, since this one prevailed.
            kept_names += 1;
        } else {
            repairs[local.defined_in].rename.push(&local.name);
            for &user in local.used_in.iter().filter(|&&p| p != local.defined_in) {
                repairs[user].rename.push(&local.name);
            }
            promoted += 1;
        }
    }
    for shared in &split.shared {
        repairs[shared.defined_in].keep.push(&shared.name);
    }

    // Largest first, so that the last one to finish is a small one.
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(split.members[i].size));
    let start = Instant::now();
    let (results, run) = slots.run_each(&order, count, "lto-engine-codegen", |i| {
        let started = Instant::now();
        let name = format!("{base_name}#{i}");
        let compiled = codegen_partition(
            config,
            triple,
            split,
            i,
            &name,
            &repairs[i],
            &suffix,
            late_cut,
            store.as_ref(),
        )?;
        let codegen = started.elapsed() - compiled.optimize;
        Ok((compiled, codegen))
    })?;
    report.phases.push((Step::Codegen, start.elapsed()));
    let mut objects = Vec::with_capacity(count);
    let mut diagnostics = Vec::new();
    let mut partitions = Vec::with_capacity(count);
    for (i, result) in results.into_iter().enumerate() {
        let (compiled, codegen) = result.ok_or_else(|| {
            Error::llvm(
                base_name.to_string(),
                Phase::Codegen,
                format!("partition {i} was not compiled"),
            )
        })?;
        partitions.push(PartitionReport {
            instructions: split.members[i].size,
            object_bytes: compiled.object.len(),
            optimize: compiled.optimize,
            codegen,
            cache: compiled.cache,
        });
        objects.push(compiled.object);
        diagnostics.extend(compiled.diagnostics);
    }
    report.fat.partitions = partitions;
    report.fat.jobs = run.workers;
    report.fat.promoted_locals = promoted;
    report.fat.relocalized = relocalized;
    report.fat.shared_internalized = kept_names;
    if let Some(store) = &store {
        // As a thin run does: the policy's interval, expiration and size.
        store.cache.prune()?;
    }
    Ok((objects, diagnostics))
}

/// Parses one partition into a context of its own, repairs its locals, runs
/// the late passes from `late_cut` on it if given, and compiles it. Returns
/// the object, LLVM's diagnostics and the time of the late passes.
#[allow(clippy::too_many_arguments)]
fn codegen_partition(
    config: &Config,
    triple: &str,
    split: &llvm::SplitModule,
    index: usize,
    name: &str,
    repairs: &PartitionRepairs<'_>,
    suffix: &str,
    late_cut: Option<usize>,
    store: Option<&PartitionStore>,
) -> Result<CompiledPartition> {
    let llvm_error = |reason: String| Error::llvm(name.to_string(), Phase::Codegen, reason);
    let context = codegen::module_context(config, true)?;
    // Every partition but the first keeps only the debug info compile
    // units it reaches; should that leave debug info the verifier rejects
    // (a unit reached some other way), it is loaded again with them all.
    let load = |prune_units: bool| {
        load_repaired(&context, split, index, name, repairs, suffix, prune_units)
    };
    let module = match load(index != 0) {
        Err(_) if index != 0 => load(false)?,
        loaded => loaded?,
    };
    if let Some(dir) = &config.save_temps {
        // What code generation compiles, as lld's save-temps keeps each
        // partition (`lto.partition.<i>.bc`, beside `lto.after-opt.bc`).
        crate::fs::write_module(&dir.join(format!("lto.partition.{index}.bc")), &module)?;
    }
    if late_cut.is_some() {
        // Code generation alone drops nothing; the late passes' globaldce
        // would drop a preserved inline function whose callers are all in
        // another partition, leaving them an undefined reference.
        llvm::keep_definitions(&module, &repairs.keep).map_err(llvm_error)?;
    }
    // With a cache: the partition as the rest of the pipeline gets it is
    // the key, with the settings.
    let mut cached = None;
    if let Some(store) = store {
        let bitcode = llvm::ModuleBuffer::new(&module).map_err(llvm_error)?;
        let bitcode = crate::thin::hex(&llvm::blake3(bitcode.as_bytes()));
        let key = store.key(&bitcode);
        let why = match store.cache.lookup(&key) {
            Lookup::Hit(object) => {
                store.remember(index, &bitcode);
                return Ok(CompiledPartition {
                    object,
                    diagnostics: Vec::new(),
                    optimize: Duration::ZERO,
                    cache: Some(PartitionCache::hit(key)),
                });
            }
            Lookup::Corrupt(_) => "its entry is damaged".to_string(),
            Lookup::Missing => store.why_missed(index, &bitcode),
        };
        cached = Some((key, bitcode, why));
    }
    let machine = codegen::target_machine(config, triple, Some(&module))?;
    let mut optimize = Duration::ZERO;
    if let Some(cut) = late_cut {
        let start = Instant::now();
        codegen::optimize_lto(&module, &machine, config, name, PipelinePart::FromCut(cut))?;
        llvm::fail_on_error_diagnostics(&context, name, Phase::Optimize)?;
        optimize = start.elapsed();
    }
    let object = codegen::emit(&module, &machine, config.emit, name)?;
    llvm::fail_on_error_diagnostics(&context, name, Phase::Codegen)?;
    let diagnostics = llvm::take_diagnostics(&context, name);
    let cache = match (store, cached) {
        (Some(store), Some((key, bitcode, why))) => {
            // Best effort: an object that cannot be kept is compiled again.
            let _ = store.cache.store(&key, &object);
            store.remember(index, &bitcode);
            Some(PartitionCache::miss(key, why))
        }
        _ => None,
    };
    Ok(CompiledPartition {
        object,
        diagnostics,
        optimize,
        cache,
    })
}

/// Partition `index` loaded into `context` (with only the compile units it
/// reaches when `prune_units`), its locals repaired, verified.
fn load_repaired<'ctx>(
    context: &'ctx inkwell::context::Context,
    split: &llvm::SplitModule,
    index: usize,
    name: &str,
    repairs: &PartitionRepairs<'_>,
    suffix: &str,
    prune_units: bool,
) -> Result<Module<'ctx>> {
    let llvm_error = |reason: String| Error::llvm(name.to_string(), Phase::Codegen, reason);
    let module = llvm::load_partition(context, split, index, name, prune_units)
        .map_err(|reason| llvm_error(llvm::with_error_text(context, reason)))?;
    for (local, linkage) in &repairs.localize {
        llvm::localize_definition(&module, local, *linkage).map_err(llvm_error)?;
    }
    for local in &repairs.rename {
        llvm::rename_global(&module, local, &format!("{local}{suffix}")).map_err(llvm_error)?;
    }
    // The split and the repairs are this crate's own changes to the IR: a
    // partition they left invalid is refused rather than compiled.
    module.verify().map_err(|e| {
        llvm_error(format!(
            "partition fails verification after the split: {}",
            e.to_string_lossy().trim()
        ))
    })?;
    Ok(module)
}

/// One partition's object, LLVM's diagnostics, the time of its late
/// passes, and what the cache did.
struct CompiledPartition {
    object: Vec<u8>,
    diagnostics: Vec<Diagnostic>,
    optimize: Duration,
    cache: Option<PartitionCache>,
}

/// The fat partition cache of a run (with `Config::cache`): each
/// partition's object under the BLAKE3 of its bitcode as the late passes
/// and code generation get it (after the split's repairs) and of every
/// setting that changes code, in the thin cache's directory and format
/// (entries written whole, checked, pruned). A record per partition of
/// this partitioning (`fatrec-...`) remembers the last bitcode and
/// settings, to say why a partition missed.
struct PartitionStore {
    cache: crate::thin::Cache,
    /// Every setting that changes what a partition compiles to.
    settings: String,
    /// This partitioning across runs: the inputs' names, the preserved
    /// names, the count.
    run: String,
}

/// Bumped when what a partition's key covers changes.
const PARTITION_KEY_FORMAT: u32 = 1;

impl PartitionStore {
    fn open(
        config: &Config,
        triple: &str,
        late_cut: Option<usize>,
        count: usize,
        report: &Report,
    ) -> Result<Option<PartitionStore>> {
        let Some(cache) = &config.cache else {
            return Ok(None);
        };
        let cache = crate::thin::Cache::open(cache)?;
        let keyed = crate::thin::KeyConfig::new(config);
        let settings = format!(
            "fat partition {PARTITION_KEY_FORMAT}\n{:?}\n{}\ntriple {triple}\nlate passes from {late_cut:?} of {}",
            keyed.settings,
            keyed.extra,
            config.opt_level.pipeline("lto"),
        );
        let mut run = format!("partitions {count}\n");
        for module in &report.modules {
            run.push_str(&format!("module {:?}\n", module.name));
        }
        for name in &report.preserved {
            run.push_str(&format!("preserve {name:?}\n"));
        }
        Ok(Some(PartitionStore {
            cache,
            settings,
            run,
        }))
    }

    fn key(&self, bitcode: &str) -> String {
        let text = format!("{}\nbitcode {bitcode}", self.settings);
        crate::thin::hex(&llvm::blake3(text.as_bytes()))
    }

    fn record_key(&self, index: usize) -> String {
        let text = format!("{}partition {index}", self.run);
        format!(
            "fatrec-{}",
            crate::thin::hex(&llvm::blake3(text.as_bytes()))
        )
    }

    fn settings_digest(&self) -> String {
        crate::thin::hex(&llvm::blake3(self.settings.as_bytes()))
    }

    /// Why partition `index`, whose bitcode hashes to `bitcode`, has no
    /// entry, from the record of its last run.
    fn why_missed(&self, index: usize, bitcode: &str) -> String {
        let Lookup::Hit(record) = self.cache.peek(&self.record_key(index)) else {
            return "no earlier run of this partitioning".to_string();
        };
        let record: Option<(String, String)> = serde_json::from_slice(&record).ok();
        match record {
            Some((settings, _)) if settings != self.settings_digest() => {
                "the settings changed".to_string()
            }
            Some((_, previous)) if previous != bitcode => "its code changed".to_string(),
            Some(_) => "its entry is missing".to_string(),
            None => "no earlier run of this partitioning".to_string(),
        }
    }

    /// Records what partition `index` was in this run. Best effort.
    fn remember(&self, index: usize, bitcode: &str) {
        let record = (self.settings_digest(), bitcode.to_string());
        if let Ok(json) = serde_json::to_vec(&record) {
            let _ = self.cache.store(&self.record_key(index), &json);
        }
    }
}

/// A module parsed for the link, with its cost and the input it came from.
struct ParsedModule<'ctx, 'i> {
    name: String,
    module: Module<'ctx>,
    cost: u64,
    input: &'i BitcodeInput,
}

/// The output of a run with no bitcode: an empty object for the host or
/// `--target` triple.
fn emit_empty(config: &Config, context: &Context, report: &mut Report) -> Result<Vec<u8>> {
    let module = context.create_module("lto.empty");
    let triple = codegen::triple_for(config, &module);
    let machine = codegen::target_machine(config, &triple, None)?;
    codegen::retarget(&module, &machine);
    let bytes = report.time(Step::Codegen, || {
        codegen::emit(&module, &machine, config.emit, "lto.empty")
    })?;
    Ok(bytes)
}

type Parsed<'ctx, 'i> = Vec<ParsedModule<'ctx, 'i>>;

/// Parses every module of every input (a file may hold several), in order.
fn parse_all<'ctx, 'i>(
    context: &'ctx Context,
    ordered: &[&'i BitcodeInput],
) -> Result<Parsed<'ctx, 'i>> {
    let mut parsed = Vec::with_capacity(ordered.len());
    for input in ordered {
        let data = input.bytes.as_slice();
        let count = llvm::bitcode_module_count(data)
            .map_err(|reason| parse_error(&input.name, data, reason))?;
        if count == 0 {
            return Err(Error::invalid(
                &input.name,
                Phase::Parse,
                "bitcode holds no module",
            ));
        }
        for index in 0..count {
            let name = if index == 0 {
                input.name.clone()
            } else {
                format!("{}#{index}", input.name)
            };
            let module = llvm::parse_bitcode(context, data, &name, index).map_err(|reason| {
                parse_error(&input.name, data, llvm::with_error_text(context, reason))
            })?;
            if !llvm::has_data_layout(&module) {
                return Err(crate::input::no_data_layout(&input.name));
            }
            let cost = llvm::instruction_count(&module);
            parsed.push(ParsedModule {
                name,
                module,
                cost,
                input,
            });
        }
    }
    Ok(parsed)
}

/// Links every parsed module into `base`, in input order; returns the
/// warnings of each link, naming the module linked in, and the module
/// that brought in each strong definition.
fn link_all<'ctx>(
    context: &'ctx Context,
    base: &Module<'ctx>,
    parsed: Parsed<'ctx, '_>,
) -> Result<(Vec<Diagnostic>, HashMap<String, String>)> {
    let mut linker = llvm::FatLinker::new(base);
    let mut diagnostics = Vec::new();
    // Which module brought each strong definition in, so that a symbol
    // defined twice names both modules (LLVM's linker names neither).
    let mut strong: HashMap<String, String> = HashMap::new();
    let base_name = base.get_name().to_string_lossy().into_owned();
    record_strong_definitions(base, &base_name, &mut strong);
    for ParsedModule { name, module, .. } in parsed {
        let mut mine = HashMap::new();
        record_strong_definitions(&module, &name, &mut mine);
        linker.link(context, module).map_err(|reason| {
            let first = mine
                .keys()
                .find(|symbol| reason.contains(&format!("named '{symbol}'")))
                .and_then(|symbol| strong.get(symbol));
            let reason = match first {
                Some(first) => format!("{reason} (also defined in {first})"),
                None => reason,
            };
            Error::Link {
                input: name.clone(),
                reason,
            }
        })?;
        for (symbol, module) in mine {
            strong.entry(symbol).or_insert(module);
        }
        diagnostics.extend(llvm::take_diagnostics(context, &name));
    }
    Ok((diagnostics, strong))
}

/// Adds the names `module` defines strongly (external, not weak, not
/// common) to `strong`, as defined by `name`.
fn record_strong_definitions(
    module: &Module<'_>,
    name: &str,
    strong: &mut HashMap<String, String>,
) {
    let values = module
        .get_functions()
        .map(|f| f.as_global_value())
        .chain(module.get_globals());
    for value in values {
        if !value.is_declaration() && value.get_linkage() == Linkage::External {
            strong
                .entry(value.get_name().to_string_lossy().into_owned())
                .or_insert_with(|| name.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OptLevel;
    use inkwell::memory_buffer::MemoryBuffer;

    /// A loop whose invariant load only the late passes (LICM) hoist, and
    /// a global never stored to that only the early passes (globalopt)
    /// fold into its load.
    const IR: &str = r#"
@k = internal global i64 7
define i64 @sum(ptr %p, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %next, %loop ]
  %acc = phi i64 [ 0, %entry ], [ %add, %loop ]
  %v = load i64, ptr %p
  %m = mul i64 %v, %i
  %add = add i64 %acc, %m
  %next = add i64 %i, 1
  %done = icmp eq i64 %next, %n
  br i1 %done, label %exit, label %loop
exit:
  %k = load i64, ptr @k
  %t = mul i64 %add, %k
  ret i64 %t
}
"#;

    /// The module after running `parts` of `lto<O2>` on it, as text.
    fn optimized(parts: &[PipelinePart]) -> String {
        let config = Config::default();
        let context = Context::create();
        let buffer = MemoryBuffer::create_from_memory_range_copy(IR.as_bytes(), "t");
        let module = context.create_module_from_ir(buffer).unwrap();
        let triple = codegen::triple_for(&config, &module);
        let machine = codegen::target_machine(&config, &triple, Some(&module)).unwrap();
        for &part in parts {
            codegen::optimize_lto(&module, &machine, &config, "t", part).unwrap();
        }
        module.print_to_string().to_string()
    }

    fn cut_at(level: OptLevel) -> (Vec<String>, Option<usize>) {
        let config = Config {
            opt_level: level,
            ..Config::default()
        };
        let context = Context::create();
        let module = context.create_module("t");
        let triple = codegen::triple_for(&config, &module);
        let machine = codegen::target_machine(&config, &triple, None).unwrap();
        let passes = codegen::lto_pipeline(&machine, &config, "t").unwrap();
        let cut = late_passes_cut(&passes);
        (passes, cut)
    }

    /// The late passes start at LLVM 22's main function simplification
    /// (LICM, GVN, unrolling, vectorizers), right after the last CGSCC pass.
    #[test]
    fn the_late_passes_start_after_the_last_whole_program_pass() {
        for level in [OptLevel::O2, OptLevel::O3, OptLevel::Os, OptLevel::Oz] {
            let (passes, cut) = cut_at(level);
            let cut = cut.unwrap_or_else(|| panic!("no cut at {level:?}: {passes:?}"));
            assert!(
                passes[cut].starts_with("function<eager-inv>(loop-mssa(licm"),
                "{level:?}: {}",
                passes[cut]
            );
            assert!(passes[cut - 1].starts_with("cgscc("), "{}", passes[cut - 1]);
            assert!(passes[..cut].iter().any(|p| p == "wholeprogramdevirt"));
        }
        // lto<O1> has no late function passes to move.
        assert_eq!(cut_at(OptLevel::O1).1, None);
        // A pass not known to be partition-safe moves the cut after it.
        let passes: Vec<String> = ["globalopt", "function(gvn<>)", "mergefunc", "function(dse)"]
            .map(String::from)
            .to_vec();
        assert_eq!(late_passes_cut(&passes), Some(3));
    }

    /// The two sides of the cut, one after the other, are the whole
    /// pipeline, and each side alone is not: the skipped passes really are
    /// skipped and the cut loses nothing.
    #[test]
    fn the_pipeline_in_two_parts_equals_one_run() {
        let (_, cut) = cut_at(OptLevel::O2);
        let cut = cut.unwrap();
        let whole = optimized(&[PipelinePart::Whole]);
        let in_two = optimized(&[PipelinePart::BeforeCut(cut), PipelinePart::FromCut(cut)]);
        assert_eq!(whole, in_two);
        // Positive controls: without the late passes the load stays in the
        // loop; without the early ones the global is still loaded.
        let early_only = optimized(&[PipelinePart::BeforeCut(cut)]);
        assert_ne!(early_only, whole);
        assert!(!whole.contains("@k ="), "{whole}");
        let late_only = optimized(&[PipelinePart::FromCut(cut)]);
        assert!(late_only.contains("@k ="), "{late_only}");
    }

    /// On a partition, an unused `linkonce_odr` definition is dropped by
    /// the late passes unless another partition's use keeps it.
    #[test]
    fn kept_definitions_survive_the_late_passes() {
        let ir = "define linkonce_odr i64 @inline_elsewhere() {\n  ret i64 1\n}\n\
                  define linkonce_odr i64 @unused() {\n  ret i64 2\n}\n";
        let (_, cut) = cut_at(OptLevel::O2);
        let cut = cut.unwrap();
        let config = Config::default();
        let context = Context::create();
        let buffer = MemoryBuffer::create_from_memory_range_copy(ir.as_bytes(), "t");
        let module = context.create_module_from_ir(buffer).unwrap();
        let triple = codegen::triple_for(&config, &module);
        let machine = codegen::target_machine(&config, &triple, Some(&module)).unwrap();
        llvm::keep_definitions(&module, &["inline_elsewhere"]).unwrap();
        let late = PipelinePart::FromCut(cut);
        codegen::optimize_lto(&module, &machine, &config, "t", late).unwrap();
        assert!(module.get_function("inline_elsewhere").is_some());
        // Positive control: the one not kept is gone.
        assert!(module.get_function("unused").is_none());
        assert!(llvm::keep_definitions(&module, &["unused"]).is_err());
    }
}
