/* C ABI over the LLVM 22 C++ API used by lto-engine.
 *
 * Every function that input can make fail returns 0 on success and non-zero on
 * failure, with a message in *err (free it with ltoe_string_free). Nothing here
 * aborts on bad input and nothing here decides policy: the Rust side chooses
 * what to call and in which order. */
#ifndef LTO_ENGINE_WRAPPER_H
#define LTO_ENGINE_WRAPPER_H

#include <llvm-c/Types.h>
#include <llvm-c/TargetMachine.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- strings and byte buffers owned by the shim ---- */
typedef struct LtoeBuffer LtoeBuffer;
void ltoe_string_free(char *s);
const uint8_t *ltoe_buffer_data(const LtoeBuffer *b);
size_t ltoe_buffer_len(const LtoeBuffer *b);
void ltoe_buffer_free(LtoeBuffer *b);

/* ---- diagnostics (diagnostics.cpp) ---- */
/* Installs a handler that records every diagnostic of the context instead of
 * printing it (and, for errors, calling exit(1)). Optimization remarks are
 * recorded for passes whose name matches remark_pattern (an LLVM regex, as
 * -pass-remarks=); NULL records none. Returns 1 with *err on a bad pattern. */
int ltoe_context_install_diagnostics(LLVMContextRef ctx, const char *remark_pattern, char **err);
/* Streams ctx's optimization remarks (of passes matching `passes`, NULL or ""
 * for all) to `filename` in `format` ("yaml", "bitstream", "" = YAML), with
 * profile hotness when with_hotness, leaving out those whose count is below
 * `threshold` (the profile summary's when threshold_auto); *out is the open file, for
 * ltoe_remarks_finish once the context has done its work. Returns 1 with *err
 * when the file or the options are bad. */
int ltoe_remarks_start(LLVMContextRef ctx, const char *filename, const char *passes,
                       const char *format, int with_hotness, int threshold_auto,
                       uint64_t threshold, void **out, char **err);
/* Finalizes the remarks of ltoe_remarks_start and keeps the file. */
void ltoe_remarks_finish(void *remarks);
/* lld's "lto"/"deadfunction" remark on the function `name` of `module`;
 * 0 when the module defines no such function. */
int ltoe_emit_dead_function_remark(LLVMModuleRef module, const char *name);
/* Pops the oldest recorded error (errors_only) or other diagnostic; returns 0
 * when there is none. severity: 0 error, 1 warning, 2 remark, 3 note. *pass
 * and *function are set for optimization remarks, else NULL. */
int ltoe_context_pop_diagnostic(LLVMContextRef ctx, int errors_only, int *severity, char **message,
                                char **pass, char **function);

/* Makes the context keep the inliner's decisions (for explain), from its
 * remarks, apart from the diagnostics; 1 when the context does not carry
 * the recording handler. */
int ltoe_context_record_inlining(LLVMContextRef ctx);
/* Drains the inliner's decisions kept so far into *out (layout in
 * diagnostics.cpp). */
void ltoe_context_take_inlining(LLVMContextRef ctx, LtoeBuffer **out);

/* ---- bitcode reading and writing (bitcode.cpp) ---- */
/* Number of modules in a bitcode file (wrapper header allowed). */
int ltoe_bitcode_module_count(const char *data, size_t len, size_t *count, char **err);
/* Whether module `which` has a datalayout: 1 at once when the bitcode has a
 * symbol table (the writer builds one only then), else from a lazy load. */
int ltoe_bitcode_has_datalayout(const char *data, size_t len, size_t which,
                                int *has_datalayout, char **err);
/* The producer string of the identification block ("LLVM22.1.8"), or "" when absent. */
int ltoe_bitcode_producer(const char *data, size_t len, char **producer, char **err);
/* Parses and fully materializes module `index` of the buffer into `ctx`,
 * naming it `name`. The buffer need only live for the call. */
int ltoe_parse_bitcode(LLVMContextRef ctx, const char *data, size_t len, const char *name,
                       size_t index, LLVMModuleRef *out, char **err);
/* Serializes a module: plain bitcode with a module hash (thin == 0), or
 * bitcode with a ThinLTO module summary and hash (thin != 0). */
