//! The thin link: one combined summary index over every module, and the
//! decisions the backends apply ([`ThinData`]).

use super::cache::{KeyConfig, ModuleKey};
use crate::config::{Config, OptLevel};
use crate::error::{Error, Phase, Result};
use crate::input::{parse_error, BitcodeInput, InputBytes, ModuleOrigin};
use crate::llvm::{self, Import, LinkageClass, ModuleStats, ThinBuffer, ThinIndex};
pub use crate::report::ImportSource;
use crate::report::PromotedSymbol;
use inkwell::context::Context;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// One module of a thin link.
#[derive(Debug, Clone)]
pub struct ThinModule {
    /// Its unique name (the input's), for reports and errors.
    pub name: String,
    /// Its module identifier in the index: the name, or for a distributed
    /// thin link the path of the bitcode a backend opens.
    pub id: String,
    /// Its bitcode, with a summary (computed on load when it had none).
    pub bytes: InputBytes,
    /// Where it came from.
    pub origin: ModuleOrigin,
    /// Size of the bitcode as given.
    pub input_bytes: usize,
    /// The module had no summary (plain bitcode, `-flto=full`), so one was
    /// computed when it was loaded.
    pub summary_added: bool,
    /// A file-name-safe stem unique within the run, for its object
    /// (`<stem>.lto.o`), imports file and save-temps.
    pub file_stem: String,
    /// A file holding exactly `bytes`, when there is one (a bitcode file
    /// given by path, or a copy a worker read): a worker's backend opens it.
    pub file: Option<std::path::PathBuf>,
}

/// `preserved` and the runtime library functions (`memcpy`, `fmod`,
/// `__divti3`, ...) that a module defines with external linkage: code
/// generation may call them though no IR does, so they stay live and
/// external, as in lld's thin link (see `fat::with_runtime_functions`).
/// The target is the configured one, else the first module's.
fn with_runtime_functions(
    config: &Config,
    modules: &[ThinModule],
    definitions: &[llvm::Definition],
    preserved: &BTreeSet<String>,
) -> Result<BTreeSet<String>> {
    let mut all = preserved.clone();
    let Some(first) = modules.first() else {
        return Ok(all);
    };
    let triple = match &config.target_triple {
        Some(triple) => triple.clone(),
        None => llvm::bitcode_triple(first.bytes.as_slice())
            .map_err(|reason| parse_error(&first.name, first.bytes.as_slice(), reason))?,
    };
    let libcalls: HashSet<String> = llvm::runtime_libcall_symbols(&triple)
        .map_err(Error::Config)?
        .into_iter()
        .collect();
    all.extend(
        definitions
            .iter()
            .filter(|d| d.linkage != LinkageClass::Local && libcalls.contains(&d.name))
            .map(|d| d.name.clone()),
    );
    Ok(all)
}

/// The result of the thin link: immutable, `Send + Sync`, meant to be shared
/// by `Arc` between backend threads. It owns every buffer the index points
/// into.
pub struct ThinData {
    // Declared first: dropped before the modules whose bytes it points into
    // (it also keeps its own references to them).
    index: ThinIndex,
    modules: Vec<ThinModule>,
    imports: Vec<Vec<Import>>,
    stats: Vec<ModuleStats>,
    decisions: Vec<ModuleDecisions>,
    preserved: BTreeSet<String>,
    facts: Option<LinkFacts>,
}

/// What `explain` needs of the thin link beyond what a run keeps: kept
/// only when the configuration asks for explanations.
#[derive(Debug)]
pub(crate) struct LinkFacts {
    /// The index as a graph once imports were computed: liveness as final,
    /// linkages as the importer saw them.
    pub graph: llvm::IndexGraph,
    /// Every definition before the thin link (the inputs' linkages).
    pub before: Vec<llvm::Definition>,
    /// Every definition after it.
    pub after: Vec<llvm::Definition>,
    /// The prevailing copy of each non-local GUID (module ordinal).
    pub prevailing: HashMap<u64, u32>,
    /// The caller's preserved names (without the runtime functions the
    /// thin link adds).
    pub caller_preserved: BTreeSet<String>,
    /// Whether imports were computed at all (not at -O0).
    pub import_enabled: bool,
}

/// What the thin link decided for one module's definitions, by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModuleDecisions {
    /// Global in the input, internal now (and live).
    pub internalized: Vec<String>,
    /// Local in the input, global now (and live), with the new name.
    pub promoted: Vec<PromotedSymbol>,
    /// Not live: the backend drops them.
    pub dropped: Vec<String>,
}

