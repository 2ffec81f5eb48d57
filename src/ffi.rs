//! `extern "C"` declarations of the C++ shim in `llvm-wrapper/` (see
//! `llvm-wrapper/wrapper.h` for the contract of each function). Nothing else
//! lives here; the safe owners are in `crate::llvm`.

use llvm_sys::prelude::{LLVMContextRef, LLVMModuleRef};
use llvm_sys::target_machine::LLVMTargetMachineRef;
use std::os::raw::{c_char, c_int};

/// Bytes owned by the shim (`std::string` behind an opaque pointer).
#[repr(C)]
pub struct LtoeBuffer {
    _private: [u8; 0],
}

/// One `llvm::Linker` over a destination module.
#[repr(C)]
pub struct LtoeLinker {
    _private: [u8; 0],
}

/// The combined ThinLTO summary index and the thin link's results.
#[repr(C)]
pub struct LtoeThinIndex {
    _private: [u8; 0],
}

/// Code generation settings that go into a cache key (`LtoeCacheSettings`).
#[repr(C)]
pub struct LtoeCacheSettings {
    pub cpu: *const c_char,
    pub features: *const c_char,
    pub triple: *const c_char,
    pub pipeline: *const c_char,
    pub opt_level: c_int,
    pub codegen_opt_level: c_int,
    pub reloc_model: c_int,
    pub code_model: c_int,
    pub file_type: c_int,
    pub function_sections: c_int,
    pub data_sections: c_int,
}

/// `LtoeTargetSettings` of `wrapper.h`: what the configuration decides about
/// the target machine (the rest of its options are lld's, set by the shim).
#[repr(C)]
pub struct LtoeTargetSettings {
    pub reloc_model: c_int,
    pub code_model: c_int,
    pub codegen_level: c_int,
    pub function_sections: c_int,
    pub data_sections: c_int,
    pub asm_verbose: c_int,
}

/// `LTOE_RELOC_*` of `wrapper.h`.
pub const LTOE_SUMMARY_FUNCTION: c_int = 0;
pub const LTOE_SUMMARY_VARIABLE: c_int = 1;
pub const LTOE_SUMMARY_ALIAS: c_int = 2;
pub const LTOE_GV_EXTERNAL: c_int = 0;
pub const LTOE_GV_AVAILABLE_EXTERNALLY: c_int = 1;
pub const LTOE_GV_LINKONCE_ANY: c_int = 2;
pub const LTOE_GV_LINKONCE_ODR: c_int = 3;
pub const LTOE_GV_WEAK_ANY: c_int = 4;
pub const LTOE_GV_WEAK_ODR: c_int = 5;
pub const LTOE_GV_APPENDING: c_int = 6;
pub const LTOE_GV_INTERNAL: c_int = 7;
pub const LTOE_GV_PRIVATE: c_int = 8;
pub const LTOE_GV_EXTERN_WEAK: c_int = 9;
pub const LTOE_GV_COMMON: c_int = 10;
pub const LTOE_VISIBILITY_DEFAULT: c_int = 0;
pub const LTOE_VISIBILITY_HIDDEN: c_int = 1;
pub const LTOE_VISIBILITY_PROTECTED: c_int = 2;
pub const LTOE_HOTNESS_UNKNOWN: c_int = 0;
pub const LTOE_HOTNESS_COLD: c_int = 1;
pub const LTOE_HOTNESS_NONE: c_int = 2;
pub const LTOE_HOTNESS_HOT: c_int = 3;
pub const LTOE_HOTNESS_CRITICAL: c_int = 4;
pub const LTOE_RELOC_PIC: c_int = 0;
pub const LTOE_RELOC_STATIC: c_int = 1;
pub const LTOE_RELOC_DYNAMIC_NO_PIC: c_int = 2;
/// `LTOE_FILE_*` of `wrapper.h`.
pub const LTOE_FILE_OBJECT: c_int = 0;
pub const LTOE_FILE_ASSEMBLY: c_int = 1;
pub const LTOE_FILE_NONE: c_int = 2;
/// `LTOE_PIPELINE_*` of `wrapper.h`: which passes of `lto<level>` run.
pub const LTOE_PIPELINE_WHOLE: c_int = 0;
pub const LTOE_PIPELINE_BEFORE_CUT: c_int = 1;
pub const LTOE_PIPELINE_FROM_CUT: c_int = 2;
/// `LTOE_OPT_*` of `wrapper.h`.
pub const LTOE_OPT_O0: c_int = 0;
pub const LTOE_OPT_O1: c_int = 1;
pub const LTOE_OPT_O2: c_int = 2;
pub const LTOE_OPT_O3: c_int = 3;
pub const LTOE_OPT_OS: c_int = 4;
pub const LTOE_OPT_OZ: c_int = 5;
/// `LTOE_CODE_MODEL_*` of `wrapper.h`.
pub const LTOE_CODE_MODEL_DEFAULT: c_int = 0;
pub const LTOE_CODE_MODEL_SMALL: c_int = 2;
pub const LTOE_CODE_MODEL_KERNEL: c_int = 3;
pub const LTOE_CODE_MODEL_MEDIUM: c_int = 4;
pub const LTOE_CODE_MODEL_LARGE: c_int = 5;

