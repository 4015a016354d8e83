/*
 * libllmrt's C API: load a model into a pipeline, generate text with a streaming callback, and
 * chat. For embedding libllmrt from C or any language with a C FFI. Plain C; every call that
 * can fail returns an llmrt_status and fills an optional llmrt_error (llmrt/status.h).
 *
 *   llmrt_pipeline* p;
 *   llmrt_error err;
 *   if (llmrt_pipeline_create("model.gguf", "CPU", 0, &p, &err) != LLMRT_OK) { puts(err.message); ... }
 *   llmrt_generation_config cfg;
 *   llmrt_generation_config_init(&cfg);
 *   cfg.max_new_tokens = 32;
 *   llmrt_generation_result* r;
 *   llmrt_pipeline_generate(p, "Hello", &cfg, on_text, NULL, &r, &err);
 *   printf("%s\n", r->text);
 *   llmrt_generation_result_free(r);
 *   llmrt_pipeline_destroy(p);
 *
 * Thread-safety: one pipeline serves one caller at a time; different pipelines are independent.
 */
#ifndef LLMRT_LLMRT_H
#define LLMRT_LLMRT_H

#include <stddef.h>
#include <stdint.h>

#include "llmrt/export.h"
#include "llmrt/log.h"
#include "llmrt/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llmrt_pipeline llmrt_pipeline;

/* Fill with llmrt_generation_config_init() before setting fields: struct_size lets later
 * versions add fields at the end. */
typedef struct llmrt_generation_config {
  uint32_t struct_size;
  int32_t do_sample;
  int64_t max_new_tokens;
  int64_t min_new_tokens;
  int32_t ignore_eos;
  float temperature;
  int64_t top_k;
  float top_p;
  float min_p;
  float repetition_penalty;
  float presence_penalty;
  float frequency_penalty;
  uint64_t rng_seed;
  const char* const* stop_strings; /* n_stop_strings UTF-8 strings */
  size_t n_stop_strings;
  int32_t include_stop_str_in_output;
  const int64_t* stop_token_ids;
  size_t n_stop_token_ids;
  int32_t logprobs;
} llmrt_generation_config;

enum { LLMRT_FINISH_NONE = 0, LLMRT_FINISH_LENGTH = 1, LLMRT_FINISH_STOP = 2, LLMRT_FINISH_CANCELLED = 3 };

typedef struct llmrt_generation_result {
  char* text; /* NUL-terminated UTF-8 */
  size_t text_length;
  int32_t* prompt_token_ids;
  size_t n_prompt_tokens;
  int32_t* generated_token_ids;
  size_t n_generated_tokens;
  float* logprobs; /* n_generated_tokens entries when requested, else NULL */
  int32_t finish_reason;
  double load_time_ms, ttft_ms, tpot_ms, throughput_tps, generate_time_ms, prefill_tps;
} llmrt_generation_result;

/* Receives text as it becomes final (not NUL-terminated); return non-zero to cancel. */
typedef int (*llmrt_streamer_fn)(const char* text, size_t length, void* user_data);

LLMRT_API void llmrt_generation_config_init(llmrt_generation_config* config);

/* model_path: a Hugging Face folder or a .gguf file; device: "CPU", "GPU", ...;
 * max_context: KV-cache tokens, 0 for the default. */
LLMRT_API llmrt_status llmrt_pipeline_create(const char* model_path, const char* device, int64_t max_context,
                                             llmrt_pipeline** pipeline, llmrt_error* err);
LLMRT_API void llmrt_pipeline_destroy(llmrt_pipeline* pipeline);

/* A completion (outside a chat) or the next user turn (inside one). config may be NULL
 * (defaults); streamer may be NULL. *result is owned by the caller: free it with
 * llmrt_generation_result_free. */
LLMRT_API llmrt_status llmrt_pipeline_generate(llmrt_pipeline* pipeline, const char* prompt,
                                               const llmrt_generation_config* config, llmrt_streamer_fn streamer,
                                               void* user_data, llmrt_generation_result** result, llmrt_error* err);
LLMRT_API void llmrt_generation_result_free(llmrt_generation_result* result);

LLMRT_API llmrt_status llmrt_pipeline_start_chat(llmrt_pipeline* pipeline, const char* system_message, llmrt_error* err);
LLMRT_API void llmrt_pipeline_finish_chat(llmrt_pipeline* pipeline);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LLMRT_LLMRT_H */