int ltoe_write_bitcode(LLVMModuleRef module, int thin, LtoeBuffer **out, char **err);
/* Whether the module was compiled for control-flow integrity (-fsanitize=cfi). */
int ltoe_module_uses_cfi(LLVMModuleRef module);

/* ---- fat LTO steps (linker.cpp) ---- */
typedef struct LtoeLinker LtoeLinker;
/* One Linker for all inputs of a fat LTO run; `dest` must outlive it. */
LtoeLinker *ltoe_linker_new(LLVMModuleRef dest);
/* Links `src` into the destination; `src` is consumed whether or not it succeeds.
 * On failure the reason is in the context's diagnostics. */
int ltoe_linker_link(LtoeLinker *linker, LLVMModuleRef src);
void ltoe_linker_free(LtoeLinker *linker);
/* Internalizes every definition whose name is not among `preserved` (nor in
 * llvm.used). Writes the names that were internalized, NUL-separated, to *internalized. */
int ltoe_internalize(LLVMModuleRef module, const char *const *preserved, size_t preserved_count,
                     LtoeBuffer **internalized, char **err);
/* Gives the linkonce definitions among `names` weak linkage (linkonce_odr
 * becomes weak_odr), so that no pass drops them once unused; returns how
 * many changed. */
size_t ltoe_weaken_linkonce(LLVMModuleRef module, const char *const *names, size_t count);
/* Before the fat pipeline, as LLVM's regular LTO: with whole-program
 * visibility, vtables not among `visible` get linkage-unit visibility so
 * whole-program devirtualization may use them; public type tests become type
 * tests (or are dropped without whole-program visibility). */
void ltoe_update_vcall_visibility(LLVMModuleRef module, int whole_program_visibility,
                                  const char *const *visible, size_t visible_count);
uint64_t ltoe_module_instruction_count(LLVMModuleRef module);

/* Plans `module` into `count` code generation partitions and writes it,
 * once, as bitcode (*bitcode) for ltoe_load_partition. Every definition
 * goes to the partition of the MD5 of its placement name (its root's
 * comdat, else its root's name; a cluster that must stay together, as an
 * alias and its aliasee, a comdat, a function and the users of its block
 * addresses, a constructor list and the globals its entries are
 * associated with, `llvm.used` and `llvm.compiler.used` and what they name,
 * a global and the one its section is linked to, by its
 * least name, a constructor list's own first): a function of names only. Locals become
 * hidden globals (unnamed ones get a name) so that partitions can refer to
 * each other. *members gets per partition {u64 size in instructions, u32
 * count, names (u32 length, bytes) of the definitions it holds}. *locals
 * gets one record per definition that was local before, sorted by name:
 * {u32 name length, name bytes, u8 linkage (0 internal, 1 private), u8
 * named by module asm, u32 defining partition, u32 count, u32 other
 * partitions that use it...}. *shared gets one record per linkonce
 * definition (not local) used in another partition than its own, sorted by
 * name: {u32 name length, name bytes, u32 defining partition}. The module
 * is left planned (its locals external): free it, don't compile it. */
int ltoe_split_plan(LLVMModuleRef module, unsigned count, int by_origin, LtoeBuffer **bitcode,
                    LtoeBuffer **members, LtoeBuffer **locals, LtoeBuffer **shared, char **err);
/* Tags every definition of `module` with the input module it comes from
 * (metadata `ltoe.origin`), before it is linked: with `by_origin`,
 * ltoe_split_plan places a definition by its origin, `<origin>#<bucket>`
 * (a bucket per 25,000 instructions of the origin, picked by the MD5 of
 * the definition's own placement name), and drops the tags. */
void ltoe_tag_origin(LLVMModuleRef module, const char *origin);
/* Loads one partition from the bitcode ltoe_split_plan wrote, into `ctx`:
 * the definitions named `own` (its members) as they are, every other one
 * as a declaration whose body is never read, and declarations nothing
 * uses dropped. Module-level asm only in partition 0 (`first`). With
 * `prune_units`, llvm.dbg.cu keeps only the compile units the partition's
 * code and globals reach (the caller verifies: a unit reached some other
 * way makes the debug info invalid, and it loads again without). */
