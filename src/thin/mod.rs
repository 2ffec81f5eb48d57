//! ThinLTO: the thin link ([`ThinData`], `index.rs`) and the per-module
//! backends (`backend.rs`), run in parallel.

mod backend;
mod index;

pub use backend::{BackendOutput, ProgressHook};
pub use index::{ImportSource, ThinData, ThinModule};

use crate::config::Config;
use crate::error::Result;
use crate::input::BitcodeInput;
use crate::output::OutputObject;
use crate::report::{ModuleReport, Report, ThinModuleReport, ThinRunReport};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// Runs thin LTO over `modules`: the thin link, then every backend on
/// `config.jobs` threads. Returns one object per module, in module order.
pub(crate) fn run(
    config: &Config,
    modules: &[BitcodeInput],
    preserved: &BTreeSet<String>,
    kind: &str,
    progress: Option<ProgressHook<'_>>,
) -> Result<(Vec<OutputObject>, Report)> {
    let mut report = Report {
        kind: kind.to_string(),
        preserved: preserved.iter().cloned().collect(),
        ..Report::default()
    };
    let cpu_before = crate::report::process_cpu_time();
    let data = Arc::new(report.time("thin link", || ThinData::build(modules, preserved, config))?);
    let thin_link = report.phases.last().map(|p| p.1).unwrap_or_default();

    let jobs = config.jobs.count();
    let start = Instant::now();
    let outputs = backend::run_all(&data, config, jobs, progress)?;
    let backend_wall = start.elapsed();
    report.phases.push(("backends".to_string(), backend_wall));

    let mut objects = Vec::with_capacity(outputs.len());
    let mut thin_modules = Vec::with_capacity(outputs.len());
    for (i, (module, output)) in data.modules().iter().zip(outputs).enumerate() {
        let stats = data.stats(i);
        let imports = data.imports(i);
        // Sorted by module name, as ThinData::imports groups them.
        let import_modules: Vec<String> = imports.iter().map(|s| s.module.clone()).collect();
        let file_name = object_file_name(module, config);
        report.modules.push(ModuleReport {
            name: module.name.clone(),
            origin: module.origin.to_string(),
            bitcode_bytes: module.input_bytes,
            instructions: 0,
        });
        thin_modules.push(ThinModuleReport {
            name: module.name.clone(),
            object: file_name.clone(),
            object_bytes: output.bytes.len(),
            summary_added: module.summary_added,
            definitions: stats.definitions,
            live_definitions: stats.live,
            exports: stats.exports,
            imports,
            steps: output.steps,
        });
        report.output_bytes += output.bytes.len();
        objects.push(OutputObject {
            name: module.name.clone(),
            file_name,
            imports: import_modules,
            bytes: output.bytes,
        });
    }
    report.thin = Some(ThinRunReport {
        jobs,
        thin_link,
        backend_wall,
        cpu: crate::report::process_cpu_time()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before)),
        peak_rss_bytes: crate::report::peak_rss_bytes(),
        modules: thin_modules,
    });
    Ok((objects, report))
}

/// `<stem>.lto.o` (or `.s` / `.bc` for the other emit kinds).
fn object_file_name(module: &ThinModule, config: &Config) -> String {
    let extension = match config.emit {
        crate::config::EmitKind::Object => "o",
        crate::config::EmitKind::Assembly => "s",
        crate::config::EmitKind::Bitcode => "bc",
    };
    format!("{}.lto.{extension}", module.file_stem)
}
