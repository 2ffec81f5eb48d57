//! LLVM's ThinLTO import walk (`ComputeCrossModuleImport` in
//! `FunctionImport.cpp`), replayed over the index's graph to recover what
//! LLVM keeps to itself: for every callee it looked at in a module, the
//! highest threshold it was considered at and, when it was not imported,
//! the reason (what `-print-import-failures` prints). The import lists
//! themselves stay LLVM's: `explain` reports a reason only where this
//! replay agrees with them.
//!
//! The walk: every live function the module defines is processed at the
//! base threshold (`-import-instr-limit`); processing a function looks at
//! each call to a function the module does not define, at the function's
//! threshold times the call's hotness multiplier; a callee that qualifies
//! is imported and processed in turn, at its caller's threshold times the
//! evolution factor. A callee seen again at a higher threshold is looked
//! at again. Thresholds are `f32` products truncated to `u32` where LLVM
//! stores them, and the worklist is a stack walked in LLVM's order, so the
//! replay matches even where the order matters (profile hotness).

use crate::llvm::{GraphEntry, GraphSummary, Hotness, IndexGraph};
use crate::report::{ImportRejection, SymbolKind};
use std::collections::HashMap;

/// The importer's settings: LLVM's defaults, or the `-mllvm` options that
/// change them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImportSettings {
    instr_limit: u32,
    instr_factor: f32,
    hot_instr_factor: f32,
    hot_multiplier: f32,
    critical_multiplier: f32,
    cold_multiplier: f32,
    force_import_all: bool,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
            instr_limit: 100,
            instr_factor: 0.7,
            hot_instr_factor: 1.0,
            hot_multiplier: 10.0,
            critical_multiplier: 100.0,
            cold_multiplier: 0.0,
            force_import_all: false,
        }
    }
}

impl ImportSettings {
    /// The settings LLVM's options (`-mllvm`, as given to the session)
    /// make; an error naming the option when the replay cannot follow it.
    pub(crate) fn from_llvm_options(options: &[String]) -> Result<Self, String> {
        let mut settings = ImportSettings::default();
        for option in options {
            let trimmed = option.trim_start_matches('-');
            let (name, value) = trimmed.split_once('=').unwrap_or((trimmed, ""));
            let number = |what: &str| -> Result<f32, String> {
                value
                    .parse::<f32>()
                    .map_err(|_| format!("cannot read -{what}={value}"))
            };
            match name {
                "import-instr-limit" => {
                    settings.instr_limit = value
                        .parse()
                        .map_err(|_| format!("cannot read -import-instr-limit={value}"))?
                }
                "import-instr-evolution-factor" => settings.instr_factor = number(name)?,
                "import-hot-evolution-factor" => settings.hot_instr_factor = number(name)?,
                "import-hot-multiplier" => settings.hot_multiplier = number(name)?,
                "import-critical-multiplier" => settings.critical_multiplier = number(name)?,
                "import-cold-multiplier" => settings.cold_multiplier = number(name)?,
                "force-import-all" => settings.force_import_all = value != "false" && value != "0",
                "import-cutoff"
                | "thinlto-workload-def"
                | "import-all-index"
                | "import-declaration" => {
                    return Err(format!(
                        "-{name} changes LLVM's import walk in ways explain does not replay"
                    ))
                }
                _ => {}
            }
        }
        Ok(settings)
    }

    fn multiplier(&self, hotness: Hotness) -> f32 {
        match hotness {
            Hotness::Hot => self.hot_multiplier,
            Hotness::Cold => self.cold_multiplier,
            Hotness::Critical => self.critical_multiplier,
            Hotness::Unknown | Hotness::None => 1.0,
        }
    }
}

/// A summary, by (entry, position in the entry's list).
type SummaryRef = (usize, usize);