int ltoe_load_partition(LLVMContextRef ctx, const char *data, size_t len, const char *name,
                        const char *const *own, size_t own_count, int first, int prune_units,
                        LLVMModuleRef *out, char **err);
/* Adds the definitions `names` to llvm.compiler.used, so that no pass drops
 * them as unused; fails when one is not defined in the module. */
int ltoe_keep_definitions(LLVMModuleRef module, const char *const *names, size_t count,
                          char **err);
/* Gives the definition `name` local linkage back (0 internal, 1 private)
 * and default visibility. */
int ltoe_localize_definition(LLVMModuleRef module, const char *name, int linkage, char **err);
/* Renames the global value `name` (a definition or a declaration); fails
 * when `new_name` is taken. */
int ltoe_rename_global(LLVMModuleRef module, const char *name, const char *new_name, char **err);
/* Gives free heap pages back to the operating system (glibc's malloc_trim;
 * nothing elsewhere). */
void ltoe_release_free_memory(void);

/* Input checks (checks.cpp). The IR verifier on an input: broken IR is an
 * error with the verifier's text; broken debug info alone is a warning and
 * the debug info is stripped, as LLVM's LTO does. */
int ltoe_verify_input(LLVMModuleRef module, char **err);
/* The IR verifier on a module that is not ours: nothing is changed (broken
 * debug info is left for ltoe_verify_input). 0, or 1 with *err set. */
int ltoe_verify_unchanged(LLVMModuleRef module, char **err);
/* Function attributes naming a processor or feature `machine`'s target does
 * not know become warnings and are dropped (LLVM would print to stderr). */
void ltoe_drop_unknown_subtarget_names(LLVMModuleRef module, LLVMTargetMachineRef machine);
/* Installs the fatal-error handler: one `lto-engine: LLVM fatal error:` line
 * on stderr before LLVM exits the process. */
void ltoe_install_fatal_error_handler(void);
/* The linker's view of a bitcode file (symbols.cpp): per symbol of each
 * module, u8 flags (1 undefined, 2 weak, 4 common, 8 not default
 * visibility, 16 used, 32 executable) and the name. */
int ltoe_bitcode_symbols(const char *data, size_t len, LtoeBuffer **out, char **err);
/* The runtime library functions code generation for `triple` may call
 * (LTO::getRuntimeLibcallSymbols), NUL-separated, into *out. */
void ltoe_runtime_libcall_symbols(const char *triple, LtoeBuffer **out);
/* The architecture of `triple` as LLVM parses it (x86_64, aarch64, ...;
 * "unknown" when none), into *out. */
void ltoe_triple_arch(const char *triple, LtoeBuffer **out);
/* The target triple of the first module of a bitcode file, into *out. */
int ltoe_bitcode_triple(const char *data, size_t len, LtoeBuffer **out, char **err);
/* SHA-1 of `len` bytes at `data` into `out`. */
void ltoe_sha1(const char *data, size_t len, uint8_t out[20]);
/* BLAKE3 (32 bytes) of `len` bytes at `data` into `out`. */
void ltoe_blake3(const char *data, size_t len, uint8_t out[32]);
/* LLVM's command-line options (`-mllvm`): 0, or 1 with *err set. */
int ltoe_parse_llvm_options(const char *const *options, size_t count, char **err);

/* ---- target machine (target.cpp) ---- */
enum { LTOE_RELOC_PIC = 0, LTOE_RELOC_STATIC = 1, LTOE_RELOC_DYNAMIC_NO_PIC = 2 };
enum {
  LTOE_CODE_MODEL_DEFAULT = 0, /* the module's own (-mcmodel), else the target's */
  LTOE_CODE_MODEL_TINY = 1,
  LTOE_CODE_MODEL_SMALL = 2,
  LTOE_CODE_MODEL_KERNEL = 3,
  LTOE_CODE_MODEL_MEDIUM = 4,
  LTOE_CODE_MODEL_LARGE = 5,
};
typedef struct LtoeTargetSettings {
  int reloc_model;   /* LTOE_RELOC_* */
  int code_model;    /* LTOE_CODE_MODEL_* */
  int codegen_level; /* 0..3 */
  int function_sections;
  int data_sections;
  int asm_verbose;
} LtoeTargetSettings;
/* Creates the target machine with the TargetOptions lld's LTO uses (.init_array,
 * address-significance tables, relaxable relocations, ...). `module` may be NULL;
 * when given, its code model applies unless the settings name one. The machine
 * is freed with LLVMDisposeTargetMachine. */
