// Pipeline: tokenizer + chat template + compiled model + sampler, one sequence at a time.
//
// Today one request runs the sequence directly. The design's single code path (a Pipeline as
// continuous batching with one sequence) arrives with the serving engine.
#include <algorithm>
#include <chrono>
#include <optional>

#include "genai/sampler.h"
#include "genai/stop_strings.h"
#include "genai/text_model.h"
#include "genai/tokenizer.h"
#include "llmrt/genai.hpp"
#include "llmrt/runtime.hpp"
#include "util/error.h"
#include "util/log.h"

namespace llmrt {

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
}  // namespace

struct Pipeline::Impl {
  genai::TextModel text;
  std::optional<CompiledModel> compiled;
  std::optional<InferRequest> request;
  genai::Tokenizer* tokenizer;
  double load_time_ms = 0;

  bool in_chat = false;
  std::vector<ChatMessage> history;
  std::vector<int32_t> cached;  // the tokens in the request's KV cache, in order

  Impl(const std::filesystem::path& p, std::string_view device, const PipelineOptions& options, Clock::time_point t0)
      : text(p, options.plugin_dirs), tokenizer(text.tokenizer.get()) {
    compiled = text.core.compile(text.model, device, CompileOptions{options.max_context, /*last_token_logits=*/true});
    request = compiled->create_request();
    load_time_ms = ms_since(t0);
    log::info("pipeline: '{}' on {} loaded in {:.1f} ms", p.string(), compiled->device(), load_time_ms);
  }

  GenerationResult run(std::vector<int32_t> ids, const GenerationConfig& config, const Streamer& streamer, Clock::time_point t0) {
    config.validate();
    if (ids.empty()) fail(ErrorCode::kInvalidArgument, "the prompt is empty: it gave no tokens");
    const int64_t context = compiled->max_context();
    if (static_cast<int64_t>(ids.size()) >= context) {
      fail(ErrorCode::kOutOfRange, "the prompt of {} tokens does not fit the context window of {} tokens (leave room for at "
           "least one generated token, or compile with a larger max_context)", ids.size(), context);
    }
    // Reuse the cached prefix (chat turns), but always run at least one token for its logits.
    size_t common = 0;
    while (common < cached.size() && common < ids.size() && cached[common] == ids[common]) ++common;
    if (common == ids.size()) --common;
    request->reset(static_cast<int64_t>(common));
    cached.resize(common);

    GenerationResult result;
    result.prompt_token_ids = ids;
    result.perf.load_time_ms = load_time_ms;
    result.perf.num_input_tokens = ids.size();

    const std::vector<int32_t> end_ids = text.end_ids(config);
    if (config.num_return_sequences != 1) {
      fail(ErrorCode::kInvalidArgument, "GenerationConfig.num_return_sequences = {}: a Pipeline returns one sequence (use a "
           "ServingEngine for several)", config.num_return_sequences);
    }
    genai::Sampler sampler(config, end_ids);
    sampler.observe_prompt(ids);
    genai::StreamDecoder decoder(*tokenizer);
    genai::StopStrings stops(config.stop_strings, config.include_stop_str_in_output);
    const int64_t vocab = request->vocab_size();

    const auto prefill_start = Clock::now();
    const std::vector<int32_t> fresh(ids.begin() + static_cast<std::ptrdiff_t>(common), ids.end());
    std::vector<float> logits = request->infer(fresh);
    cached.insert(cached.end(), fresh.begin(), fresh.end());
    const double prefill_ms = ms_since(prefill_start);
    result.perf.prefill_tps = prefill_ms > 0 ? static_cast<double>(fresh.size()) * 1000.0 / prefill_ms : 0;
    std::vector<float> row(logits.end() - vocab, logits.end());

    std::vector<Clock::time_point> token_times;
    bool cancelled = false, stopped = false;
    auto emit = [&](const std::string& text) {
      if (text.empty()) return;
      result.text += text;
      if (streamer && streamer(text)) cancelled = true;
    };
    while (true) {
      float lp = 0;
      const int32_t token = sampler.next(row, config.logprobs > 0 ? &lp : nullptr);
      token_times.push_back(Clock::now());
      result.generated_token_ids.push_back(token);
      if (config.logprobs > 0) result.logprobs.push_back(lp);
      if (std::find(end_ids.begin(), end_ids.end(), token) != end_ids.end()) {
        stopped = true;
        break;
      }
      auto step = stops.push(decoder.push(token));
      emit(step.emit);
      if (step.stopped) {
        stopped = true;
        break;
      }
      if (cancelled) break;
      if (sampler.generated() >= config.max_new_tokens || request->n_past() + 1 > context) break;
      const std::vector<int32_t> next = {token};
      logits = request->infer(next);
      cached.push_back(token);
      row.assign(logits.begin(), logits.end());
    }
    if (!stopped && !cancelled) {
      auto step = stops.push(decoder.flush());
      emit(step.emit);
      stopped = step.stopped;
      if (!stopped) emit(stops.flush());
    }
    result.finish_reason = cancelled ? FinishReason::kCancelled : stopped ? FinishReason::kStop : FinishReason::kLength;

    PerfMetrics& p = result.perf;
    p.num_generated_tokens = result.generated_token_ids.size();
    p.ttft_ms = std::chrono::duration<double, std::milli>(token_times.front() - t0).count();
    if (token_times.size() > 1) {
      p.tpot_ms = std::chrono::duration<double, std::milli>(token_times.back() - token_times.front()).count() /
                  static_cast<double>(token_times.size() - 1);
      p.throughput_tps = p.tpot_ms > 0 ? 1000.0 / p.tpot_ms : 0;
    }
    p.generate_time_ms = ms_since(t0);
    return result;
  }
};

