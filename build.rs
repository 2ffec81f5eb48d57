//! Compiles the C++ shim in `llvm-wrapper/` against LLVM 22 and links libLLVM.

use std::path::PathBuf;
use std::process::Command;

const LLVM_MAJOR: &str = "22";
const PACKAGE_HINT: &str = "install Debian's llvm-22-dev (run ./ci/setup.sh)";

fn llvm_config() -> PathBuf {
    if let Ok(prefix) = std::env::var("LLVM_SYS_221_PREFIX") {
        return PathBuf::from(prefix).join("bin/llvm-config");
    }
    PathBuf::from("/usr/lib/llvm-22/bin/llvm-config")
}

fn query(config: &PathBuf, arg: &str) -> String {
    match Command::new(config).arg(arg).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        _ => fail(&format!("{} {arg} did not run", config.display())),
    }
}

fn fail(what: &str) -> ! {
    // One clear line; cargo shows it as the build failure.
    eprintln!("error: LLVM {LLVM_MAJOR} not found ({what}): {PACKAGE_HINT}");
    std::process::exit(1);
}

fn main() {
    println!("cargo:rerun-if-env-changed=LLVM_SYS_221_PREFIX");
    println!("cargo:rerun-if-changed=llvm-wrapper");
    let config = llvm_config();
    if !config.exists() {
        fail(&format!("{} is missing", config.display()));
    }
    let version = query(&config, "--version");
    if version.split('.').next() != Some(LLVM_MAJOR) {
        fail(&format!("{} reports version {version}", config.display()));
    }

    let mut build = cc::Build::new();
    build.cpp(true);
    for flag in query(&config, "--cxxflags").split_whitespace() {
        // Warnings policy is ours, not LLVM's build.
        if flag.starts_with("-W") {
            continue;
        }
        // LLVM's headers are not ours to warn about.
        match flag.strip_prefix("-I") {
            Some(dir) => build.flag(format!("-isystem{dir}")),
            None => build.flag(flag),
        };
    }
    build.flag_if_supported("-Wno-unused-parameter");
    // The shim's inline LLVM header code must be compiled as LLVM itself
    // was: with assertions when LLVM has them, else with NDEBUG (an
    // assertion in a header the release LLVM never checks would abort the
    // host on input LLVM handles).
    if query(&config, "--assertion-mode") != "ON" {
        build.define("NDEBUG", None);
    }
    let sources = [
        "diagnostics",
        "bitcode",
        "linker",
        "target",
        "archive",
        "thin",
        "cache",
        "distributed",
        "checks",
        "symbols",
        "partition",
        "pipeline",
        "explain",
    ];
    for source in sources {
        let path = format!("llvm-wrapper/{source}.cpp");
        println!("cargo:rerun-if-changed={path}");
        build.file(path);
    }
    build.include("llvm-wrapper");
    build.compile("lto_engine_wrapper");

    let libdir = query(&config, "--libdir");
    println!("cargo:rustc-link-search=native={libdir}");
    println!("cargo:rustc-link-lib=dylib=LLVM-{LLVM_MAJOR}");
    // Tests and the CLI run without LD_LIBRARY_PATH.
    println!("cargo:rustc-link-arg=-Wl,-rpath,{libdir}");
}
