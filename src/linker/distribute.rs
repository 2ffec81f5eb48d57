//! `--thinlto-distributor=`: the linker mode's distributed ThinLTO, as lld
//! 22 does it. The engine runs the thin link itself, writes each module's
//! index file and lld's job file, runs the distributor on it, and gives the
//! real link the objects the jobs wrote. Full-LTO modules still run in
//! process (lld's regular LTO does too).
//!
//! Every path the jobs and index files name is relative to the working
//! directory where the engine can make it so: the modules (a Cargo build
//! names them by absolute paths), the index files and the objects. A
//! distributor that runs jobs on machines without this one's filesystem
//! (the Dask one in `dask-distributor/`) then lays the files out under a
//! job directory of its own, since the index files name the modules a
//! backend imports from by those same paths.

use super::{diagnostic_line, LinkLine, LtoObjects, Resolved};
use crate::config::{Config, LtoKind};
use crate::error::{Error, Phase, Result};
use crate::input::ModuleOrigin;
use crate::session::{Backends, Input, Session};
use crate::thin::{distributor_json, run_distributor, IndexOptions, JobStyle, RemoteCompiler};
use std::path::{Component, Path, PathBuf};

/// The path relative to the working directory, for an absolute path
/// without `..` (whose meaning a lexical rewrite could change through a
/// symbolic link); any other path as it is.
pub(super) fn relative_to_cwd(path: &Path) -> PathBuf {
    let plain = path
        .components()
        .all(|c| !matches!(c, Component::ParentDir));
    if !path.is_absolute() || !plain {
        return path.to_path_buf();
    }
    match super::relative_from_cwd(path) {
        Some(relative) if relative.as_os_str().is_empty() => PathBuf::from("."),
        Some(relative) => relative,
        None => path.to_path_buf(),
    }
}

/// Where the index files, the copies of archive members and the jobs'
/// objects go: beside the output, under a name without the process id, so
/// that a relink names every module and index file as the last one did
/// (the index files record the modules' paths, and a distributor's action
/// cache keys a job by them). Removed when the link is done.
pub(super) fn index_dir(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map_or("a.out".into(), |n| n.to_string_lossy());
    relative_to_cwd(&output.with_file_name(format!("{name}.lto-engine-dtlto")))
}

/// Runs the thin group through the distributor; the objects for the real
/// link (modules the thin link compiles alone first, then one per job, in
/// module order) and the run's report.
pub(super) fn run(
    line: &LinkLine,
    config: &Config,
    resolved: &Resolved,
    group: &[usize],
    preserve: Vec<String>,
    output_path: &Path,
) -> Result<(LtoObjects, serde_json::Value)> {
    let Some(distributor) = &line.lto.distributor else {
        return Err(Error::Usage(
            "ld: the distributed thin link needs --thinlto-distributor".to_string(),
        ));
    };
    let session = Session::new(config.clone(), LtoKind::Thin)?;
    for &i in group {
        let module = &resolved.modules[i];
        // A file is compiled where it is (named from here); an archive
        // member is written to the index directory first.
        let (name, origin) = if module.member {
            (module.name.clone(), ModuleOrigin::ArchiveMember)
        } else {
            let relative = relative_to_cwd(Path::new(&module.name));
            (relative.display().to_string(), ModuleOrigin::File)
        };
        session.add(Input::shared_bitcode(name, module.bytes.clone(), origin))?;
    }
    session.preserve(preserve)?;
    session.preserved_by_linker();
    let work = index_dir(output_path);
    let output = session.run_with(Backends::IndexFiles(IndexOptions::new(&work)))?;
    for diagnostic in &output.diagnostics {
        eprintln!("lto-engine: {}", diagnostic_line(diagnostic));
    }
    let written = output.write(&crate::output::WriteTo::scratch_dir(work.join("alone")))?;
    let compiler = match &line.lto.remote_compiler {
        // lld's jobs are clang's command lines whatever the compiler is
        // called (the engine's `backend` takes them too).
        Some(path) => RemoteCompiler {
            path: PathBuf::from(path),
            style: JobStyle::Clang,
        },
        None => RemoteCompiler {
            path: std::env::current_exe().map_err(|e| Error::External {
                command: "lto-engine".to_string(),
                reason: format!("cannot find this executable for the backend jobs: {e}"),
            })?,
            style: JobStyle::Engine,
        },
    };
    let mut json = distributor_json(
        &output.jobs,
        &compiler,
        config,
        &output_path.display().to_string(),
    );
    // lld's remote-compiler arguments: prepended ones right after the
    // compiler, the others after the engine's common arguments.
    if let Some(args) = json["common"]["args"].as_array_mut() {
        for (k, arg) in line.lto.remote_compiler_prepend_args.iter().enumerate() {
            args.insert(1 + k, arg.clone().into());
        }
        args.extend(
            line.lto
                .remote_compiler_args
                .iter()
                .cloned()
                .map(Into::into),
        );
    }
    let json_path = work.join("jobs.json");
    let text = serde_json::to_string_pretty(&json)
        .map_err(|e| Error::io(json_path.display(), Phase::Write, e.into()))?;
    crate::fs::write_atomically(&json_path, text.as_bytes())?;
    let mut command = vec![distributor.clone()];
    command.extend(line.lto.distributor_args.iter().cloned());
    run_distributor(&command, &json_path, &output.jobs)?;
    let mut paths = written.objects.clone();
    paths.extend(output.jobs.iter().map(|job| job.native_object.clone()));
    let mut report = output.report.to_json();
    report["distributed"] = serde_json::json!({
        "distributor": command,
        "jobs": output.jobs.len(),
        "job_file": json_path,
    });
    Ok((
        LtoObjects {
            paths,
            cache_keys: None,
        },
        report,
    ))
}
