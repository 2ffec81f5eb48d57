//! Explanations from a link's facts ([`LinkFacts`]): a thin run's (with
//! its import lists and its backends' inliner decisions), or a fat run's
//! (its modules' summaries linked as a thin link would, for copies,
//! prevailing copies and liveness; the restriction pass's internalization,
//! the merged module's inliner decisions, and the partitions' objects).

use super::imports::{CalleeVerdict, ImportSettings, Walker};
use crate::config::Config;
use crate::error::{Error, Phase, Result};
use crate::llvm::{self, LinkageClass, SymbolDetail};
use crate::output::OutputObject;
use crate::report::{
    ImportDecision, ImportOutcome, InlineSite, KeptReason, LinkOutcome, LiveRoot, PrevailingCopy,
    PrevailingReason, SymbolCopy, SymbolExplanation,
};
use crate::thin::{LinkFacts, ThinData, ThinExplainInputs};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

/// One explanation per symbol matching each of `config.explain`, in the
/// order asked (a name nothing matches gets an explanation saying so).
pub(crate) fn explain_thin(
    inputs: &ThinExplainInputs,
    objects: &[OutputObject],
    config: &Config,
) -> Result<Vec<SymbolExplanation>> {
    explain_link(&inputs.data, &inputs.inlining, objects, config, None)
}

/// What a fat run decided, for [`explain_link`].
pub(super) struct FatView<'a> {
    /// What the restriction pass internalized.
    pub internalized: BTreeSet<&'a str>,
}

/// Explanations from `data`'s facts; with `fat`, as a fat run decided.
pub(super) fn explain_link(
    data: &ThinData,
    inlining: &[Option<Vec<llvm::InlineDecision>>],
    objects: &[OutputObject],
    config: &Config,
    fat: Option<FatView<'_>>,
) -> Result<Vec<SymbolExplanation>> {
    let facts = data.facts().ok_or_else(|| {
        Error::Usage("explain: the thin link kept no facts (no symbols were asked for)".into())
    })?;
    let details = data
        .modules()
        .iter()
        .map(|module| {
            llvm::bitcode_symbol_details(&module.bytes)
                .map_err(|reason| Error::llvm(module.name.clone(), Phase::ThinLink, reason))
        })
        .collect::<Result<Vec<_>>>()?;
    let settings = ImportSettings::from_llvm_options(&config.llvm_options);
    let walker = Walker::new(&facts.graph, settings.clone().unwrap_or_default());
    let context = Context {
        data,
        facts,
        details: &details,
        walker,
        replay: settings.is_ok(),
        walks: HashMap::new(),
        objects,
        inlining,
        fat,
    };
    context.explain_all(&config.explain)
}

/// Everything the explanations of one run read, and the import walks
/// replayed so far (one per module, shared by every symbol asked about).
struct Context<'a> {
    data: &'a ThinData,
    facts: &'a LinkFacts,
    details: &'a [Vec<SymbolDetail>],
    walker: Walker<'a>,
    /// The import walk can be replayed under these LLVM options.
    replay: bool,
    walks: HashMap<u32, HashMap<u64, CalleeVerdict>>,
    objects: &'a [OutputObject],
    inlining: &'a [Option<Vec<llvm::InlineDecision>>],
    fat: Option<FatView<'a>>,
}