Pipeline::Pipeline(const std::filesystem::path& model, std::string_view device, const PipelineOptions& options)
    : impl_(std::make_unique<Impl>(model, device, options, Clock::now())) {}
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;

GenerationResult Pipeline::generate(std::string_view prompt, const GenerationConfig& config, const Streamer& streamer) {
  const auto t0 = Clock::now();
  if (!impl_->in_chat) {
    impl_->cached.clear();  // a fresh sequence every call
    return impl_->run(encode(prompt, true), config, streamer, t0);
  }
  impl_->history.push_back({"user", std::string(prompt)});
  try {
    const std::string text = impl_->text.render(impl_->history, true);
    GenerationResult r = impl_->run(impl_->tokenizer->encode(text, {.add_special_tokens = false, .parse_special = true}), config,
                                    streamer, t0);
    impl_->history.push_back({"assistant", r.text});
    return r;
  } catch (...) {
    impl_->history.pop_back();  // the turn did not happen
    throw;
  }
}

GenerationResult Pipeline::generate(const std::vector<ChatMessage>& messages, const GenerationConfig& config,
                                    const Streamer& streamer) {
  const auto t0 = Clock::now();
  const std::string text = impl_->text.render(messages, true);
  if (!impl_->in_chat) impl_->cached.clear();
  return impl_->run(impl_->tokenizer->encode(text, {.add_special_tokens = false, .parse_special = true}), config, streamer, t0);
}

void Pipeline::start_chat(const std::string& system_message) {
  impl_->text.require_template();  // fails now, clearly, when there is no template
  impl_->in_chat = true;
  impl_->history.clear();
  impl_->cached.clear();
  if (!system_message.empty()) impl_->history.push_back({"system", system_message});
}

void Pipeline::finish_chat() {
  impl_->in_chat = false;
  impl_->history.clear();
  impl_->cached.clear();
}

const std::vector<ChatMessage>& Pipeline::chat_history() const { return impl_->history; }

std::vector<int32_t> Pipeline::encode(std::string_view text, bool add_special_tokens) const {
  return impl_->tokenizer->encode(text, {.add_special_tokens = add_special_tokens, .parse_special = false});
}

std::string Pipeline::decode(const std::vector<int32_t>& ids) const { return impl_->tokenizer->decode(ids); }
std::string Pipeline::chat_template() const { return impl_->text.template_source; }
std::string Pipeline::apply_chat_template(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  return impl_->text.render(messages, add_generation_prompt);
}
int64_t Pipeline::max_context() const { return impl_->compiled->max_context(); }
const std::string& Pipeline::device() const { return impl_->compiled->device(); }

}  // namespace llmrt
