// Chat templates: the model's own Jinja template, rendered the way Hugging Face transformers
// renders it (jinja2 sandbox, trim_blocks and lstrip_blocks on, loopcontrols, tojson without
// ASCII escaping, raise_exception, strftime_now).
//
// Thread-safety: a ChatTemplate is immutable after parsing; render() may run concurrently.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace llmrt::genai {

class ChatTemplate {
 public:
  // Parses the template. UNSUPPORTED (llmrt::Error) naming the construct and its line when the
  // interpreter does not handle it; BAD_FORMAT for a syntax error, with the line.
  explicit ChatTemplate(std::string source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // Renders with these variables (messages, add_generation_prompt, bos_token, eos_token,
  // tools, ...: every key becomes a template variable). Objects keep the caller's key order
  // (ordered_json), which tojson and items() print. A raise_exception() in the template is an
  // INVALID_ARGUMENT error carrying the template's message.
  std::string render(const nlohmann::ordered_json& variables) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmrt::genai