impl Context<'_> {
    fn explain_all(mut self, queries: &[String]) -> Result<Vec<SymbolExplanation>> {
        // Every name of the link, with its demangled form, once.
        let mut names: BTreeSet<&str> = self
            .facts
            .graph
            .entries
            .iter()
            .map(|entry| entry.name.as_str())
            .filter(|name| !name.is_empty())
            .collect();
        names.extend(self.details.iter().flatten().map(|d| d.name.as_str()));
        let demangled: Vec<(&str, Option<String>)> = names
            .into_iter()
            .map(|name| (name, llvm::demangle(name)))
            .collect();
        let mut explanations = Vec::new();
        for query in queries {
            let matched: Vec<(&str, Option<String>)> = demangled
                .iter()
                .filter(|(name, plain)| super::matches(query, name, plain.as_deref()))
                .map(|(name, plain)| (*name, plain.clone()))
                .collect();
            if matched.is_empty() {
                let mut unknown = super::unknown(query);
                unknown.similar = super::similar(query, &demangled);
                explanations.push(unknown);
            }
            for (name, plain) in matched {
                explanations.push(self.explain(query, name, plain));
            }
        }
        Ok(explanations)
    }

    fn module_name(&self, ordinal: u32) -> String {
        self.data
            .modules()
            .get(ordinal as usize)
            .map_or_else(|| format!("module #{ordinal}"), |m| m.name.clone())
    }

    fn explain(&mut self, query: &str, name: &str, demangled: Option<String>) -> SymbolExplanation {
        let guids: Vec<u64> = self
            .facts
            .graph
            .entries
            .iter()
            .filter(|entry| entry.name == name)
            .map(|entry| entry.guid)
            .collect();
        let copies = self.copies(name, &guids);
        let defining: Vec<&llvm::Definition> = self
            .facts
            .before
            .iter()
            .filter(|d| guids.contains(&d.guid))
            .collect();
        let prevailing = self.prevailing(&defining);
        let prevailing_module = prevailing
            .as_ref()
            .and_then(|p| self.data.modules().iter().position(|m| m.name == p.module))
            .map(|i| i as u32);
        let (mut outcome, final_name, live) = self.outcome(name, &guids, prevailing_module);
        if let Some(fat) = &self.fat {
            // One merged module: the restriction pass decides, and nothing
            // is promoted.
            outcome = match outcome {
                LinkOutcome::Kept | LinkOutcome::Internalized
                    if fat.internalized.contains(name) =>
                {
                    LinkOutcome::Internalized
                }
                LinkOutcome::Internalized => LinkOutcome::Kept,
                other => other,
            };
        }
        let kept_because = match outcome {
            LinkOutcome::Kept | LinkOutcome::Promoted => {
                self.kept_because(name, &guids, prevailing_module)
            }
            _ => Vec::new(),
        };
        let (live_chain, live_root) = if live == Some(true) {
            self.live_chain(&guids)
        } else {
            (Vec::new(), None)
        };
        let imports = if self.fat.is_some() {
            Vec::new()
        } else {
            self.imports(name, &guids, prevailing_module)
        };
        let mut wanted = vec![name];
        if let Some(renamed) = &final_name {
            wanted.push(renamed);
        }
        let inlining = self.inlining(&wanted);
        let objects = self
            .objects
            .iter()
            .map(|o| (o.name.as_str(), o.bytes.as_slice()));
        let out_of_line = super::out_of_line(objects, &wanted);
        let partition = self.fat.as_ref().and_then(|_| {
            self.objects
                .iter()
                .position(|o| !super::defined_in_object(&o.bytes, &wanted).is_empty())
        });
        SymbolExplanation {
            query: query.to_string(),
            symbol: name.to_string(),
            demangled,
            copies,
            prevailing,
            outcome,
            kept_because,
            final_name,
            live,
            live_chain,
            live_root,
            imports,
            inlining,
            inlining_complete: self.inlining.iter().all(Option::is_some),
            out_of_line,
            partition,
            fat_lto: self.fat.is_some(),
            similar: Vec::new(),
        }
    }

    /// Module `module`'s summaries of `guids`.
    fn summaries_in<'s>(
        &'s self,
        guids: &'s [u64],
        module: u32,
    ) -> impl Iterator<Item = &'s llvm::GraphSummary> {
        guids
            .iter()
            .filter_map(|&guid| self.walker.entry(guid))
            .flat_map(|entry| &entry.summaries)
            .filter(move |s| s.module == module)
    }

    /// Every module's definition or declaration of `name`.
    fn copies(&self, name: &str, guids: &[u64]) -> Vec<SymbolCopy> {
        let mut copies = Vec::new();
        for (ordinal, symbols) in self.details.iter().enumerate() {
            let module = self.module_name(ordinal as u32);
            for symbol in symbols.iter().filter(|s| s.name == name) {
                let summary = self.summaries_in(guids, ordinal as u32).next();
                let defined = !symbol.undefined;
                copies.push(SymbolCopy {
                    module: module.clone(),
                    defined,
                    kind: summary.filter(|_| defined).map(|s| s.kind),
                    linkage: summary.filter(|_| defined).map(|s| s.linkage),
                    visibility: symbol.visibility,
                    comdat: symbol.comdat.clone(),
                    instructions: summary
                        .filter(|s| defined && s.kind == crate::report::SymbolKind::Function)
                        .map(|s| s.instructions),
                    native: false,
                });
            }
            // Locals are not in the symbol table; their summaries are.
            let listed = symbols.iter().any(|s| s.name == name);
            if !listed {
                for summary in self.summaries_in(guids, ordinal as u32) {
                    copies.push(SymbolCopy {
                        module: module.clone(),
                        defined: true,
                        kind: Some(summary.kind),
                        linkage: Some(summary.linkage),
                        visibility: summary.visibility,
                        comdat: None,
                        instructions: (summary.kind == crate::report::SymbolKind::Function)
                            .then_some(summary.instructions),
                        native: false,
                    });
                }
            }
        }
        copies
    }

    /// The prevailing copy as the thin link chose it, and why.
    fn prevailing(&self, defining: &[&llvm::Definition]) -> Option<PrevailingCopy> {
        let candidates: Vec<&&llvm::Definition> = defining
            .iter()
            .filter(|d| {
                !matches!(
                    d.linkage,
                    LinkageClass::Local
                        | LinkageClass::AvailableExternally
                        | LinkageClass::Appending
                )
            })
            .collect();
        if candidates.is_empty() {
            // Locals: each module keeps its own.
            let local = defining.iter().find(|d| d.linkage == LinkageClass::Local)?;
            return Some(PrevailingCopy {
                module: self.module_name(local.module),
                reason: PrevailingReason::Local,
            });
        }
        let chosen = self.facts.prevailing.get(&candidates[0].guid)?;
        let winner = candidates.iter().find(|d| d.module == *chosen)?;
        let reason = if candidates.len() == 1 {
            PrevailingReason::OnlyDefinition
        } else if winner.linkage == LinkageClass::Strong
            && candidates.iter().any(|d| d.linkage != LinkageClass::Strong)
        {
            PrevailingReason::StrongOverWeak
        } else {
            PrevailingReason::FirstInLinkOrder
        };
        Some(PrevailingCopy {
            module: self.module_name(*chosen),
            reason,
        })
    }

    /// What became of the prevailing definition: its outcome, its new name
    /// when promoted, and whether it is live.
    fn outcome(
        &self,
        name: &str,
        guids: &[u64],
        module: Option<u32>,
    ) -> (LinkOutcome, Option<String>, Option<bool>) {
        let Some(module) = module else {
            return (LinkOutcome::NotDefined, None, None);
        };
        let find = |definitions: &[llvm::Definition]| {
            definitions
                .iter()
                .find(|d| d.module == module && guids.contains(&d.guid))
                .map(|d| (d.linkage, d.live))
        };
        let (Some((before, _)), Some((after, live))) =
            (find(&self.facts.before), find(&self.facts.after))
        else {
            return (LinkOutcome::NotDefined, None, None);
        };
        if !live {
            return (LinkOutcome::Dropped, None, Some(false));
        }
        let was_local = before == LinkageClass::Local;
        let is_local = after == LinkageClass::Local;
        let outcome = match (was_local, is_local) {
            (true, true) => LinkOutcome::Local,
            (false, true) => LinkOutcome::Internalized,
            (true, false) => LinkOutcome::Promoted,
            (false, false) => LinkOutcome::Kept,
        };
        let final_name = (outcome == LinkOutcome::Promoted)
            .then(|| {
                self.data
                    .decisions(module as usize)?
                    .promoted
                    .iter()
                    .find(|p| p.name == name)
                    .map(|p| p.promoted_name.clone())
            })
            .flatten();
        (outcome, final_name, Some(true))
    }

    /// The modules other than `owner` whose summaries use one of `guids`.
    fn users(&self, guids: &[u64], owner: Option<u32>) -> BTreeSet<u32> {
        let mut users = BTreeSet::new();
        for entry in &self.facts.graph.entries {
            for summary in &entry.summaries {
                if Some(summary.module) == owner || users.contains(&summary.module) {
                    continue;
                }
                let uses = summary
                    .calls
                    .iter()
                    .any(|(callee, _)| guids.contains(callee))
                    || summary.refs.iter().any(|r| guids.contains(r))
                    || summary.aliasee.is_some_and(|a| guids.contains(&a));
                if uses {
                    users.insert(summary.module);
                }
            }
        }
        users
    }

    /// Modules other than `owner` that imported a function which uses one
    /// of `guids`.
    fn importers_of_users(&self, guids: &[u64], owner: Option<u32>) -> BTreeSet<u32> {
        let mut importers = BTreeSet::new();
        for i in 0..self.data.modules().len() {
            if Some(i as u32) == owner {
                continue;
            }
            let uses = self.data.import_list(i).iter().any(|import| {
                import.definition
                    && self.walker.entry(import.guid).is_some_and(|entry| {
                        entry
                            .summaries
                            .iter()
                            .filter(|s| s.module == import.source)
                            .any(|s| {
                                s.calls.iter().any(|(c, _)| guids.contains(c))
                                    || s.refs.iter().any(|r| guids.contains(r))
                            })
                    })
            });
            if uses {
                importers.insert(i as u32);
            }
        }
        importers
    }

    fn kept_because(&self, name: &str, guids: &[u64], owner: Option<u32>) -> Vec<KeptReason> {
        let mut reasons = Vec::new();
        if self.facts.caller_preserved.contains(name) {
            reasons.push(KeptReason::Preserved);
        } else if self.data.preserved().contains(name) {
            reasons.push(KeptReason::RuntimeLibraryFunction);
        }
        let used = owner.is_some_and(|m| {
            self.details[m as usize]
                .iter()
                .any(|s| s.name == name && s.used && !s.undefined)
        });
        if used {
            reasons.push(KeptReason::CompilerUsed);
        }
        if self.fat.is_some() {
            // One merged module: only what the caller preserves and what
            // the compiler keeps stay visible.
            return reasons;
        }
        if !self.users(guids, owner).is_empty() {
            reasons.push(KeptReason::UsedByAnotherModule);
        }
        if !self.importers_of_users(guids, owner).is_empty() {
            reasons.push(KeptReason::ImportedElsewhere);
        }
        reasons
    }

    /// One chain of references from a root of liveness to one of `guids`.
    fn live_chain(&self, guids: &[u64]) -> (Vec<String>, Option<LiveRoot>) {
        let graph = &self.facts.graph;
        let mut roots: Vec<(u64, LiveRoot)> = Vec::new();
        for name in &self.facts.caller_preserved {
            if let Ok(guid) = llvm::guid_for_symbol(name) {
                roots.push((guid, LiveRoot::Preserved));
            }
        }
        for name in self.data.preserved() {
            if !self.facts.caller_preserved.contains(name) {
                if let Ok(guid) = llvm::guid_for_symbol(name) {
                    roots.push((guid, LiveRoot::RuntimeLibraryFunction));
                }
            }
        }
        for (module, symbols) in self.details.iter().enumerate() {
            for symbol in symbols.iter().filter(|s| s.used && !s.undefined) {
                for entry in graph.entries.iter().filter(|e| e.name == symbol.name) {
                    if entry.summaries.iter().any(|s| s.module == module as u32) {
                        roots.push((entry.guid, LiveRoot::CompilerUsed));
                    }
                }
            }
        }
        let targets: HashSet<u64> = guids.iter().copied().collect();
        let mut parent: HashMap<u64, Option<u64>> = HashMap::new();
        let mut root_kind: HashMap<u64, LiveRoot> = HashMap::new();
        let mut queue = VecDeque::new();
        for (guid, kind) in roots {
            if self.walker.entry(guid).is_some() && !parent.contains_key(&guid) {
                parent.insert(guid, None);
                root_kind.insert(guid, kind);
                queue.push_back(guid);
            }
        }
        let mut found = None;
        while let Some(guid) = queue.pop_front() {
            if targets.contains(&guid) {
                found = Some(guid);
                break;
            }
            let Some(entry) = self.walker.entry(guid) else {
                continue;
            };
            for summary in entry.summaries.iter().filter(|s| s.live) {
                let next = summary
                    .calls
                    .iter()
                    .map(|(callee, _)| *callee)
                    .chain(summary.refs.iter().copied())
                    .chain(summary.aliasee);
                for next in next {
                    if !parent.contains_key(&next) && self.walker.entry(next).is_some() {
                        parent.insert(next, Some(guid));
                        queue.push_back(next);
                    }
                }
            }
        }
        let Some(mut at) = found else {
            return (Vec::new(), Some(LiveRoot::Other));
        };
        let mut chain = Vec::new();
        loop {
            chain.push(
                self.walker
                    .entry(at)
                    .map_or_else(|| format!("#{at}"), |e| e.name.clone()),
            );
            match parent.get(&at).copied().flatten() {
                Some(up) => at = up,
                None => break,
            }
        }
        chain.reverse();
        (chain, root_kind.get(&at).copied())
    }

    /// Every module that refers to the symbol (or met it through what it
    /// imported), and what it did about importing it.
    fn imports(&mut self, name: &str, guids: &[u64], owner: Option<u32>) -> Vec<ImportDecision> {
        let total = self.data.modules().len() as u32;
        if self.replay && self.facts.import_enabled {
            for module in 0..total {
                if !self.walks.contains_key(&module) {
                    let walk = self.walker.walk(module);
                    self.walks.insert(module, walk);
                }
            }
        }
        let mut modules = self.users(guids, owner);
        // Variables come along with the functions that use them.
        for module in 0..total {
            let imported = self
                .data
                .import_list(module as usize)
                .iter()
                .any(|import| import.definition && guids.contains(&import.guid));
            if imported {
                modules.insert(module);
            }
        }
        for (module, walk) in &self.walks {
            if Some(*module) != owner && guids.iter().any(|g| walk.contains_key(g)) {
                modules.insert(*module);
            }
        }
        let mut decisions = Vec::new();
        for module in modules {
            let outcome = self.import_outcome(name, guids, module);
            decisions.push(ImportDecision {
                module: self.module_name(module),
                outcome,
            });
        }
        decisions
    }

    fn import_outcome(&self, name: &str, guids: &[u64], module: u32) -> ImportOutcome {
        let imported = self
            .data
            .import_list(module as usize)
            .iter()
            .find(|import| {
                import.definition && (guids.contains(&import.guid) || import.name == name)
            });
        if let Some(import) = imported {
            return ImportOutcome::Imported {
                from: self.module_name(import.source),
            };
        }
        if !self.facts.import_enabled {
            return ImportOutcome::ImportsDisabled;
        }
        let defined_here = self
            .facts
            .graph
            .defined_order
            .get(module as usize)
            .is_some_and(|defined| guids.iter().any(|g| defined.contains(g)));
        if defined_here {
            return ImportOutcome::DefinedHere;
        }
        if !self.replay {
            return ImportOutcome::Unexplained;
        }
        let verdict = self
            .walks
            .get(&module)
            .and_then(|walk| guids.iter().find_map(|g| walk.get(g).map(|v| (*g, v))));
        if let Some((guid, verdict)) = verdict {
            return match (verdict.imported, verdict.rejected) {
                // The replay imports what LLVM did not: no reason to give.
                (Some(_), _) => ImportOutcome::Unexplained,
                (None, Some(reason)) => ImportOutcome::Rejected {
                    reason,
                    threshold: verdict.threshold,
                    size: self.walker.printed_size(guid),
                },
                (None, None) => ImportOutcome::NoDefinitionInLink,
            };
        }
        // Never looked at: no live call reaches it from this module.
        let calls = self.facts.graph.entries.iter().any(|entry| {
            entry.summaries.iter().any(|s| {
                s.module == module && s.calls.iter().any(|(callee, _)| guids.contains(callee))
            })
        });
        if calls {
            ImportOutcome::NoLiveCaller
        } else {
            ImportOutcome::NotCalled
        }
    }

    /// The inliner's decisions on calls of `names`.
    fn inlining(&self, names: &[&str]) -> Vec<InlineSite> {
        let mut sites = Vec::new();
        for (i, decisions) in self.inlining.iter().enumerate() {
            let Some(decisions) = decisions else {
                continue;
            };
            for decision in decisions
                .iter()
                .filter(|d| names.contains(&d.callee.as_str()))
            {
                let text = |value: &str| (!value.is_empty()).then(|| value.to_string());
                sites.push(InlineSite {
                    module: self.module_name(i as u32),
                    caller: decision.caller.clone(),
                    inlined: decision.inlined,
                    remark: decision.remark.clone(),
                    cost: text(&decision.cost),
                    threshold: text(&decision.threshold),
                    reason: text(&decision.reason),
                });
            }
        }
        sites
    }
}