int ltoe_create_target_machine(const char *triple, const char *cpu, const char *features,
                               const LtoeTargetSettings *settings, LLVMModuleRef module,
                               LLVMTargetMachineRef *out, char **err);

/* ---- archives (archive.cpp) ---- */
/* A GNU archive with a symbol table of the given members, built
 * deterministically in memory. */
int ltoe_archive_bytes(const char *const *names, const uint8_t *const *datas, const size_t *lens,
                       size_t count, LtoeBuffer **out, char **err);

/* lld's index for a lazy bitcode file left out of the link (an empty index
 * flagged SkipModuleByDistributedBackend), into *out. */
void ltoe_write_skip_index(LtoeBuffer **out);

/* ---- ThinLTO (thin.cpp) ---- */
typedef struct LtoeThinIndex LtoeThinIndex;
/* How a summarized definition takes part in symbol resolution. */
enum {
  LTOE_LINKAGE_STRONG = 0,              /* external: at most one copy */
  LTOE_LINKAGE_WEAK = 1,                /* weak, linkonce, common: one copy prevails */
  LTOE_LINKAGE_AVAILABLE_EXTERNALLY = 2, /* never prevails */
  LTOE_LINKAGE_LOCAL = 3,               /* internal, private */
  LTOE_LINKAGE_APPENDING = 4,           /* llvm.global_ctors & co: concatenated, not resolved */
};
/* Whether module `which` of a bitcode buffer carries a module summary, whether
 * it was written for ThinLTO, and whether its unit was marked for splitting
 * (EnableSplitLTOUnit, from -fsplit-lto-unit). */
int ltoe_bitcode_lto_info(const char *data, size_t len, size_t which, int *has_summary,
                          int *is_thin, int *split_lto_unit, char **err);
/* The GUID of a global symbol name (external linkage, \01 escape dropped). */
uint64_t ltoe_guid_for_symbol(const char *name);

/* The combined index. Buffers added must outlive it. */
LtoeThinIndex *ltoe_thin_index_new(void);
void ltoe_thin_index_free(LtoeThinIndex *thin);
/* Reads the summary of module `which` of a buffer under `module_id` (unique);
 * the module's ordinal is the number of modules added before it. */
int ltoe_thin_index_add(LtoeThinIndex *thin, const char *data, size_t len, size_t which,
                        const char *module_id, char **err);
/* Every definition in the index, as records
 * {u64 guid, u32 module ordinal, u8 linkage class, u8 live, u32 name length,
 * name bytes} with linkage class 0 strong, 1 weak/linkonce/common,
 * 2 available_externally, 3 local, 4 appending; live is 1 until liveness has
 * been computed. */
int ltoe_thin_index_definitions(const LtoeThinIndex *thin, LtoeBuffer **out, char **err);
/* The name the rename step gives `name`, a local of the module, when it
 * promotes it: `<name>.llvm.<module hash>`. */
int ltoe_thin_index_promoted_name(const LtoeThinIndex *thin, const char *module_id,
                                  const char *name, LtoeBuffer **out, char **err);
/* The prevailing copy of each listed GUID: the module with that ordinal. */
int ltoe_thin_index_set_prevailing(LtoeThinIndex *thin, const uint64_t *guids,
                                   const uint32_t *ordinals, size_t count, char **err);
/* Dead-symbol analysis (and constant propagation) from the preserved GUIDs. */
void ltoe_thin_index_compute_dead(LtoeThinIndex *thin, const uint64_t *preserved, size_t count,
                                  int import_enabled);
/* Per-module definitions, and import/export lists when import is enabled. */
void ltoe_thin_index_compute_imports(LtoeThinIndex *thin, int import_enabled);
/* GUIDs a linker resolves across modules, from the summaries: defined in
 * more than one module, or referenced (called, or used in a body or
 * initializer) by a module that does not define them. As u64 records. */
int ltoe_thin_index_cross_module_guids(const LtoeThinIndex *thin, LtoeBuffer **out, char **err);
/* Internalize what is neither preserved, nor referenced from another module
 * (`cross_module` GUIDs), nor imported elsewhere; promote locals other
 * modules import. */
