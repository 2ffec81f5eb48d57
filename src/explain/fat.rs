//! Explanations from a fat run. The fat pipeline keeps no index, so the
//! modules' summaries are linked here as a thin link would link them (only
//! when explaining): which modules define and declare the symbol, which
//! copy prevails, whether the whole program's liveness reaches it (lld's
//! regular LTO drops what it does not, and notes it). What the fat run
//! itself decided comes from the run: the restriction pass's
//! internalization, the merged module's inliner decisions, and which
//! partition's object holds the symbol.

use super::thin::{explain_link, FatView};
use crate::config::{Config, OptLevel};
use crate::error::Result;
use crate::input::BitcodeInput;
use crate::llvm::InlineDecision;
use crate::output::OutputObject;
use crate::report::{Report, SymbolExplanation};
use crate::thin::ThinData;
use std::collections::BTreeSet;

/// One explanation per symbol `config.explain` names, for a fat run over
/// `modules` that kept `preserved` visible.
pub(crate) fn explain_fat(
    modules: &[BitcodeInput],
    preserved: &BTreeSet<String>,
    config: &Config,
    report: &Report,
    objects: &[OutputObject],
    inlining: Option<Vec<InlineDecision>>,
) -> Result<Vec<SymbolExplanation>> {
    let prepared = modules
        .iter()
        .map(|module| crate::thin::prepare(module, config))
        .collect::<Result<Vec<_>>>()?;
    // Liveness and prevailing copies only: no imports.
    let link_config = Config {
        opt_level: OptLevel::O0,
        ..config.clone()
    };
    let data = ThinData::link(prepared, preserved, &link_config, false)?;
    // Fat LTO has one module's inliner decisions; name them by the base.
    let mut per_module = vec![None; data.modules().len()];
    let base = report
        .base_module
        .as_deref()
        .and_then(|base| data.modules().iter().position(|m| m.name == base));
    if let (Some(base), Some(inlining)) = (base, inlining) {
        for (i, slot) in per_module.iter_mut().enumerate() {
            *slot = Some(if i == base {
                inlining.clone()
            } else {
                Vec::new()
            });
        }
    }
    let partitions: Vec<OutputObject> = objects
        .iter()
        .enumerate()
        .map(|(i, object)| OutputObject {
            name: format!("partition {i} ({})", object.file_name),
            ..object.clone()
        })
        .collect();
    let fat = FatView {
        internalized: report.internalized.iter().map(String::as_str).collect(),
    };
    explain_link(&data, &per_module, &partitions, config, Some(fat))
}
