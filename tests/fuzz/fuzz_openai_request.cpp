// OpenAI request bodies (src/serve/openai_request.h): any bytes are a body for both endpoints.
// The parser must never throw; what it accepts must be a GenerationConfig the engine takes
// (validate() passes) within the server's limits, and what it refuses must be a 4xx error whose
// JSON is well formed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "serve/openai_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const llmrt::serve::Limits limits;
  for (auto endpoint : {llmrt::serve::Endpoint::kChatCompletions, llmrt::serve::Endpoint::kCompletions}) {
    const auto parsed = llmrt::serve::parse_completion_request(body, endpoint, limits);
    if (const auto* req = std::get_if<llmrt::serve::ParsedRequest>(&parsed)) {
      req->config.validate();  // throws (and the fuzzer reports it) if the parser let a bad value through
      if (req->config.num_return_sequences > limits.max_n) std::abort();
      if (req->max_tokens && *req->max_tokens == 0) std::abort();
    } else {
      const auto& err = std::get<llmrt::serve::ApiError>(parsed);
      if (err.status < 400 || err.status > 499) std::abort();
      if (!nlohmann::json::accept(err.to_json())) std::abort();
    }
  }
  // The API-key check on the same bytes as a header (must not read past either string).
  (void)llmrt::serve::bearer_token_matches(body, "sk-test-key");
  return 0;
}