void ltoe_thin_index_internalize_and_promote(LtoeThinIndex *thin, const uint64_t *cross_module,
                                             size_t count);
/* Resolve linkonce/weak linkages of prevailing and non-prevailing copies. */
void ltoe_thin_index_resolve_prevailing(LtoeThinIndex *thin, int elf_visibility);
/* Propagate function attributes along the index's call graph. */
void ltoe_thin_index_propagate_attributes(LtoeThinIndex *thin);
/* What a module imports, as records
 * {u32 source ordinal, u64 guid, u8 is_definition, u32 name length, name bytes}. */
int ltoe_thin_index_module_imports(const LtoeThinIndex *thin, const char *module_id,
                                   LtoeBuffer **out, char **err);
/* Counts of a module's definitions, live definitions and exports. */
int ltoe_thin_index_module_stats(const LtoeThinIndex *thin, const char *module_id,
                                 size_t *definitions, size_t *live, size_t *exports,
                                 uint64_t *instructions, char **err);

/* Backend steps on a module parsed under its index identifier. They only read
 * the index, so several threads may run them at once (one context each). */
int ltoe_thin_backend_rename(const LtoeThinIndex *thin, LLVMModuleRef module,
                             LLVMTargetMachineRef tm, char **err);
int ltoe_thin_backend_resolve(const LtoeThinIndex *thin, LLVMModuleRef module, char **err);
int ltoe_thin_backend_internalize(const LtoeThinIndex *thin, LLVMModuleRef module, char **err);
int ltoe_thin_backend_import(const LtoeThinIndex *thin, LLVMModuleRef module,
                             LLVMTargetMachineRef tm, char **err);

/* Optimization levels of the pipelines. */
enum {
  LTOE_OPT_O0 = 0,
  LTOE_OPT_O1 = 1,
  LTOE_OPT_O2 = 2,
  LTOE_OPT_O3 = 3,
  LTOE_OPT_OS = 4,
  LTOE_OPT_OZ = 5,
};
/* Runs thinlto<level> on a backend's module with the index as its import
 * summary (devirtualization and type tests as the thin link decided). */
int ltoe_thin_backend_optimize(const LtoeThinIndex *thin, LLVMModuleRef module,
                               LLVMTargetMachineRef tm, int level, int vectorize, char **err);
/* Index-based whole-program devirtualization (after liveness, before imports). */
void ltoe_thin_index_devirtualize(LtoeThinIndex *thin, int whole_program_visibility,
                                  const uint64_t *dynamic_exports, size_t count);

/* ---- the regular LTO pipeline (pipeline.cpp) ---- */
/* Which passes of lto<level> run: all, those before top-level pass `cut`,
 * or those from it on. */
enum {
  LTOE_PIPELINE_WHOLE = 0,
  LTOE_PIPELINE_BEFORE_CUT = 1,
  LTOE_PIPELINE_FROM_CUT = 2,
};
/* lto<level> as PassBuilder builds it, printed as opt's -passes text: the
 * top-level passes separated by commas. */
int ltoe_lto_pipeline_text(LLVMTargetMachineRef tm, int level, int vectorize, LtoeBuffer **out,
                           char **err);
/* Runs lto<level>, or one side of a cut in it (the optional passes of the
 * other side skipped, as opt-bisect skips them). */
int ltoe_lto_optimize(LLVMModuleRef module, LLVMTargetMachineRef tm, int level, int vectorize,
                      int part, unsigned cut, char **err);
/* Why the late passes of lto<level> need the whole module (a static
 * string), or null when they may run on partitions. */
const char *ltoe_whole_module_late_passes(LLVMModuleRef module);