/// Each module's decisions, from its definitions' linkage and liveness
/// before the thin link (`before`) and after it (`after`).
fn decisions(
    index: &ThinIndex,
    modules: &[ThinModule],
    before: &[llvm::Definition],
    after: &[llvm::Definition],
) -> std::result::Result<Vec<ModuleDecisions>, String> {
    let original: HashMap<(u64, u32), LinkageClass> = before
        .iter()
        .map(|d| ((d.guid, d.module), d.linkage))
        .collect();
    let mut decisions = vec![ModuleDecisions::default(); modules.len()];
    for definition in after {
        let (Some(module), Some(&was)) = (
            modules.get(definition.module as usize),
            original.get(&(definition.guid, definition.module)),
        ) else {
            continue;
        };
        // available_externally copies are not the module's to emit, and
        // appending variables are never resolved.
        if matches!(
            was,
            LinkageClass::AvailableExternally | LinkageClass::Appending
        ) || definition.name.is_empty()
        {
            continue;
        }
        let decided = &mut decisions[definition.module as usize];
        let is_local = definition.linkage == LinkageClass::Local;
        if !definition.live {
            decided.dropped.push(definition.name.clone());
        } else if was != LinkageClass::Local && is_local {
            decided.internalized.push(definition.name.clone());
        } else if was == LinkageClass::Local && !is_local {
            decided.promoted.push(PromotedSymbol {
                promoted_name: index.promoted_name(&module.id, &definition.name)?,
                name: definition.name.clone(),
            });
        }
    }
    for decided in &mut decisions {
        decided.internalized.sort();
        decided.promoted.sort_by(|a, b| a.name.cmp(&b.name));
        decided.dropped.sort();
    }
    Ok(decisions)
}

impl std::fmt::Debug for ThinData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThinData")
            .field("modules", &self.modules.len())
            .field("preserved", &self.preserved.len())
            .finish()
    }
}

impl ThinData {
    /// The thin link over loaded modules, each indexed under its `id`.
    /// With `stable_names`, promoted locals are named by their module's
    /// name, not its content (see [`ThinIndex::stable_promotion_names`]):
    /// not for index files other programs' backends read, which take the
    /// index's hashes for content.
    pub(crate) fn link(
        modules: Vec<ThinModule>,
        preserved: &BTreeSet<String>,
        config: &Config,
        stable_names: bool,
    ) -> Result<ThinData> {
        let mut index = ThinIndex::new();
        for module in &modules {
            index
                .add(&module.bytes, 0, &module.id)
                .map_err(|reason| parse_error(&module.name, module.bytes.as_slice(), reason))?;
        }
        if stable_names {
            let seeds: Vec<(&str, &str)> = modules
                .iter()
                .map(|m| (m.id.as_str(), m.name.as_str()))
                .collect();
            index.stable_promotion_names(&seeds).map_err(|reason| {
                Error::llvm("combined index".to_string(), Phase::ThinLink, reason)
            })?;
        }
        let thin_link_error =
            |reason: String| Error::llvm("combined index".to_string(), Phase::ThinLink, reason);
        if config.target_triple.is_none() {
            let triples = modules
                .iter()
                .map(|m| {
                    llvm::bitcode_triple(m.bytes.as_slice())
                        .map(|triple| (m.name.as_str(), triple))
                        .map_err(|reason| parse_error(&m.name, m.bytes.as_slice(), reason))
                })
                .collect::<Result<Vec<_>>>()?;
            crate::input::check_one_target(triples, Phase::ThinLink)?;
        }
        let definitions = index.definitions().map_err(thin_link_error)?;
        let caller_preserved = preserved;
        let preserved = &with_runtime_functions(config, &modules, &definitions, preserved)?;
        let prevailing = choose_prevailing(&definitions, &modules)?;
        index.set_prevailing(&prevailing).map_err(thin_link_error)?;

        let preserved_guids = preserved
            .iter()
            .map(|name| llvm::guid_for_symbol(name))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(Error::Config)?;
        // As lld: -O0 still computes liveness (dead stripping must agree
        // across modules), but imports nothing.
        let import_enabled = config.opt_level != OptLevel::O0;
        index.compute_dead(&preserved_guids, import_enabled);
        // Preserved symbols are what code outside the unit may see: their
        // classes keep public visibility (as lld's dynamic exports).
        index.devirtualize(config.whole_program_visibility, &preserved_guids);
        index.compute_imports(import_enabled);
        let graph = if config.explain.is_empty() {
            None
        } else {
            Some(index.graph().map_err(thin_link_error)?)
        };
        // A live symbol that another module uses stays external even when
        // nobody imports it: the linker resolves it across modules (lld's
        // "external partition").
        let cross_module = index.cross_module_guids().map_err(thin_link_error)?;
        index.internalize_and_promote(&cross_module);
        index.resolve_prevailing(uses_elf_visibility(config));
        index.propagate_attributes();

        let mut imports = Vec::with_capacity(modules.len());
        let mut stats = Vec::with_capacity(modules.len());
        for module in &modules {
            imports.push(index.imports(&module.id).map_err(thin_link_error)?);
            stats.push(index.stats(&module.id).map_err(thin_link_error)?);
        }
        let after = index.definitions().map_err(thin_link_error)?;
        let decisions =
            decisions(&index, &modules, &definitions, &after).map_err(thin_link_error)?;
        let facts = graph.map(|graph| LinkFacts {
            graph,
            prevailing: prevailing.iter().copied().collect(),
            before: definitions,
            after,
            caller_preserved: caller_preserved.clone(),
            import_enabled,
        });
        Ok(ThinData {
            index,
            modules,
            imports,
            stats,
            decisions,
            preserved: preserved.clone(),
            facts,
        })
    }