/// What the walk of one module concluded about one callee.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CalleeVerdict {
    /// The highest threshold it was considered at.
    pub threshold: u32,
    /// The summary imported, when it was.
    pub imported: Option<SummaryRef>,
    /// Why not, when it was not (`None`: LLVM's `None`, no summary at all).
    pub rejected: Option<ImportRejection>,
}

/// The graph with its entries by GUID.
pub(crate) struct Walker<'g> {
    graph: &'g IndexGraph,
    by_guid: HashMap<u64, usize>,
    settings: ImportSettings,
}

impl<'g> Walker<'g> {
    pub(crate) fn new(graph: &'g IndexGraph, settings: ImportSettings) -> Self {
        let by_guid = graph
            .entries
            .iter()
            .enumerate()
            .map(|(i, entry)| (entry.guid, i))
            .collect();
        Walker {
            graph,
            by_guid,
            settings,
        }
    }

    /// The entry of `guid`, if the index has it.
    pub(crate) fn entry(&self, guid: u64) -> Option<&'g GraphEntry> {
        self.by_guid.get(&guid).map(|&i| &self.graph.entries[i])
    }

    fn summary(&self, at: SummaryRef) -> &'g GraphSummary {
        &self.graph.entries[at.0].summaries[at.1]
    }

    /// The summary an alias stands for (its aliasee's, in the same
    /// module), or the summary itself.
    fn base_object(&self, at: SummaryRef) -> Option<SummaryRef> {
        let summary = self.summary(at);
        let Some(aliasee) = summary.aliasee else {
            return Some(at);
        };
        let entry = *self.by_guid.get(&aliasee)?;
        let position = self.graph.entries[entry]
            .summaries
            .iter()
            .position(|s| s.module == summary.module)?;
        Some((entry, position))
    }

    /// LLVM's `qualifyCalleeCandidates` for one candidate.
    fn qualify(
        &self,
        at: SummaryRef,
        candidates: usize,
        caller_module: u32,
    ) -> Result<SummaryRef, ImportRejection> {
        let summary = self.summary(at);
        if !summary.live {
            return Err(ImportRejection::NotLive);
        }
        if summary.interposable {
            return Err(ImportRejection::InterposableLinkage);
        }
        let base = self
            .base_object(at)
            .filter(|&base| self.summary(base).kind == SymbolKind::Function)
            .ok_or(ImportRejection::GlobalVar)?;
        let function = self.summary(base);
        if function.local && candidates > 1 && function.module != caller_module {
            return Err(ImportRejection::LocalLinkageNotInModule);
        }
        if function.not_eligible_to_import {
            return Err(ImportRejection::NotEligible);
        }
        Ok(base)
    }

    /// LLVM's `selectCallee`: the first candidate that qualifies and fits,
    /// else the last candidate's reason (`None` when there is none).
    fn select(
        &self,
        entry: Option<usize>,
        threshold: u32,
        caller_module: u32,
    ) -> Result<SummaryRef, Option<ImportRejection>> {
        let Some(entry) = entry else {
            return Err(None);
        };
        let candidates = self.graph.entries[entry].summaries.len();
        let mut reason = None;
        for position in 0..candidates {
            let base = match self.qualify((entry, position), candidates, caller_module) {
                Ok(base) => base,
                Err(why) => {
                    reason = Some(why);
                    continue;
                }
            };
            let function = self.summary(base);
            if function.instructions > threshold
                && !function.always_inline
                && !self.settings.force_import_all
            {
                reason = Some(ImportRejection::TooLarge);
                continue;
            }
            if function.no_inline && !self.settings.force_import_all {
                reason = Some(ImportRejection::NoInline);
                continue;
            }
            return Ok(base);
        }
        Err(reason)
    }

    /// The walk of module `module`: every callee it looked at, by GUID.
    pub(crate) fn walk(&self, module: u32) -> HashMap<u64, CalleeVerdict> {
        let mut verdicts: HashMap<u64, CalleeVerdict> = HashMap::new();
        let Some(defined_order) = self.graph.defined_order.get(module as usize) else {
            return verdicts;
        };
        let defined: std::collections::HashSet<u64> = defined_order.iter().copied().collect();
        let mut worklist: Vec<(SummaryRef, u32)> = Vec::new();
        for &guid in defined_order {
            let Some(&entry) = self.by_guid.get(&guid) else {
                continue;
            };
            let Some(position) = self.graph.entries[entry]
                .summaries
                .iter()
                .position(|s| s.module == module)
            else {
                continue;
            };
            if !self.summary((entry, position)).live {
                continue;
            }
            let Some(base) = self.base_object((entry, position)) else {
                continue;
            };
            if self.summary(base).kind != SymbolKind::Function {
                continue;
            }
            self.process(
                base,
                self.settings.instr_limit,
                &defined,
                &mut worklist,
                &mut verdicts,
            );
        }
        // As LLVM: the module's own functions first, then what they import.
        while let Some((function, threshold)) = worklist.pop() {
            self.process(function, threshold, &defined, &mut worklist, &mut verdicts);
        }
        verdicts
    }

    /// LLVM's `computeImportForFunction`.
    fn process(
        &self,
        function: SummaryRef,
        threshold: u32,
        defined: &std::collections::HashSet<u64>,
        worklist: &mut Vec<(SummaryRef, u32)>,
        verdicts: &mut HashMap<u64, CalleeVerdict>,
    ) {
        let caller = self.summary(function);
        for &(callee, hotness) in &caller.calls {
            if defined.contains(&callee) {
                continue;
            }
            let new_threshold = threshold as f32 * self.settings.multiplier(hotness);
            let previously_visited = verdicts.contains_key(&callee);
            let verdict = verdicts.entry(callee).or_insert(CalleeVerdict {
                threshold: new_threshold as u32,
                imported: None,
                rejected: None,
            });
            let resolved = if let Some(imported) = verdict.imported {
                if new_threshold <= verdict.threshold as f32 {
                    continue;
                }
                verdict.threshold = new_threshold as u32;
                imported
            } else {
                if previously_visited && new_threshold <= verdict.threshold as f32 {
                    continue;
                }
                match self.select(
                    self.by_guid.get(&callee).copied(),
                    new_threshold as u32,
                    caller.module,
                ) {
                    Ok(chosen) => {
                        verdict.imported = Some(chosen);
                        verdict.rejected = None;
                        chosen
                    }
                    Err(reason) => {
                        if previously_visited {
                            verdict.threshold = new_threshold as u32;
                        }
                        verdict.rejected = reason;
                        continue;
                    }
                }
            };
            let factor = if hotness == Hotness::Hot {
                self.settings.hot_instr_factor
            } else {
                self.settings.instr_factor
            };
            worklist.push((resolved, (threshold as f32 * factor) as u32));
        }
    }

    /// The size LLVM prints for a rejected callee: its first summary's
    /// function's instruction count.
    pub(crate) fn printed_size(&self, guid: u64) -> Option<u32> {
        let entry = *self.by_guid.get(&guid)?;
        if self.graph.entries[entry].summaries.is_empty() {
            return None;
        }
        let base = self.base_object((entry, 0))?;
        let function = self.summary(base);
        (function.kind == SymbolKind::Function).then_some(function.instructions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_change_the_settings_or_are_refused() {
        let settings = ImportSettings::from_llvm_options(&[
            "-import-instr-limit=20".to_string(),
            "-import-hot-multiplier=3".to_string(),
            "-inline-threshold=10".to_string(),
        ])
        .unwrap();
        assert_eq!(settings.instr_limit, 20);
        assert_eq!(settings.hot_multiplier, 3.0);
        assert_eq!(settings.instr_factor, 0.7);
        let refused = ImportSettings::from_llvm_options(&["-import-cutoff=3".to_string()]);
        assert!(refused.unwrap_err().contains("-import-cutoff"));
    }
}