/* ---- what explain reads (explain.cpp) ---- */
/* The kind of a summary. */
enum { LTOE_SUMMARY_FUNCTION = 0, LTOE_SUMMARY_VARIABLE = 1, LTOE_SUMMARY_ALIAS = 2 };
/* A summary's linkage, as LLVM's GlobalValue::LinkageTypes names it. */
enum {
  LTOE_GV_EXTERNAL = 0,
  LTOE_GV_AVAILABLE_EXTERNALLY = 1,
  LTOE_GV_LINKONCE_ANY = 2,
  LTOE_GV_LINKONCE_ODR = 3,
  LTOE_GV_WEAK_ANY = 4,
  LTOE_GV_WEAK_ODR = 5,
  LTOE_GV_APPENDING = 6,
  LTOE_GV_INTERNAL = 7,
  LTOE_GV_PRIVATE = 8,
  LTOE_GV_EXTERN_WEAK = 9,
  LTOE_GV_COMMON = 10,
};
/* A symbol's visibility. */
enum { LTOE_VISIBILITY_DEFAULT = 0, LTOE_VISIBILITY_HIDDEN = 1, LTOE_VISIBILITY_PROTECTED = 2 };
/* A call edge's profile hotness (CalleeInfo::HotnessType). */
enum {
  LTOE_HOTNESS_UNKNOWN = 0,
  LTOE_HOTNESS_COLD = 1,
  LTOE_HOTNESS_NONE = 2,
  LTOE_HOTNESS_HOT = 3,
  LTOE_HOTNESS_CRITICAL = 4,
};
/* The combined index as a graph, after the thin link's imports: each
 * module's definitions in the order the importer walks them, then every
 * summary with its linkage, flags, size, calls and references (layout in
 * explain.cpp), into *out. */
int ltoe_thin_index_graph(const LtoeThinIndex *thin, LtoeBuffer **out, char **err);
/* Each symbol of a bitcode file with its visibility and comdat (layout in
 * symbols.cpp), into *out. */
int ltoe_bitcode_symbol_details(const char *data, size_t len, LtoeBuffer **out, char **err);
/* `name` demangled by LLVM's demangler into *out, empty when it is not a
 * mangled name. */
void ltoe_demangle(const char *name, LtoeBuffer **out);

/* ---- distributed ThinLTO (distributed.cpp) ---- */
/* A module's slice of the combined index, as writeIndexToFile writes it for a
 * distributed backend (`<module>.thinlto.bc`), and the modules it imports
 * from, as records {u32 length, path} in the order EmitImportsFiles lists
 * them. */
int ltoe_thin_index_write_module_index(const LtoeThinIndex *thin, const char *module_id,
                                       LtoeBuffer **index, LtoeBuffer **sources, char **err);
/* Reads an index file (`.thinlto.bc`) into an empty index: its modules get
 * ordinals in path order, and each its defined summaries. */
int ltoe_thin_index_load_combined(LtoeThinIndex *thin, const char *data, size_t len, char **err);
/* The index's modules in ordinal order, as records {u32 length, path,
 * 20 bytes of module hash}. */
int ltoe_thin_index_module_paths(const LtoeThinIndex *thin, LtoeBuffer **out, char **err);
/* The hash a thin link records for a bitcode buffer: the module hash of its
 * ThinLTO module, or, when it has none (zero or no summary), the SHA-1 of
 * the bytes. */
int ltoe_bitcode_module_hash(const char *data, size_t len, uint8_t out[20], char **err);
/* For a distributed backend: the import list of `module` (parsed under its
 * index path) from the index file, as lto::initImportList derives it. Gives
 * the source module paths as {u32 length, path} records. */
int ltoe_thin_index_init_backend_imports(LtoeThinIndex *thin, LLVMModuleRef module,
                                         LtoeBuffer **sources, char **err);
/* Makes a bitcode buffer the import source `module_id` (its ThinLTO module,
 * or its only one). The buffer must outlive the index. */
int ltoe_thin_index_attach_module(LtoeThinIndex *thin, const char *data, size_t len,
                                  const char *module_id, char **err);

/* ---- incremental ThinLTO (cache.cpp) ---- */
/* Code generation settings that go into a cache key, as lto::Config holds them. */
/* What code generation writes. */
enum { LTOE_FILE_OBJECT = 0, LTOE_FILE_ASSEMBLY = 1, LTOE_FILE_NONE = 2 /* bitcode */ };
typedef struct LtoeCacheSettings {
  const char *cpu;       /* "" for the triple's default */
  const char *features;  /* comma-separated, LLVM syntax */
  const char *triple;    /* "" when each module keeps its own */
  const char *pipeline;  /* "thinlto<O2>" */
  int opt_level;         /* 0..3 (s and z show in the pipeline) */
  int codegen_opt_level; /* 0..3 */
  int reloc_model;       /* LTOE_RELOC_* */
  int code_model;        /* LTOE_CODE_MODEL_* */
  int file_type;         /* LTOE_FILE_* */
  int function_sections;
  int data_sections;
} LtoeCacheSettings;
/* From now on, the promoted locals of module `ids[i]` are named by a hash
 * of `seeds[i]` (a name of the module that is unique within the link and
 * stable across links) instead of its content, so an edit does not rename
 * them; keys keep taking each module's content hash. Call after every
 * module is added, before the thin link's steps. */
