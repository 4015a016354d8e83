// OpenAI response bodies from ServingEngine outputs: the stream's chunks as they arrive, and the
// whole response once every choice has finished.
//
// Chat: "chat.completion" / "chat.completion.chunk" (the first chunk of each choice carries
// delta.role); completions: "text_completion" for both. Logprobs give the chosen token only
// (chat: content[].{token, logprob, bytes, top_logprobs: []}; completions: tokens,
// token_logprobs, top_logprobs: null, text_offset).
//
// Thread-safety: one builder belongs to one request.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "genai/tokenizer.h"
#include "llmrt/serving.hpp"
#include "serve/openai_request.h"

namespace llmrt::serve {

// What every object of one response repeats.
struct ResponseHeader {
  Endpoint endpoint = Endpoint::kChatCompletions;
  std::string id;      // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0; // Unix seconds
  std::string model;
  bool logprobs = false;
  size_t prompt_tokens = 0;
};

// "stop", "length", or "abort" for a cancelled sequence.
std::string_view finish_reason_name(FinishReason reason);

class CompletionBuilder {
 public:
  // `tokenizer` (which must outlive the builder) spells out the tokens of logprobs.
  CompletionBuilder(ResponseHeader header, size_t num_choices, const genai::Tokenizer& tokenizer);

  // Takes one output. When streaming, returns the stream chunk's JSON for it, or "" when it
  // carries nothing a client would see (a token without text, logprobs not asked for).
  std::string add(const GenerationOutput& out, bool streaming);

  std::string usage_chunk() const;  // choices: [] and the usage, for stream_options.include_usage
  std::string response() const;     // the whole non-streamed response
  size_t completion_tokens() const; // over all choices
  const std::string& text(size_t index) const;
  size_t num_choices() const { return choices_.size(); }
  const std::string& id() const { return header_.id; }

 private:
  struct Choice {
    std::string text;
    std::vector<int32_t> token_ids;
    std::vector<float> logprobs;         // when asked for: one per token
    std::vector<size_t> text_offsets;    // when asked for: where each token's output began in text
    bool started = false;                // a chunk has been sent (chat: it carried the role)
    FinishReason finish = FinishReason::kNone;
  };

  ResponseHeader header_;
  const genai::Tokenizer& tokenizer_;
  std::vector<Choice> choices_;
};

}  // namespace llmrt::serve