    /// What `explain` needs, when the configuration asked for it.
    pub(crate) fn facts(&self) -> Option<&LinkFacts> {
        self.facts.as_ref()
    }

    /// What stays visible outside the unit: the caller's names and what
    /// the compiler keeps (`llvm.used`, runtime library functions).
    pub fn preserved(&self) -> &BTreeSet<String> {
        &self.preserved
    }

    /// The modules, in input order.
    pub fn modules(&self) -> &[ThinModule] {
        &self.modules
    }

    /// Counts of module `i`'s definitions, live definitions and exports;
    /// `None` when there is no module `i`.
    pub fn stats(&self, i: usize) -> Option<ModuleStats> {
        self.stats.get(i).copied()
    }

    /// What the thin link decided for module `i`'s definitions; `None`
    /// when there is no module `i`.
    pub(crate) fn decisions(&self, i: usize) -> Option<&ModuleDecisions> {
        self.decisions.get(i)
    }

    /// Every name the thin link internalized, all modules together, in
    /// name order.
    pub fn internalized(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .decisions
            .iter()
            .flat_map(|d| d.internalized.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// What module `i` imports, grouped by source module (in name order);
    /// `None` when there is no module `i`.
    pub fn imports(&self, i: usize) -> Option<Vec<ImportSource>> {
        let mut by_source: BTreeMap<&str, ImportSource> = BTreeMap::new();
        for import in self.imports.get(i)? {
            let Some(source) = self.modules.get(import.source as usize) else {
                continue;
            };
            let entry = by_source
                .entry(source.name.as_str())
                .or_insert_with(|| ImportSource {
                    module: source.name.clone(),
                    definitions: Vec::new(),
                    declarations: 0,
                });
            if import.definition {
                entry.definitions.push(import.name.clone());
            } else {
                entry.declarations += 1;
            }
        }
        let mut sources: Vec<ImportSource> = by_source.into_values().collect();
        for source in &mut sources {
            source.definitions.sort();
        }
        Some(sources)
    }

    /// Module `i`'s cache key under `settings`, with the digests of what
    /// went into it. Computed after the thin link, which changes linkages
    /// the key covers.
    /// Each import source in `import_digests` (by ordinal) stands in the key
    /// by that digest, any other by its module hash; each in `substitutes`
    /// (by ordinal, a content hash in hex) stands by that hash in the
    /// substituted key; `probes` are what the digests were measured from,
    /// kept in the key's record.
    pub(crate) fn cache_key(
        &self,
        i: usize,
        settings: &KeyConfig,
        import_digests: &[(u32, [u8; 32])],
        substitutes: &[(u32, String)],
        probes: BTreeMap<String, super::cache::ImportProbe>,
    ) -> Result<ModuleKey> {
        let module = &self.modules[i];
        let parts = self
            .index
            .cache_key(
                &module.id,
                &settings.settings,
                &settings.extra,
                import_digests,
                substitutes,
            )
            .map_err(|reason| Error::llvm(module.name.clone(), Phase::Cache, reason))?;
        let mut key = ModuleKey::new(parts, &settings.digest, |ordinal| {
            Some(self.modules.get(ordinal as usize)?.name.clone())
        });
        key.probes = probes;
        Ok(key)
    }

    /// What module `i` imports, one value per entry (empty when there is no
    /// module `i`).
    pub(crate) fn import_list(&self, i: usize) -> &[Import] {
        self.imports.get(i).map_or(&[], Vec::as_slice)
    }

    /// The index, for the backend steps.
    pub(crate) fn index(&self) -> &ThinIndex {
        &self.index
    }
}

/// Gives each module, in order, its file stem (unique within the run).
pub(crate) fn assign_file_stems(modules: &mut [ThinModule]) {
    let mut used_stems = HashSet::new();
    for module in modules {
        module.file_stem = file_stem(&module.name, &mut used_stems);
    }
}

/// Takes an input into the thin link: one module per input, with a summary.
/// Depends on this input alone (a streaming session runs it as modules
/// arrive); its file stem is assigned once the set is known.
pub(crate) fn prepare(input: &BitcodeInput, config: &Config) -> Result<ThinModule> {
    let data = input.bytes.as_slice();
    let count = llvm::bitcode_module_count(data)
        .map_err(|reason| parse_error(&input.name, data, reason))?;
    match count {
        0 => {
            return Err(Error::invalid(
                &input.name,
                Phase::Parse,
                "bitcode holds no module",
            ))
        }
        1 => {}
        2 => return split_unit(input, config),
        _ => {
            return Err(Error::invalid(
                &input.name,
                Phase::ThinLink,
                format!(
                    "bitcode holds {count} modules; thin LTO takes one module per input, \
                     or a split LTO unit of two (-fsplit-lto-unit)"
                ),
            ))
        }
    }
    let info =
        llvm::bitcode_lto_info(data, 0).map_err(|reason| parse_error(&input.name, data, reason))?;
    let has_data_layout = llvm::bitcode_has_data_layout(data, 0)
        .map_err(|reason| parse_error(&input.name, data, reason))?;
    if !has_data_layout {
        return Err(crate::input::no_data_layout(&input.name));
    }
    // A full-LTO summary (clang -flto=full writes one) is not one ThinLTO
    // imports from: such modules get a ThinLTO summary too. So does a module
    // marked for LTO unit splitting (-fwhole-program-vtables), rewritten
    // unsplit: every module of the link must agree on that flag (importing
    // links module flags), and the index records vtables for
    // devirtualization only in unsplit modules.
    let (bytes, summary_added) = if info.has_summary && info.is_thin && !info.split_lto_unit {
        (input.bytes.clone(), false)
    } else {
        (add_summary(input, config)?, true)
    };
    Ok(ThinModule {
        name: input.name.clone(),
        id: input.name.clone(),
        bytes,
        origin: input.origin.clone(),
        input_bytes: data.len(),
        summary_added,
        file_stem: String::new(),
        file: (input.origin == ModuleOrigin::File && input.archive.is_none() && !summary_added)
            .then(|| std::path::PathBuf::from(&input.name)),
    })
}

/// A split LTO unit (what `-fsplit-lto-unit` writes, clang's default with
/// `-fwhole-program-vtables`): a thin module plus a regular-LTO module that
/// holds the vtables with type metadata. LLVM's LTO compiles the regular
/// parts of all inputs as one extra regular-LTO partition; here the two
/// parts are linked back into one module, which gets a ThinLTO summary
/// without splitting (as `-fno-split-lto-unit` would have written it), and
/// the thin link devirtualizes on the index. Control-flow integrity needs
/// its jump tables over the whole regular partition: refused.
fn split_unit(input: &BitcodeInput, config: &Config) -> Result<ThinModule> {
    let data = input.bytes.as_slice();
    let regular =
        llvm::bitcode_lto_info(data, 1).map_err(|reason| parse_error(&input.name, data, reason))?;
    if regular.is_thin {
        return Err(Error::invalid(
            &input.name,
            Phase::ThinLink,
            "bitcode holds 2 ThinLTO modules; thin LTO takes one module per input",
        ));
    }
    let context = Context::create();
    llvm::install_diagnostics(&context);
    let parse = |index: usize| {
        llvm::parse_bitcode(&context, data, &input.name, index).map_err(|reason| {
            parse_error(&input.name, data, llvm::with_error_text(&context, reason))
        })
    };
    let module = parse(0)?;
    let regular = parse(1)?;
    if !llvm::has_data_layout(&module) || !llvm::has_data_layout(&regular) {
        return Err(crate::input::no_data_layout(&input.name));
    }
    crate::stages::check_input(config, &input.name, &module, None)?;
    crate::stages::check_input(config, &input.name, &regular, None)?;
    if llvm::uses_cfi(&module) || llvm::uses_cfi(&regular) {
        return Err(Error::invalid(
            &input.name,
            Phase::ThinLink,
            "compiled with -fsanitize=cfi: thin LTO does not build CFI jump tables; use fat LTO",
        ));
    }
    let mut linker = llvm::FatLinker::new(&module);
    linker
        .link(&context, regular)
        .map_err(|reason| Error::Link {
            input: input.name.clone(),
            reason: format!("joining the two parts of a split LTO unit: {reason}"),
        })?;
    drop(linker);
    let buffer = ThinBuffer::new(&module)
        .map_err(|reason| Error::invalid(&input.name, Phase::ThinLink, reason))?;
    Ok(ThinModule {
        name: input.name.clone(),
        id: input.name.clone(),
        bytes: InputBytes::thin(buffer),
        origin: input.origin.clone(),
        input_bytes: data.len(),
        summary_added: true,
        file_stem: String::new(),
        file: None,
    })
}

/// Plain bitcode (`rustc --emit=llvm-bc`) has no summary, and `clang
/// -flto=full` has only a full-LTO one; compute a ThinLTO summary as `-flto=thin` would have, so that the module takes
/// full part in importing instead of being silently left out.
fn add_summary(input: &BitcodeInput, config: &Config) -> Result<InputBytes> {
    let data = input.bytes.as_slice();
    let context = Context::create();
    llvm::install_diagnostics(&context);
    let module = llvm::parse_bitcode(&context, data, &input.name, 0)
        .map_err(|reason| parse_error(&input.name, data, reason))?;
    // The summary analysis is a pass like any other: it gets valid IR only.
    crate::stages::check_input(config, &input.name, &module, None)?;
    let buffer = ThinBuffer::new(&module)
        .map_err(|reason| Error::invalid(&input.name, Phase::ThinLink, reason))?;
    Ok(InputBytes::thin(buffer))
}

/// The prevailing copy of every non-local GUID, as a linker resolves it: the
/// first strong definition in input order, else the first weak one. Two
/// strong definitions are an error. Copies that are only
/// available_externally never prevail.
fn choose_prevailing(
    definitions: &[llvm::Definition],
    modules: &[ThinModule],
) -> Result<Vec<(u64, u32)>> {
    let mut chosen: HashMap<u64, (u32, LinkageClass)> = HashMap::new();
    for definition in definitions {
        if matches!(
            definition.linkage,
            LinkageClass::Local | LinkageClass::AvailableExternally | LinkageClass::Appending
        ) {
            continue;
        }
        match chosen.get(&definition.guid).copied() {
            None => {
                chosen.insert(definition.guid, (definition.module, definition.linkage));
            }
            Some((first, LinkageClass::Strong)) if definition.linkage == LinkageClass::Strong => {
                let (first, second) = if first < definition.module {
                    (first, definition.module)
                } else {
                    (definition.module, first)
                };
                let name = |ordinal: u32| {
                    modules
                        .get(ordinal as usize)
                        .map_or("?", |m| m.name.as_str())
                        .to_string()
                };
                return Err(Error::Link {
                    input: name(second),
                    reason: format!(
                        "symbol '{}' multiply defined (also defined in {})",
                        definition.name,
                        name(first)
                    ),
                });
            }
            Some((first, class)) => {
                let earlier = definition.module < first;
                let stronger =
                    definition.linkage == LinkageClass::Strong && class != LinkageClass::Strong;
                let same_class_earlier = definition.linkage == class && earlier;
                if stronger || same_class_earlier {
                    chosen.insert(definition.guid, (definition.module, definition.linkage));
                }
            }
        }
    }
    let mut prevailing: Vec<(u64, u32)> = chosen
        .into_iter()
        .map(|(guid, (module, _))| (guid, module))
        .collect();
    prevailing.sort_unstable();
    Ok(prevailing)
}

/// Whether symbol visibility follows ELF rules (the most constraining
/// visibility of all copies wins) rather than the prevailing copy's.
fn uses_elf_visibility(config: &Config) -> bool {
    let triple = config.target_triple.clone().unwrap_or_else(|| {
        inkwell::targets::TargetMachine::get_default_triple()
            .as_str()
            .to_string_lossy()
            .into_owned()
    });
    ![
        "apple", "darwin", "macos", "ios", "windows", "win32", "wasm",
    ]
    .iter()
    .any(|os| triple.contains(os))
}

/// A file-name-safe, unique stem for a module: the last path component of
/// its name, archive parentheses turned into dots.
pub(crate) fn file_stem(name: &str, used: &mut HashSet<String>) -> String {
    // Archive members are `dir/lib.a(member.o)`: the member may not hold a
    // slash, but the archive path may.
    let base = match name.find('(') {
        Some(paren) => {
            let archive = &name[..paren];
            let archive = archive.rsplit('/').next().unwrap_or(archive);
            format!("{archive}{}", &name[paren..])
        }
        None => name.rsplit('/').next().unwrap_or(name).to_string(),
    };
    let mut stem: String = base
        .chars()
        .filter(|c| *c != ')')
        .map(|c| match c {
            '(' | ' ' => '.',
            c if c.is_ascii_alphanumeric() || "._-+".contains(c) => c,
            _ => '_',
        })
        .collect();
    if stem.is_empty() || stem.starts_with('.') {
        stem.insert_str(0, "module");
    }
    let mut candidate = stem.clone();
    let mut counter = 1;
    while !used.insert(candidate.clone()) {
        counter += 1;
        candidate = format!("{stem}.{counter}");
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module identifier the index does not know is an error in every
    /// backend step, not a crash (thinLTOInternalizeModule would crash on
    /// the empty summary map).
    #[test]
    fn unknown_module_identifier_is_an_error() {
        let config = Config::default();
        let context = Context::create();
        let module = context.create_module("a");
        let triple = crate::codegen::triple_for(&config, &module);
        let machine = crate::codegen::target_machine(&config, &triple, None).unwrap();
        crate::codegen::retarget(&module, &machine);
        let i32_type = context.i32_type();
        let function = module.add_function("answer", i32_type.fn_type(&[], false), None);
        let builder = context.create_builder();
        builder.position_at_end(context.append_basic_block(function, "entry"));
        builder
            .build_return(Some(&i32_type.const_int(42, false)))
            .unwrap();
        let buffer = ThinBuffer::new(&module).unwrap();
        let input = BitcodeInput {
            name: "a".to_string(),
            bytes: InputBytes::thin(buffer),
            origin: ModuleOrigin::Memory,
            archive: None,
        };
        let preserved: BTreeSet<String> = ["answer".to_string()].into();
        let data = ThinData::link(
            vec![prepare(&input, &config).unwrap()],
            &preserved,
            &config,
            false,
        )
        .unwrap();

        let backend_context = Context::create();
        llvm::install_diagnostics(&backend_context);
        let renamed =
            llvm::parse_bitcode(&backend_context, input.bytes.as_slice(), "b", 0).unwrap();
        let index = data.index();
        for result in [
            index.rename(&renamed, &machine),
            index.resolve(&renamed),
            index.internalize(&renamed),
            index.import(&renamed, &machine),
        ] {
            let error = result.expect_err("unknown identifier");
            assert!(error.contains("'b' is not in the ThinLTO index"), "{error}");
        }
        // The right identifier works.
        let module = llvm::parse_bitcode(&backend_context, input.bytes.as_slice(), "a", 0).unwrap();
        index.rename(&module, &machine).unwrap();
        index.internalize(&module).unwrap();
    }

    #[test]
    fn stems_are_file_names_and_unique() {
        let mut used = HashSet::new();
        assert_eq!(file_stem("a/b/main.o", &mut used), "main.o");
        assert_eq!(file_stem("x/main.o", &mut used), "main.o.2");
        assert_eq!(
            file_stem("dir/libfoo.rlib(foo-1.foo.abc-cgu.0.rcgu.o)", &mut used),
            "libfoo.rlib.foo-1.foo.abc-cgu.0.rcgu.o"
        );
        assert_eq!(
            file_stem("lib.a(m.o at 120)", &mut used),
            "lib.a.m.o.at.120"
        );
        assert_eq!(file_stem("cgu 0", &mut used), "cgu.0");
    }
}