int ltoe_thin_index_stable_promotion_names(LtoeThinIndex *thin, const char *const *ids,
                                           const char *const *seeds, size_t count, char **err);
/* A module's content hash (its bitcode's), whatever its index entry holds;
 * zero for an unknown identifier. */
void ltoe_thin_index_content_hash(const LtoeThinIndex *thin, const char *module_id,
                                  uint8_t out[20]);
/* The cache key of a module after the thin link. Two keys are written:
 * LLVM's own (computeLTOCacheKey over a Config of `settings`, which hashes
 * every import source's whole module hash), and the finer key the cache
 * uses: the same key without the import sources' module hashes, re-keyed
 * with `extra`, the module's propagated function flags, the index state of
 * every imported value, and per source either its entry of
 * `digest_sources`/`digests` (32 bytes each, from
 * ltoe_thin_index_import_digest) or, for a source not given there, its whole
 * module hash. Writes {u32 len, fine key hex}{u32 len, the same key with
 * every source by its module hash}{u32 len, the fine key with each source of
 * `substitute_sources` standing by its entry of `substitute_hashes` (an
 * earlier content hash, 40 hex digits each) instead, empty when none is
 * given}{u32 len, LLVM's key hex}
 * {u32 len, module hash hex}{u32 len, resolution digest}, then per source
 * module imported from {u32 ordinal, u32 len, digest of what stands for it
 * and the values imported}. */
int ltoe_thin_index_cache_key(const LtoeThinIndex *thin, const char *module_id,
                              const LtoeCacheSettings *settings, const char *extra,
                              size_t extra_len, const uint32_t *digest_sources,
                              const uint8_t *digests, size_t digest_count,
                              const uint32_t *substitute_sources, const char *substitute_hashes,
                              size_t substitute_count, LtoeBuffer **out, char **err);
/* 32 bytes of BLAKE3 over the thin link's state that shapes what any import
 * from `module_id` brings: its module hash, and the index's flags (linkage,
 * liveness, visibility, dso_local, read/write-only, function flags, export)
 * of every value it defines or references, with the type identifier
 * resolutions it uses. `view` gets the same without the module hash: how
 * the thin link treats the module, whatever its content. */
int ltoe_thin_index_source_state(const LtoeThinIndex *thin, const char *module_id,
                                 uint8_t out[32], uint8_t view[32], char **err);
/* 32 bytes of BLAKE3 over what importing `count` values (GUIDs, each as a
 * definition when `definitions[i]` is non-zero) from `module_id` brings:
 * LLVM's FunctionImporter imports them into an empty module in a private
 * context, which is written as bitcode and hashed. With `version` non-null,
 * the source is the first module of those `version_len` bytes (another
 * version of the module, under the index's view of this one) instead of
 * the bitcode the index was built from. */
int ltoe_thin_index_import_digest(const LtoeThinIndex *thin, const char *module_id,
                                  const char *version, size_t version_len, const uint64_t *guids,
                                  const uint8_t *definitions, size_t count, uint8_t out[32],
                                  char **err);
/* Parses an lld-syntax pruning policy; gives its expiration (prune_after). */
int ltoe_cache_policy_parse(const char *policy, uint64_t *expiration_seconds, char **err);
/* Prunes the `llvmcache-*` files of `dir` by the policy; *pruned says
 * whether a scan was made (the interval had passed since the last one, or
 * there was no `llvmcache.timestamp` yet). */
int ltoe_cache_prune(const char *dir, const char *policy, int *pruned, char **err);
/* xxHash3 (64 bits) of a byte range: the checksum of cache entries. */
uint64_t ltoe_xxh3_64(const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
