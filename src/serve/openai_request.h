// OpenAI request bodies -> what the ServingEngine needs, and the API's error shape.
//
// parse_completion_request is pure (no engine, no I/O) and never throws on any input: every
// body, however hostile, gives either a ParsedRequest or an ApiError naming the field at fault.
// That makes it the unit the tests and fuzzers drive directly.
//
// Field rules (docs/serving.md has the full table): unknown fields are ignored, since OpenAI
// clients send extras; a known field with the wrong JSON type, or a value out of range, is a
// 400 naming the field in `param`. Fields that would change the answer in ways the engine
// cannot honour (echo, suffix, best_of > 1, logit_bias, tools, a non-text response_format) are
// refused rather than silently ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "llmrt/genai.hpp"

namespace llmrt::serve {

// The body of {"error": {...}} plus the HTTP status it is sent with.
struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";  // OpenAI's error type
  std::string code;     // "" is sent as null
  std::string param;    // "" is sent as null
  std::string message;

  std::string to_json() const;  // {"error":{"message","type","param","code"}}
};

// An invalid_request_error (400) about `param`.
ApiError bad_request(std::string code, std::string param, std::string message);

enum class Endpoint { kChatCompletions, kCompletions };
std::string_view to_string(Endpoint endpoint);  // "/v1/chat/completions", "/v1/completions"

struct Limits {
  size_t max_n = 16;  // the largest `n` accepted
};

struct ParsedRequest {
  Endpoint endpoint = Endpoint::kChatCompletions;
  std::string model;                   // as sent; "" when absent
  std::vector<ChatMessage> messages;   // chat: the conversation, text parts joined
  std::string prompt;                  // completions: the prompt text ...
  std::vector<int32_t> prompt_ids;     // ... or its token ids (then prompt is unused)
  bool prompt_is_ids = false;
  std::optional<size_t> max_tokens;    // absent: up to the end of the context
  std::optional<uint64_t> seed;        // absent: the server picks one per request
  bool stream = false;
  bool include_usage = false;          // stream_options.include_usage
  bool logprobs = false;               // return each chosen token's log-probability
  // Sampling, stop strings, penalties, n and logprobs; max_new_tokens and rng_seed are left
  // for the server (they depend on the prompt's length and on `seed`).
  GenerationConfig config;
};

// Never throws (allocation failure aside).
std::variant<ParsedRequest, ApiError> parse_completion_request(std::string_view body, Endpoint endpoint,
                                                               const Limits& limits);

// Whether an Authorization header value is "Bearer <key>" (the scheme case-insensitive). Every
// byte of the key is compared whatever the header holds: the time taken depends on the key's
// length alone, never on where a guess first differs.
bool bearer_token_matches(std::string_view authorization, std::string_view key);

}  // namespace llmrt::serve
