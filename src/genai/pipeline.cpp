// Pipeline: one sequence at a time on the ServingEngine's path (continuous batching with one
// sequence, the paged KV cache, prefix caching). The engine runs without a thread of its own:
// generate() steps it on the caller's thread and hands each piece of text to the streamer
// between steps, so a streamer that asks to stop is obeyed before another token is computed.
// A chat's turns share the KV blocks of the history through the prefix cache.
#include "llmrt/genai.hpp"
#include "llmrt/serving.hpp"
#include "util/error.h"
#include "util/log.h"

namespace llmrt {

struct Pipeline::Impl {
  ServingEngine engine;
  bool in_chat = false;
  std::vector<ChatMessage> history;

  static SchedulerConfig scheduler(const PipelineOptions& options) {
    SchedulerConfig s;
    s.max_num_seqs = 1;
    s.max_context = options.max_context;
    s.step_thread = false;
    // A whole prompt in one step (one sequence has nobody to share steps with).
    s.max_num_batched_tokens = options.max_context > 0 ? static_cast<size_t>(options.max_context) : 4096;
    return s;
  }

  Impl(const std::filesystem::path& p, std::string_view device, const PipelineOptions& options)
      : engine(p, device, scheduler(options), options) {}

  GenerationResult run(GenerationHandle handle, const Streamer& streamer) {
    bool cancelled = false;
    try {
      while (true) {
        const bool more = engine.step();
        while (auto out = handle.try_read()) {
          if (!out->text.empty() && streamer && !cancelled && streamer(out->text)) {
            cancelled = true;
            handle.cancel();
          }
        }
        if (handle.finished() || !more) break;
      }
    } catch (...) {
      handle.cancel();  // a throwing streamer abandons the request: the next step ends it
      throw;
    }
    return handle.wait().front();
  }

  GenerationResult generate(const std::vector<ChatMessage>& messages, const GenerationConfig& config, const Streamer& streamer) {
    return run(engine.add_request(messages, checked(config)), streamer);
  }

  static const GenerationConfig& checked(const GenerationConfig& config) {
    if (config.num_return_sequences != 1) {
      fail(ErrorCode::kInvalidArgument, "GenerationConfig.num_return_sequences = {}: a Pipeline returns one sequence (use a "
           "ServingEngine for several)", config.num_return_sequences);
    }
    return config;
  }
};

Pipeline::Pipeline(const std::filesystem::path& model, std::string_view device, const PipelineOptions& options)
    : impl_(std::make_unique<Impl>(model, device, options)) {
  log::info("pipeline: '{}' on {} ready", model.string(), impl_->engine.device());
}
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;

GenerationResult Pipeline::generate(std::string_view prompt, const GenerationConfig& config, const Streamer& streamer) {
  if (!impl_->in_chat) return impl_->run(impl_->engine.add_request(prompt, Impl::checked(config)), streamer);
  impl_->history.push_back({"user", std::string(prompt)});
  try {
    GenerationResult r = impl_->generate(impl_->history, config, streamer);
    impl_->history.push_back({"assistant", r.text});
    return r;
  } catch (...) {
    impl_->history.pop_back();  // the turn did not happen
    throw;
  }
}

GenerationResult Pipeline::generate(const std::vector<ChatMessage>& messages, const GenerationConfig& config,
                                    const Streamer& streamer) {
  return impl_->generate(messages, config, streamer);
}

void Pipeline::start_chat(const std::string& system_message) {
  if (impl_->engine.chat_template().empty()) impl_->engine.apply_chat_template({}, true);  // NOT_FOUND, naming where it looked
  impl_->in_chat = true;
  impl_->history.clear();
  if (!system_message.empty()) impl_->history.push_back({"system", system_message});
}

void Pipeline::finish_chat() {
  impl_->in_chat = false;
  impl_->history.clear();
}

const std::vector<ChatMessage>& Pipeline::chat_history() const { return impl_->history; }

std::vector<int32_t> Pipeline::encode(std::string_view text, bool add_special_tokens) const {
  return impl_->engine.encode(text, add_special_tokens);
}

std::string Pipeline::decode(const std::vector<int32_t>& ids) const { return impl_->engine.decode(ids); }
std::string Pipeline::chat_template() const { return impl_->engine.chat_template(); }
std::string Pipeline::apply_chat_template(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  return impl_->engine.apply_chat_template(messages, add_generation_prompt);
}
int64_t Pipeline::max_context() const { return impl_->engine.max_context(); }
const std::string& Pipeline::device() const { return impl_->engine.device(); }

}  // namespace llmrt
