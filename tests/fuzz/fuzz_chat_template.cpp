// Jinja chat-template renderer: any bytes are a template, rendered with a fixed conversation;
// templates that do not parse or fail at run time must raise llmrt::Error, within the renderer's
// step, loop, depth and output limits (src/genai/jinja_eval.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "genai/chat_template.h"
#include "llmrt/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::ordered_json vars = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi <b>there</b>"},
                 {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "2+2?"}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]})");
  try {
    const llmrt::genai::ChatTemplate t(std::string(reinterpret_cast<const char*>(data), size));
    (void)t.render(vars);
  } catch (const llmrt::Error&) {
  }
  return 0;
}
