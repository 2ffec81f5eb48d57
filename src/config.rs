//! What a session is asked to do: optimization level, target, emission,
//! input policy, save-temps.

use crate::input::InputOptions;
use std::path::PathBuf;
use std::str::FromStr;

/// Optimization level of the LTO pipeline (`lto<On>` / `thinlto<On>`) and of
/// code generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// No optimization.
    O0,
    /// Light optimization.
    O1,
    /// The default.
    #[default]
    O2,
    /// Aggressive optimization.
    O3,
    /// Optimize for size.
    Os,
    /// Optimize for size, aggressively.
    Oz,
}

impl OptLevel {
    /// The level as the new pass manager spells it (`O2`, `Os`, ...).
    pub fn pipeline_suffix(self) -> &'static str {
        match self {
            OptLevel::O0 => "O0",
            OptLevel::O1 => "O1",
            OptLevel::O2 => "O2",
            OptLevel::O3 => "O3",
            OptLevel::Os => "Os",
            OptLevel::Oz => "Oz",
        }
    }

    /// The named pipeline at this level: `lto<O2>`, `thinlto<Os>`.
    pub fn pipeline(self, kind: &str) -> String {
        format!("{kind}<{}>", self.pipeline_suffix())
    }

    /// Code generation level 0..=3: the size levels generate code at the
    /// default level, as clang does.
    pub fn codegen_level(self) -> u8 {
        match self {
            OptLevel::O0 => 0,
            OptLevel::O1 => 1,
            OptLevel::O2 | OptLevel::Os | OptLevel::Oz => 2,
            OptLevel::O3 => 3,
        }
    }

    /// Whether the loop and SLP vectorizers run: from -O2 up, as LLVM's LTO
    /// backends set them (the C API's defaults leave SLP off and loop
    /// vectorization on at every level).
    pub fn vectorizes(self) -> bool {
        matches!(self, OptLevel::O2 | OptLevel::O3)
    }
}

impl FromStr for OptLevel {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim_start_matches('O') {
            "0" => Ok(OptLevel::O0),
            "1" => Ok(OptLevel::O1),
            "2" => Ok(OptLevel::O2),
            "3" => Ok(OptLevel::O3),
            "s" => Ok(OptLevel::Os),
            "z" => Ok(OptLevel::Oz),
            _ => Err(format!("unknown optimization level {text:?} (0-3, s, z)")),
        }
    }
}

/// Relocation model of the emitted code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelocModel {
    /// Position-independent: links into PIE executables and shared objects.
    #[default]
    Pic,
    /// Absolute addresses.
    Static,
    /// Mach-O's dynamic-no-pic.
    DynamicNoPic,
}

/// Code model of the emitted code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodeModel {
    /// The target's default.
    #[default]
    Default,
    /// Small.
    Small,
    /// Kernel.
    Kernel,
    /// Medium.
    Medium,
    /// Large.
    Large,
}

/// What the LTO output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmitKind {
    /// A relocatable object file.
    #[default]
    Object,
    /// Assembly text.
    Assembly,
    /// Optimized bitcode.
    Bitcode,
}

impl FromStr for EmitKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "obj" | "object" => Ok(EmitKind::Object),
            "asm" | "assembly" => Ok(EmitKind::Assembly),
            "bc" | "bitcode" | "llvm-bc" => Ok(EmitKind::Bitcode),
            _ => Err(format!("unknown emit kind {text:?} (obj, asm, bc)")),
        }
    }
}

/// How many ThinLTO backends run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jobs {
    /// One per available core.
    #[default]
    Auto,
    /// Exactly this many (at least one).
    Fixed(usize),
}

impl Jobs {
    /// The number of backend threads this means on this machine.
    pub fn count(self) -> usize {
        match self {
            Jobs::Auto => std::thread::available_parallelism().map_or(1, |n| n.get()),
            Jobs::Fixed(n) => n.max(1),
        }
    }
}

/// Where ThinLTO keeps optimized objects between runs, and when it prunes
/// them (lld's `--thinlto-cache-dir` and `--thinlto-cache-policy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// The cache directory, created when missing. Entries are
    /// `llvmcache-<key>` files; it may be shared by concurrent runs.
    pub dir: PathBuf,
    /// Pruning policy in lld's syntax
    /// (`prune_interval=20m:prune_after=1w:cache_size=75%:cache_size_bytes=..:cache_size_files=..`);
    /// empty means lld's defaults.
    pub policy: String,
}

impl CacheConfig {
    /// A cache in `dir` with lld's default pruning policy.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CacheConfig {
            dir: dir.into(),
            policy: String::new(),
        }
    }
}

/// Settings of an LTO session.
#[derive(Debug, Clone)]
pub struct Config {
    /// Pipeline and codegen optimization level.
    pub opt_level: OptLevel,
    /// Target triple; `None` takes the modules' own.
    pub target_triple: Option<String>,
    /// Target CPU; `None` is the triple's generic CPU (`x86-64` on x86_64).
    pub target_cpu: Option<String>,
    /// Target features, LLVM syntax (`+avx2,-sse4a`).
    pub target_features: String,
    /// Relocation model (PIC by default, so PIE links work).
    pub reloc_model: RelocModel,
    /// Code model.
    pub code_model: CodeModel,
    /// One section per function (so the linker can garbage-collect).
    pub function_sections: bool,
    /// One section per data object.
    pub data_sections: bool,
    /// What to emit.
    pub emit: EmitKind,
    /// Default handling of embedded bitcode for inputs added by path.
    pub input_options: InputOptions,
    /// Where to write the module after each stage, if anywhere.
    pub save_temps: Option<PathBuf>,
    /// ThinLTO backend parallelism.
    pub jobs: Jobs,
    /// The ThinLTO cache, if any: a module whose key is in it is not
    /// compiled again (fat LTO does not use it).
    pub cache: Option<CacheConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            opt_level: OptLevel::O2,
            target_triple: None,
            target_cpu: None,
            target_features: String::new(),
            reloc_model: RelocModel::Pic,
            code_model: CodeModel::Default,
            function_sections: true,
            data_sections: true,
            emit: EmitKind::Object,
            input_options: InputOptions::default(),
            save_temps: None,
            jobs: Jobs::Auto,
            cache: None,
        }
    }
}
