// Text generation: GenerationConfig (OpenVINO GenAI names), results with perf metrics, and
// the Pipeline that turns a prompt or a chat into streamed text.
//
//   llmrt::Pipeline pipe("Llama-3.2-1B-Instruct", "CPU");
//   llmrt::GenerationConfig cfg;
//   cfg.max_new_tokens = 64;
//   auto result = pipe.generate("The capital of France is", cfg,
//                               [](std::string_view text) { std::cout << text << std::flush; return false; });
//   std::cout << "\n" << result.perf.tpot_ms << " ms/token\n";
//
// Errors are llmrt::Error. Thread-safety: one Pipeline serves one caller at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "llmrt/error.hpp"

namespace llmrt {

struct GenerationConfig {
  size_t max_new_tokens = 256;
  size_t min_new_tokens = 0;     // EOS and stop tokens are suppressed until this many are generated
  bool ignore_eos = false;
  bool do_sample = false;        // false: greedy (argmax), and the sampling fields below are ignored
  float temperature = 1.0f;
  size_t top_k = 0;              // 0: off
  float top_p = 1.0f;            // 1: off
  float min_p = 0.0f;            // 0: off; keeps tokens with p >= min_p * p_max
  float repetition_penalty = 1.0f;  // HF: divides positive / multiplies negative logits of seen tokens
  float presence_penalty = 0.0f;    // OpenAI: minus this once for every generated token seen
  float frequency_penalty = 0.0f;   // OpenAI: minus this times how often it was generated
  uint64_t rng_seed = 0;         // same seed, same config, same model -> same text
  std::set<std::string> stop_strings;
  bool include_stop_str_in_output = false;
  std::set<int64_t> stop_token_ids;  // in addition to the model's own end tokens
  size_t logprobs = 0;           // > 0: return the log-probability of each generated token
  // ServingEngine: this many sequences from one prompt (OpenAI's n), sharing the prompt's KV
  // blocks; sequence i samples with rng_seed + i. Pipeline takes 1 only.
  size_t num_return_sequences = 1;

  // INVALID_ARGUMENT naming the field for a value that cannot be used.
  void validate() const;
};

enum class FinishReason { kNone, kLength, kStop, kCancelled };
std::string_view to_string(FinishReason r);  // "none", "length", "stop", "cancelled"

struct PerfMetrics {
  double load_time_ms = 0;      // Pipeline construction (model, tokenizer, compile)
  double ttft_ms = 0;           // generate() start to the first generated token
  double tpot_ms = 0;           // mean latency of generated tokens 2..N
  double throughput_tps = 0;    // 1000 / tpot_ms
  double generate_time_ms = 0;  // the whole generate() call
  double prefill_tps = 0;       // prompt tokens / time of the prompt's forward pass
  size_t num_input_tokens = 0;
  size_t num_generated_tokens = 0;
};

struct GenerationResult {
  std::string text;
  std::vector<int32_t> prompt_token_ids;
  std::vector<int32_t> generated_token_ids;
  std::vector<float> logprobs;  // one per generated token when GenerationConfig::logprobs > 0
  FinishReason finish_reason = FinishReason::kNone;
  PerfMetrics perf;
};

// Receives text as it becomes final (whole UTF-8 characters, never a possible start of a stop
// string); returns true to cancel generation.
using Streamer = std::function<bool(std::string_view text)>;

struct ChatMessage {
  std::string role;     // "system", "user", "assistant"
  std::string content;
};

struct PipelineOptions {
  int64_t max_context = 0;  // KV-cache length; 0: min(model's max positions, 4096)
  std::vector<std::filesystem::path> plugin_dirs;  // empty: the default search
};

class Pipeline {
 public:
  // model: a Hugging Face folder or a .gguf file; device: "CPU", "GPU", ... Errors name the
  // path or device at fault.
  Pipeline(const std::filesystem::path& model, std::string_view device = "CPU", const PipelineOptions& options = {});
  ~Pipeline();
  Pipeline(Pipeline&&) noexcept;
  Pipeline& operator=(Pipeline&&) noexcept;

  // Plain completion of `prompt` (BOS added as the tokenizer config says). Each call is a new
  // sequence (the prefix cache may still give it the KV blocks of an earlier prompt's
  // beginning). OUT_OF_RANGE when the prompt does not fit the context.
  GenerationResult generate(std::string_view prompt, const GenerationConfig& config = {}, const Streamer& streamer = {});
  // One reply to `messages`, rendered with the model's chat template (add_generation_prompt).
  GenerationResult generate(const std::vector<ChatMessage>& messages, const GenerationConfig& config = {},
                            const Streamer& streamer = {});

  // A chat session: each generate(prompt) is a user turn; the history is kept between turns,
  // and the prefix cache gives each turn the KV blocks of the rendered history it shares with
  // the turn before, so (whole blocks of) the history are not run again.
  void start_chat(const std::string& system_message = "");
  void finish_chat();
  const std::vector<ChatMessage>& chat_history() const;

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  // The chat template this pipeline renders ("" when the model has none).
  std::string chat_template() const;
  // Renders messages with the chat template (what generate(messages) feeds the model).
  std::string apply_chat_template(const std::vector<ChatMessage>& messages, bool add_generation_prompt = true) const;
  int64_t max_context() const;
  const std::string& device() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmrt
