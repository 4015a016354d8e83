/*
 * The device-plugin ABI: the only thing a plugin and its host share. Plain C, no C++ object,
 * STL type or exception crosses it. docs/plugin-abi.md explains each call; this header is the
 * contract.
 *
 * A plugin is a shared library exporting one symbol, LLMRT_PLUGIN_ENTRY_SYMBOL, of type
 * llmrt_plugin_entry_fn. The host calls it with the ABI version it speaks; the plugin returns
 * its table (or NULL when it cannot serve that version). The host checks abi_version and
 * struct_size before using anything else, and skips (with a log line) a plugin that fails.
 *
 * Errors: every call that can fail returns an llmrt_status and fills the caller's llmrt_error
 * (which may be NULL). Ownership: what a plugin allocates, the plugin frees (the *_release
 * calls); what the host passes in stays the host's.
 * Threads: calls on different requests may run concurrently; calls on one request may not.
 */
#ifndef LLMRT_PLUGIN_ABI_H
#define LLMRT_PLUGIN_ABI_H

#include <stdint.h>

#include "llmrt/log.h"
#include "llmrt/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LLMRT_PLUGIN_ABI_VERSION 1u
#define LLMRT_PLUGIN_ENTRY_SYMBOL "llmrt_plugin_entry"
#define LLMRT_MAX_RANK 8

/* Services the host lends a plugin for its lifetime. */
typedef struct llmrt_host_api {
  uint32_t abi_version;
  uint32_t struct_size;
  /* One log sink for host and plugins: the plugin sends every line here. */
  void (*log)(void* host_data, llmrt_log_level level, const char* message);
  void* host_data;
  llmrt_log_level log_level; /* lines below this level may be dropped by the plugin */
  int32_t verbose;           /* LLMRT_VERBOSE: per-kernel lines wanted */
} llmrt_host_api;

#define LLMRT_DEVICE_NAME_SIZE 64
#define LLMRT_DEVICE_TEXT_SIZE 256
#define LLMRT_DEVICE_PROPERTIES_SIZE 4096

typedef struct llmrt_device_info {
  char name[LLMRT_DEVICE_NAME_SIZE];          /* "CPU", "GPU.0", ...: what users compile for     */
  char full_name[LLMRT_DEVICE_TEXT_SIZE];     /* "AMD EPYC 9R14", "Intel(R) Arc(TM) A770", ...    */
  char vendor[LLMRT_DEVICE_TEXT_SIZE];
  uint64_t memory_bytes;                      /* 0 when unknown                                   */
  uint32_t compute_units;
  uint32_t reserved;
  char properties_json[LLMRT_DEVICE_PROPERTIES_SIZE]; /* a JSON object of further properties   */
} llmrt_device_info;

enum { LLMRT_DTYPE_F32 = 0, LLMRT_DTYPE_I32 = 1 };

/* A weight tensor as the store holds it. The bytes stay valid until the compiled model that
 * received them is released. stored_type and scale_type use the names of docs/formats.md
 * ("f32", "int4_sym", "q4_k", ...). */
typedef struct llmrt_weight {
  const char* name;
  const char* stored_type;
  uint32_t rank;
  int64_t shape[LLMRT_MAX_RANK]; /* outermost first */
  int32_t group_size;
  const char* scale_type;
  const void* data;
  uint64_t data_bytes;
  const void* scales;
  uint64_t scales_bytes;
  const void* zero_points;
  uint64_t zero_points_bytes;
} llmrt_weight;

/* An activation tensor in host memory (row-major). */
typedef struct llmrt_tensor {
  int32_t dtype;
  uint32_t rank;
  int64_t shape[LLMRT_MAX_RANK];
  void* data;
  uint64_t bytes;
} llmrt_tensor;

/* llmrt_compile_options.weight_flags bits, one byte per weight entry. */
/* The weight's planes lie in clean pages of a read-only file mapping that the host keeps for
 * the model's lifetime. A plugin that has copied the weight into memory of its own may release
 * those pages from the process (madvise MADV_DONTNEED) so that the model is not resident
 * twice; reading them again stays valid (the pages come back from the file). */
#define LLMRT_WEIGHT_FILE_MAPPED 1u

typedef struct llmrt_compile_options {
  uint32_t struct_size;
  uint32_t reserved;
  int64_t max_context; /* tokens a request's KV cache holds */
  /* NULL, or n_weights bytes of LLMRT_WEIGHT_* bits in the order of the weights array. Added
   * in ABI 1 without a version change: read it only when struct_size covers it. */
  const uint8_t* weight_flags;
  /* Paged KV cache (serving), added in ABI 1 without a version change: read these only when
   * struct_size covers them. kv_num_blocks > 0 makes every request of the compiled model hold a
   * pool of kv_num_blocks blocks of kv_block_size tokens per attention layer, addressed through
   * the block tables of execute_paged (execute is then refused). kv_precision: LLMRT_KV_*. */
  int32_t kv_block_size;
  int32_t kv_num_blocks;
  int32_t kv_precision;
  int32_t reserved2;
} llmrt_compile_options;

