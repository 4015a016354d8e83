// The C API of include/llmrt/llmrt.h over llmrt::Pipeline.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "llmrt/genai.hpp"
#include "llmrt/llmrt.h"
#include "util/error.h"

struct llmrt_pipeline {
  llmrt::Pipeline pipeline;
};

namespace {

template <class T>
T* copy_array(const T* src, size_t n) {
  if (n == 0) return nullptr;
  auto* out = static_cast<T*>(std::malloc(n * sizeof(T)));
  if (!out) throw std::bad_alloc();
  std::memcpy(out, src, n * sizeof(T));
  return out;
}

llmrt::GenerationConfig to_cpp(const llmrt_generation_config* c) {
  llmrt::GenerationConfig g;
  if (!c) return g;
  if (c->struct_size < sizeof(llmrt_generation_config)) {
    llmrt::fail(llmrt::ErrorCode::kVersionMismatch, "llmrt_generation_config is {} bytes; call llmrt_generation_config_init", c->struct_size);
  }
  auto non_negative = [](int64_t v, const char* field) {
    if (v < 0) llmrt::fail(llmrt::ErrorCode::kInvalidArgument, "llmrt_generation_config.{} = {} is negative", field, v);
    return static_cast<size_t>(v);
  };
  g.do_sample = c->do_sample != 0;
  g.max_new_tokens = non_negative(c->max_new_tokens, "max_new_tokens");
  g.min_new_tokens = non_negative(c->min_new_tokens, "min_new_tokens");
  g.ignore_eos = c->ignore_eos != 0;
  g.temperature = c->temperature;
  g.top_k = non_negative(c->top_k, "top_k");
  g.top_p = c->top_p;
  g.min_p = c->min_p;
  g.repetition_penalty = c->repetition_penalty;
  g.presence_penalty = c->presence_penalty;
  g.frequency_penalty = c->frequency_penalty;
  g.rng_seed = c->rng_seed;
  if (c->n_stop_strings && !c->stop_strings) llmrt::fail(llmrt::ErrorCode::kInvalidArgument, "stop_strings is NULL");
  for (size_t i = 0; i < c->n_stop_strings; ++i) {
    if (!c->stop_strings[i]) llmrt::fail(llmrt::ErrorCode::kInvalidArgument, "stop_strings[{}] is NULL", i);
    g.stop_strings.insert(c->stop_strings[i]);
  }
  g.include_stop_str_in_output = c->include_stop_str_in_output != 0;
  if (c->n_stop_token_ids && !c->stop_token_ids) llmrt::fail(llmrt::ErrorCode::kInvalidArgument, "stop_token_ids is NULL");
  for (size_t i = 0; i < c->n_stop_token_ids; ++i) g.stop_token_ids.insert(c->stop_token_ids[i]);
  g.logprobs = static_cast<size_t>(std::max(c->logprobs, 0));
  return g;
}

void require(const void* p, const char* what) {
  if (!p) llmrt::fail(llmrt::ErrorCode::kInvalidArgument, "{} is NULL", what);
}

}  // namespace

extern "C" {

void llmrt_generation_config_init(llmrt_generation_config* c) {
  if (!c) return;
  llmrt::GenerationConfig d;
  std::memset(c, 0, sizeof *c);
  c->struct_size = sizeof *c;
  c->do_sample = d.do_sample;
  c->max_new_tokens = static_cast<int64_t>(d.max_new_tokens);
  c->min_new_tokens = static_cast<int64_t>(d.min_new_tokens);
  c->temperature = d.temperature;
  c->top_k = static_cast<int64_t>(d.top_k);
  c->top_p = d.top_p;
  c->min_p = d.min_p;
  c->repetition_penalty = d.repetition_penalty;
  c->presence_penalty = d.presence_penalty;
  c->frequency_penalty = d.frequency_penalty;
  c->rng_seed = d.rng_seed;
}

llmrt_status llmrt_pipeline_create(const char* model_path, const char* device, int64_t max_context, llmrt_pipeline** pipeline,
                                   llmrt_error* err) {
  return llmrt::c_boundary(err, [&] {
    require(model_path, "model_path");
    require(pipeline, "pipeline");
    *pipeline = nullptr;
    llmrt::PipelineOptions options;
    options.max_context = max_context;
    *pipeline = new llmrt_pipeline{llmrt::Pipeline(model_path, device ? device : "CPU", options)};
  });
}

void llmrt_pipeline_destroy(llmrt_pipeline* pipeline) { delete pipeline; }

llmrt_status llmrt_pipeline_generate(llmrt_pipeline* pipeline, const char* prompt, const llmrt_generation_config* config,
                                     llmrt_streamer_fn streamer, void* user_data, llmrt_generation_result** result,
                                     llmrt_error* err) {
  return llmrt::c_boundary(err, [&] {
    require(pipeline, "pipeline");
    require(prompt, "prompt");
    require(result, "result");
    *result = nullptr;
    llmrt::Streamer s;
    if (streamer) s = [&](std::string_view text) { return streamer(text.data(), text.size(), user_data) != 0; };
    llmrt::GenerationResult r = pipeline->pipeline.generate(std::string_view(prompt), to_cpp(config), s);
    auto* out = static_cast<llmrt_generation_result*>(std::calloc(1, sizeof(llmrt_generation_result)));
    if (!out) throw std::bad_alloc();
    try {
      out->text = static_cast<char*>(std::malloc(r.text.size() + 1));
      if (!out->text) throw std::bad_alloc();
      std::memcpy(out->text, r.text.c_str(), r.text.size() + 1);
      out->text_length = r.text.size();
      out->prompt_token_ids = copy_array(r.prompt_token_ids.data(), r.prompt_token_ids.size());
      out->n_prompt_tokens = r.prompt_token_ids.size();
      out->generated_token_ids = copy_array(r.generated_token_ids.data(), r.generated_token_ids.size());
      out->n_generated_tokens = r.generated_token_ids.size();
      out->logprobs = copy_array(r.logprobs.data(), r.logprobs.size());
    } catch (...) {
      llmrt_generation_result_free(out);
      throw;
    }
    out->finish_reason = static_cast<int32_t>(r.finish_reason);
    out->load_time_ms = r.perf.load_time_ms;
    out->ttft_ms = r.perf.ttft_ms;
    out->tpot_ms = r.perf.tpot_ms;
    out->throughput_tps = r.perf.throughput_tps;
    out->generate_time_ms = r.perf.generate_time_ms;
    out->prefill_tps = r.perf.prefill_tps;
    *result = out;
  });
}

void llmrt_generation_result_free(llmrt_generation_result* r) {
  if (!r) return;
  std::free(r->text);
  std::free(r->prompt_token_ids);
  std::free(r->generated_token_ids);
  std::free(r->logprobs);
  std::free(r);
}

llmrt_status llmrt_pipeline_start_chat(llmrt_pipeline* pipeline, const char* system_message, llmrt_error* err) {
  return llmrt::c_boundary(err, [&] {
    require(pipeline, "pipeline");
    pipeline->pipeline.start_chat(system_message ? system_message : "");
  });
}

void llmrt_pipeline_finish_chat(llmrt_pipeline* pipeline) {
  if (pipeline) pipeline->pipeline.finish_chat();
}

}  // extern "C"