extern "C" {
    pub fn ltoe_string_free(s: *mut c_char);
    pub fn ltoe_buffer_data(b: *const LtoeBuffer) -> *const u8;
    pub fn ltoe_buffer_len(b: *const LtoeBuffer) -> usize;
    pub fn ltoe_buffer_free(b: *mut LtoeBuffer);

    pub fn ltoe_context_install_diagnostics(
        ctx: LLVMContextRef,
        remark_pattern: *const c_char,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_remarks_start(
        ctx: LLVMContextRef,
        filename: *const c_char,
        passes: *const c_char,
        format: *const c_char,
        with_hotness: c_int,
        threshold_auto: c_int,
        threshold: u64,
        out: *mut *mut std::ffi::c_void,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_remarks_finish(remarks: *mut std::ffi::c_void);
    pub fn ltoe_emit_dead_function_remark(module: LLVMModuleRef, name: *const c_char) -> c_int;
    pub fn ltoe_context_pop_diagnostic(
        ctx: LLVMContextRef,
        errors_only: c_int,
        severity: *mut c_int,
        message: *mut *mut c_char,
        pass: *mut *mut c_char,
        function: *mut *mut c_char,
    ) -> c_int;

    pub fn ltoe_bitcode_module_count(
        data: *const c_char,
        len: usize,
        count: *mut usize,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_bitcode_producer(
        data: *const c_char,
        len: usize,
        producer: *mut *mut c_char,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_bitcode_has_datalayout(
        data: *const c_char,
        len: usize,
        which: usize,
        has_datalayout: *mut c_int,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_bitcode_is_no_builtins(
        data: *const c_char,
        len: usize,
        no_builtins: *mut c_int,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_parse_bitcode(
        ctx: LLVMContextRef,
        data: *const c_char,
        len: usize,
        name: *const c_char,
        index: usize,
        out: *mut LLVMModuleRef,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_write_bitcode(
        module: LLVMModuleRef,
        thin: c_int,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;

    pub fn ltoe_module_uses_cfi(module: LLVMModuleRef) -> c_int;
    pub fn ltoe_linker_new(dest: LLVMModuleRef) -> *mut LtoeLinker;
    pub fn ltoe_linker_link(linker: *mut LtoeLinker, src: LLVMModuleRef) -> c_int;
    pub fn ltoe_linker_free(linker: *mut LtoeLinker);
    pub fn ltoe_internalize(
        module: LLVMModuleRef,
        preserved: *const *const c_char,
        preserved_count: usize,
        internalized: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_weaken_linkonce(
        module: LLVMModuleRef,
        names: *const *const c_char,
        count: usize,
    ) -> usize;
    pub fn ltoe_tag_origin(module: LLVMModuleRef, origin: *const c_char);
    pub fn ltoe_split_plan(
        module: LLVMModuleRef,
        count: std::os::raw::c_uint,
        by_origin: c_int,
        bitcode: *mut *mut LtoeBuffer,
        members: *mut *mut LtoeBuffer,
        locals: *mut *mut LtoeBuffer,
        shared: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_load_partition(
        ctx: LLVMContextRef,
        data: *const c_char,
        len: usize,
        name: *const c_char,
        own: *const *const c_char,
        own_count: usize,
        first: c_int,
        prune_units: c_int,
        out: *mut LLVMModuleRef,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_keep_definitions(
        module: LLVMModuleRef,
        names: *const *const c_char,
        count: usize,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_localize_definition(
        module: LLVMModuleRef,
        name: *const c_char,
        linkage: c_int,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_release_free_memory();
    pub fn ltoe_rename_global(
        module: LLVMModuleRef,
        name: *const c_char,
        new_name: *const c_char,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_update_vcall_visibility(
        module: LLVMModuleRef,
        whole_program_visibility: c_int,
        visible: *const *const c_char,
        visible_count: usize,
    );
    pub fn ltoe_module_instruction_count(module: LLVMModuleRef) -> u64;
    pub fn ltoe_verify_unchanged(module: LLVMModuleRef, err: *mut *mut c_char) -> c_int;
    pub fn ltoe_verify_input(module: LLVMModuleRef, err: *mut *mut c_char) -> c_int;
    pub fn ltoe_drop_unknown_subtarget_names(module: LLVMModuleRef, machine: LLVMTargetMachineRef);
    pub fn ltoe_install_fatal_error_handler();
    pub fn ltoe_sha1(data: *const c_char, len: usize, out: *mut u8);
    pub fn ltoe_blake3(data: *const c_char, len: usize, out: *mut u8);
    pub fn ltoe_parse_llvm_options(
        options: *const *const c_char,
        count: usize,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_runtime_libcall_symbols(triple: *const c_char, out: *mut *mut LtoeBuffer);
    pub fn ltoe_triple_arch(triple: *const c_char, out: *mut *mut LtoeBuffer);
    pub fn ltoe_bitcode_triple(
        data: *const c_char,
        len: usize,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_bitcode_symbols(
        data: *const c_char,
        len: usize,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;

    pub fn ltoe_create_target_machine(
        triple: *const c_char,
        cpu: *const c_char,
        features: *const c_char,
        settings: *const LtoeTargetSettings,
        module: LLVMModuleRef,
        out: *mut LLVMTargetMachineRef,
        err: *mut *mut c_char,
    ) -> c_int;

    pub fn ltoe_write_skip_index(out: *mut *mut LtoeBuffer);
    pub fn ltoe_archive_bytes(
        names: *const *const c_char,
        datas: *const *const u8,
        lens: *const usize,
        count: usize,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;

    pub fn ltoe_bitcode_lto_info(
        data: *const c_char,
        len: usize,
        which: usize,
        has_summary: *mut c_int,
        is_thin: *mut c_int,
        split_lto_unit: *mut c_int,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_guid_for_symbol(name: *const c_char) -> u64;
    pub fn ltoe_thin_index_new() -> *mut LtoeThinIndex;
    pub fn ltoe_thin_index_free(thin: *mut LtoeThinIndex);
    pub fn ltoe_thin_index_add(
        thin: *mut LtoeThinIndex,
        data: *const c_char,
        len: usize,
        which: usize,
        module_id: *const c_char,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_graph(
        thin: *const LtoeThinIndex,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_bitcode_symbol_details(
        data: *const c_char,
        len: usize,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_demangle(name: *const c_char, out: *mut *mut LtoeBuffer);
    pub fn ltoe_context_record_inlining(ctx: LLVMContextRef) -> c_int;
    pub fn ltoe_context_take_inlining(ctx: LLVMContextRef, out: *mut *mut LtoeBuffer);
    pub fn ltoe_thin_index_definitions(
        thin: *const LtoeThinIndex,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_promoted_name(
        thin: *const LtoeThinIndex,
        module_id: *const c_char,
        name: *const c_char,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_set_prevailing(
        thin: *mut LtoeThinIndex,
        guids: *const u64,
        ordinals: *const u32,
        count: usize,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_compute_dead(
        thin: *mut LtoeThinIndex,
        preserved: *const u64,
        count: usize,
        import_enabled: c_int,
    );
    pub fn ltoe_thin_index_compute_imports(thin: *mut LtoeThinIndex, import_enabled: c_int);
    pub fn ltoe_thin_index_devirtualize(
        thin: *mut LtoeThinIndex,
        whole_program_visibility: c_int,
        dynamic_exports: *const u64,
        count: usize,
    );
    pub fn ltoe_thin_backend_optimize(
        thin: *const LtoeThinIndex,
        module: LLVMModuleRef,
        tm: LLVMTargetMachineRef,
        level: c_int,
        vectorize: c_int,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_lto_pipeline_text(
        tm: LLVMTargetMachineRef,
        level: c_int,
        vectorize: c_int,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_lto_optimize(
        module: LLVMModuleRef,
        tm: LLVMTargetMachineRef,
        level: c_int,
        vectorize: c_int,
        part: c_int,
        cut: std::os::raw::c_uint,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_whole_module_late_passes(module: LLVMModuleRef) -> *const c_char;
    pub fn ltoe_thin_index_cross_module_guids(
        thin: *const LtoeThinIndex,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_internalize_and_promote(
        thin: *mut LtoeThinIndex,
        cross_module: *const u64,
        count: usize,
    );
    pub fn ltoe_thin_index_resolve_prevailing(thin: *mut LtoeThinIndex, elf_visibility: c_int);
    pub fn ltoe_thin_index_propagate_attributes(thin: *mut LtoeThinIndex);
    pub fn ltoe_thin_index_module_imports(
        thin: *const LtoeThinIndex,
        module_id: *const c_char,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_module_stats(
        thin: *const LtoeThinIndex,
        module_id: *const c_char,
        definitions: *mut usize,
        live: *mut usize,
        exports: *mut usize,
        instructions: *mut u64,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_backend_rename(
        thin: *const LtoeThinIndex,
        module: LLVMModuleRef,
        tm: LLVMTargetMachineRef,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_backend_resolve(
        thin: *const LtoeThinIndex,
        module: LLVMModuleRef,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_backend_internalize(
        thin: *const LtoeThinIndex,
        module: LLVMModuleRef,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_backend_import(
        thin: *const LtoeThinIndex,
        module: LLVMModuleRef,
        tm: LLVMTargetMachineRef,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_write_module_index(
        thin: *const LtoeThinIndex,
        module_id: *const c_char,
        index: *mut *mut LtoeBuffer,
        sources: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_load_combined(
        thin: *mut LtoeThinIndex,
        data: *const c_char,
        len: usize,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_module_paths(
        thin: *const LtoeThinIndex,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_bitcode_module_hash(
        data: *const c_char,
        len: usize,
        out: *mut u8,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_init_backend_imports(
        thin: *mut LtoeThinIndex,
        module: LLVMModuleRef,
        sources: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_attach_module(
        thin: *mut LtoeThinIndex,
        data: *const c_char,
        len: usize,
        module_id: *const c_char,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_stable_promotion_names(
        thin: *mut LtoeThinIndex,
        ids: *const *const c_char,
        seeds: *const *const c_char,
        count: usize,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_content_hash(
        thin: *const LtoeThinIndex,
        module_id: *const c_char,
        out: *mut u8,
    );
    pub fn ltoe_thin_index_cache_key(
        thin: *const LtoeThinIndex,
        module_id: *const c_char,
        settings: *const LtoeCacheSettings,
        extra: *const c_char,
        extra_len: usize,
        digest_sources: *const u32,
        digests: *const u8,
        digest_count: usize,
        substitute_sources: *const u32,
        substitute_hashes: *const c_char,
        substitute_count: usize,
        out: *mut *mut LtoeBuffer,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_source_state(
        thin: *const LtoeThinIndex,
        module_id: *const c_char,
        out: *mut u8,
        view: *mut u8,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_thin_index_import_digest(
        thin: *const LtoeThinIndex,
        module_id: *const c_char,
        version: *const c_char,
        version_len: usize,
        guids: *const u64,
        definitions: *const u8,
        count: usize,
        out: *mut u8,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_cache_policy_parse(
        policy: *const c_char,
        expiration_seconds: *mut u64,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_cache_prune(
        dir: *const c_char,
        policy: *const c_char,
        pruned: *mut c_int,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn ltoe_xxh3_64(data: *const u8, len: usize) -> u64;
}
