// Serving many requests at once: continuous batching over a paged KV cache with prefix
// caching (the design's ServingEngine; OpenVINO GenAI's names).
//
//   llmrt::SchedulerConfig sched;
//   sched.max_num_seqs = 16;
//   llmrt::ServingEngine engine("Llama-3.2-1B-Instruct", "CPU", sched);
//   auto handle = engine.add_request("The capital of France is", cfg);
//   while (auto out = handle.read()) std::cout << out->text << std::flush;
//
// A step loop on its own thread runs every request that is waiting or running: each step mixes
// decode tokens of running sequences with prefill chunks of new ones (up to
// max_num_batched_tokens), in one batched forward pass. When the KV cache runs out of blocks
// the newest sequence is preempted (its blocks freed, its tokens recomputed later); nothing is
// dropped. Thread-safety: every member may be called from any thread (an engine without a step
// thread runs one step() at a time).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmrt/genai.hpp"
#include "llmrt/runtime.hpp"

namespace llmrt {

struct SchedulerConfig {
  size_t max_num_batched_tokens = 256;  // tokens one step runs (decodes + prefill chunks)
  size_t max_num_seqs = 64;             // sequences admitted at once (the n sequences a request
                                        // forks into after its prompt all run: forks take no seat)
  // KV-cache size: cache_size GB, or num_kv_blocks blocks when cache_size is 0. Both 0: room
  // for max_num_seqs sequences of 512 tokens (at least one full context), at most 4 GB.
  double cache_size = 0;
  size_t num_kv_blocks = 0;
  size_t block_size = 16;               // tokens per KV block
  bool enable_prefix_caching = true;    // reuse the KV blocks of shared prompt beginnings
  bool dynamic_split_fuse = true;       // split long prompts into chunks that share steps with decodes
  KvPrecision kv_cache_precision = KvPrecision::kF32;
  // Positions a sequence may run (its KV length): prompt + generated tokens fed back; the token
  // sampled at the last position is returned without being run. 0: min(model's, 4096). Never
  // more than the cache holds (the engine lowers it to that, with a warning).
  int64_t max_context = 0;
  // false: the engine starts no thread; the host drives it with ServingEngine::step() (what
  // Pipeline does, so that its streamer runs between steps on the caller's thread).
  bool step_thread = true;

  void validate() const;  // INVALID_ARGUMENT naming the field
};

// One piece of a request's output, as read from its handle.
struct GenerationOutput {
  size_t index = 0;                   // which of the request's num_return_sequences
  std::string text;                   // text that became final (whole UTF-8 characters)
  std::vector<int32_t> token_ids;     // tokens generated since the previous piece
  std::vector<float> logprobs;        // one per token when GenerationConfig::logprobs > 0
  FinishReason finish_reason = FinishReason::kNone;  // set on the sequence's last piece
};

struct ServingMetrics {
  size_t requests_running = 0, requests_waiting = 0;  // sequences (a request with n > 1 counts n)
  size_t requests_finished = 0, preemptions = 0;      // requests whose every sequence ended; sequences preempted
  int64_t kv_blocks_total = 0, kv_blocks_used = 0, kv_blocks_cached = 0;
  double kv_cache_usage = 0;          // used / total, 0..1
  uint64_t prefix_queries = 0, prefix_hits = 0;  // prompt tokens looked up / found in the prefix cache, once per request
  // prompt_tokens: prompt tokens computed (prefix hits excluded; recomputed after preemption included)
  uint64_t prompt_tokens = 0, generated_tokens = 0, steps = 0;
};

class ServingEngine;

class GenerationHandle {
 public:
  GenerationHandle();
  ~GenerationHandle();
  GenerationHandle(GenerationHandle&&) noexcept;
  GenerationHandle& operator=(GenerationHandle&&) noexcept;

  uint64_t id() const;
  // Blocks until output is ready; nullopt once every sequence has finished and all was read.
  // Rethrows a failure of the step that ran this request.
  std::optional<GenerationOutput> read();
  // Output that is ready now, without waiting (nullopt when there is none yet, or no more).
  std::optional<GenerationOutput> try_read();
  // Waits for the end and returns every sequence's result (text, ids, finish reason, perf);
  // output already read() is included.
  std::vector<GenerationResult> wait();
  // Stops generating; the sequences finish with FinishReason::kCancelled and free their blocks.
  void cancel();
  bool finished() const;
  // Prompt tokens taken from the prefix cache instead of being computed (0 without a hit).
  size_t cached_prompt_tokens() const;

  struct State;

 private:
  friend class ServingEngine;
  explicit GenerationHandle(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

class ServingEngine {
 public:
  // Loads and compiles the model with a paged KV cache; errors as Pipeline's.
  ServingEngine(const std::filesystem::path& model, std::string_view device = "CPU", const SchedulerConfig& config = {},
                const PipelineOptions& options = {});
  ~ServingEngine();  // cancels what is still running and joins the step thread

  // A plain completion of `prompt` (BOS as the tokenizer config says), or of the token ids.
  // config.num_return_sequences sequences share the prompt's blocks (copy-on-write).
  // OUT_OF_RANGE when the prompt leaves no room to generate within max_context;
  // INVALID_ARGUMENT for a bad config or an empty prompt.
  GenerationHandle add_request(std::string_view prompt, const GenerationConfig& config = {});
  GenerationHandle add_request(std::vector<int32_t> prompt_ids, const GenerationConfig& config = {});
  // A chat reply, rendered with the model's chat template.
  GenerationHandle add_request(const std::vector<ChatMessage>& messages, const GenerationConfig& config = {});

  // Returns once no request is running or waiting (and metrics() covers every step so far).
  void wait_idle();
  // Engines without a step thread (SchedulerConfig::step_thread false): runs one step on the
  // caller's thread; returns whether requests remain. INVALID_ARGUMENT on an engine with a thread.
  bool step();
  // Stops accepting requests (add_request then fails with CANCELLED), lets the running and
  // waiting ones finish, then returns.
  void drain();

  // As of the last finished step (a request's wait() may return a moment before its step ends).
  ServingMetrics metrics() const;
  const SchedulerConfig& config() const;
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string apply_chat_template(const std::vector<ChatMessage>& messages, bool add_generation_prompt = true) const;
  std::string chat_template() const;  // the template's source; "" when the model has none
  const ModelInfo& model_info() const;
  int64_t max_context() const;
  const std::string& device() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmrt
