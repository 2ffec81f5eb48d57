//! What an LTO run did: modules, the preserved and internalized symbols, time
//! per phase. Rendered as JSON (`--report`) and as a short human summary.

use serde_json::json;
use std::time::{Duration, Instant};

/// One module that went through LTO.
#[derive(Debug, Clone)]
pub struct ModuleReport {
    /// Its unique name.
    pub name: String,
    /// Where it came from (`file`, `archive member`, `embedded .llvmbc`, ...).
    pub origin: String,
    /// Size of its bitcode.
    pub bitcode_bytes: usize,
    /// Instructions after parsing (the fat LTO cost).
    pub instructions: u64,
}

/// The report of one run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `fat` (later `thin`).
    pub kind: String,
    /// Every module, in link order.
    pub modules: Vec<ModuleReport>,
    /// The module the others were linked into (fat LTO).
    pub base_module: Option<String>,
    /// Symbols kept visible: exports plus what native inputs reference.
    pub preserved: Vec<String>,
    /// Definitions the restriction pass made internal.
    pub internalized: Vec<String>,
    /// Size of the emitted output.
    pub output_bytes: usize,
    /// Wall time of each phase, in order.
    pub phases: Vec<(String, Duration)>,
}

impl Report {
    /// Times `work` as phase `name`.
    pub(crate) fn time<T>(&mut self, name: &str, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let value = work();
        self.phases.push((name.to_string(), start.elapsed()));
        value
    }

    /// Total wall time of all phases.
    pub fn total_time(&self) -> Duration {
        self.phases.iter().map(|(_, d)| *d).sum()
    }

    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "kind": self.kind,
            "base_module": self.base_module,
            "modules": self.modules.iter().map(|m| json!({
                "name": m.name,
                "origin": m.origin,
                "bitcode_bytes": m.bitcode_bytes,
                "instructions": m.instructions,
            })).collect::<Vec<_>>(),
            "preserved": self.preserved,
            "internalized": self.internalized,
            "output_bytes": self.output_bytes,
            "phases": self.phases.iter().map(|(name, d)| json!({
                "phase": name,
                "seconds": d.as_secs_f64(),
            })).collect::<Vec<_>>(),
            "total_seconds": self.total_time().as_secs_f64(),
        })
    }

    /// A few lines for a terminal.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} LTO: {} modules, {} symbols preserved, {} internalized, output {} bytes, {:.2}s\n",
            self.kind,
            self.modules.len(),
            self.preserved.len(),
            self.internalized.len(),
            self.output_bytes,
            self.total_time().as_secs_f64()
        );
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|(name, d)| format!("{name} {:.3}s", d.as_secs_f64()))
            .collect();
        out.push_str(&format!("  phases: {}\n", phases.join(", ")));
        if let Some(base) = &self.base_module {
            out.push_str(&format!("  base module: {base}\n"));
        }
        out
    }
}