/* KV-cache element types. U8: per token and KV head, q = round(x / scale) + zero_point with
 * scale = (max - min) / 255 over the head's head_dim values (docs/plugin-abi.md). */
enum { LLMRT_KV_F32 = 0, LLMRT_KV_F16 = 1, LLMRT_KV_BF16 = 2, LLMRT_KV_U8 = 3 };

/* One sequence of a paged step. Its n_tokens new tokens are the next n_tokens rows of the
 * step's inputs (sequences in order, rows back to back) at positions n_past .. n_past +
 * n_tokens - 1. Position p's keys and values live in block block_table[p / kv_block_size] at
 * row p % kv_block_size; the table covers positions 0 .. n_past + n_tokens - 1. */
typedef struct llmrt_sequence_step {
  int64_t n_past;
  int64_t n_tokens;
  const int32_t* block_table;
  int64_t n_blocks;
} llmrt_sequence_step;

typedef struct llmrt_plugin_api {
  uint32_t abi_version; /* LLMRT_PLUGIN_ABI_VERSION the plugin was built with */
  uint32_t struct_size; /* sizeof(llmrt_plugin_api) in the plugin's build    */
  const char* plugin_name;

  llmrt_status (*init)(const llmrt_host_api* host, void** plugin, llmrt_error* err);
  void (*shutdown)(void* plugin);

  llmrt_status (*device_count)(void* plugin, uint32_t* count, llmrt_error* err);
  llmrt_status (*device_info)(void* plugin, uint32_t device, llmrt_device_info* info, llmrt_error* err);

  /* node_json: {"op": "...", "attrs": {...}, "inputs": [{"kind","dtype","shape","stored"}...]}
   * in the graph JSON format of docs/plugin-abi.md. *supported = 1 or 0. */
  llmrt_status (*supports)(void* plugin, uint32_t device, const char* node_json, int32_t* supported, llmrt_error* err);

  /* Device memory. */
  llmrt_status (*buffer_create)(void* plugin, uint32_t device, uint64_t bytes, void** buffer, llmrt_error* err);
  void (*buffer_release)(void* plugin, void* buffer);
  llmrt_status (*buffer_write)(void* plugin, void* buffer, uint64_t offset, const void* src, uint64_t bytes,
                               llmrt_error* err);
  llmrt_status (*buffer_read)(void* plugin, void* buffer, uint64_t offset, void* dst, uint64_t bytes, llmrt_error* err);

  /* graph_json: a whole graph (docs/plugin-abi.md); weights: every weight value it names. */
  llmrt_status (*compile)(void* plugin, uint32_t device, const char* graph_json, const llmrt_weight* weights,
                          uint32_t n_weights, const llmrt_compile_options* options, void** compiled, llmrt_error* err);
  void (*compiled_release)(void* compiled);

  /* A request is one sequence's state: its KV cache and its position n_past. */
  llmrt_status (*request_create)(void* compiled, void** request, llmrt_error* err);
  void (*request_release)(void* request);
  /* Keeps the first keep_tokens positions of the cache (0 empties it). */
  llmrt_status (*request_reset)(void* request, int64_t keep_tokens, llmrt_error* err);
  /* Runs one step of n_tokens new tokens: inputs in the graph's input order; outputs are
   * filled in (shape and data) with memory the plugin owns, valid until the next execute on
   * this request or its release. n_past advances by n_tokens on success. */
  llmrt_status (*execute)(void* request, int64_t n_tokens, const llmrt_tensor* inputs, uint32_t n_inputs,
                          llmrt_tensor* outputs, uint32_t n_outputs, llmrt_error* err);

  /* Added in ABI 1 without a version change (present when struct_size covers them; a plugin
   * without them cannot serve paged requests). Paged execution, on a request of a model
   * compiled with kv_num_blocks > 0: one step of several sequences, each attending over its
   * own blocks; outputs as for execute. Sequences must not write the same block. */
  llmrt_status (*execute_paged)(void* request, const llmrt_sequence_step* sequences, uint32_t n_sequences,
                                const llmrt_tensor* inputs, uint32_t n_inputs, llmrt_tensor* outputs, uint32_t n_outputs,
                                llmrt_error* err);
  /* Copies whole blocks of every layer, src[i] -> dst[i], with the effect of copying the pairs
   * one after the other in order (copy-on-write of shared blocks). */
  llmrt_status (*copy_blocks)(void* request, const int32_t* src, const int32_t* dst, uint32_t n, llmrt_error* err);
} llmrt_plugin_api;

typedef const llmrt_plugin_api* (*llmrt_plugin_entry_fn)(uint32_t host_abi_version);

#if defined(_WIN32)
#define LLMRT_PLUGIN_EXPORT __declspec(dllexport)
#else
#define LLMRT_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LLMRT_PLUGIN_ABI_H */
