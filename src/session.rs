//! The library entry point: a [`Session`] collects modules and symbols to
//! preserve, then runs LTO.

use crate::config::Config;
use crate::error::{Error, Phase, Result};
use crate::fat;
use crate::input::{InputBytes, InputOptions, Inputs};
use crate::llvm::ModuleBuffer;
use crate::output::{Output, OutputObject};
use inkwell::module::Module;
use std::collections::BTreeSet;
use std::path::Path;

/// Which LTO to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LtoKind {
    /// Link every module into one and optimize it as a whole.
    Fat,
}

/// An LTO session: add inputs, name what must stay visible, run.
#[derive(Debug)]
pub struct Session {
    config: Config,
    inputs: Inputs,
    exports: BTreeSet<String>,
}

impl Session {
    /// A session with `config`. Fails when the configured target cannot be
    /// built.
    pub fn new(config: Config) -> Result<Self> {
        if let Some(triple) = &config.target_triple {
            crate::codegen::target_machine(&config, triple)?;
        }
        Ok(Session {
            config,
            inputs: Inputs::default(),
            exports: BTreeSet::new(),
        })
    }

    /// The session's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Adds an in-memory module, serialized now with LLVM's bitcode writer
    /// (its context may be dropped right after).
    pub fn add_module(&mut self, name: &str, module: &Module<'_>) -> Result<()> {
        let buffer = ModuleBuffer::new(module)
            .map_err(|reason| Error::invalid(name, Phase::Write, reason))?;
        self.inputs.add_bitcode(name, InputBytes::module(buffer))
    }

    /// Adds bitcode held in memory under a unique `name`.
    pub fn add_bitcode(&mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Result<()> {
        self.inputs
            .add_bitcode(name, InputBytes::owned(bytes.into()))
    }

    /// Adds a file (bitcode, object, archive), with the session's default
    /// handling of embedded bitcode.
    pub fn add_path(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let options = self.config.input_options;
        self.add_path_with(path, options)
    }

    /// Adds a file with its own handling of embedded bitcode.
    pub fn add_path_with(&mut self, path: impl AsRef<Path>, options: InputOptions) -> Result<()> {
        self.inputs.add_path(path.as_ref(), options)
    }

    /// Names symbols that must stay visible (exported) after LTO.
    pub fn preserve<I, S>(&mut self, symbols: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exports.extend(symbols.into_iter().map(Into::into));
    }

    /// Everything that stays visible: the exports plus every symbol native
    /// inputs reference.
    pub fn preserved_symbols(&self) -> BTreeSet<String> {
        let mut all = self.exports.clone();
        all.extend(self.inputs.native_references.iter().cloned());
        all
    }

    /// The inputs added so far, classified.
    pub fn inputs(&self) -> &Inputs {
        &self.inputs
    }

    /// Runs LTO of `kind` over the inputs.
    pub fn run(&self, kind: LtoKind) -> Result<Output> {
        match kind {
            LtoKind::Fat => {
                let preserved = self.preserved_symbols();
                let (bytes, report) = fat::run(&self.config, &self.inputs.modules, &preserved)?;
                Ok(Output {
                    objects: vec![OutputObject {
                        name: report.base_module.clone().unwrap_or_default(),
                        bytes,
                    }],
                    native_inputs: self.inputs.link_items.clone(),
                    report,
                })
            }
        }
    }
}
