// ChatTemplate is a thin owner of a jinja::Template; see jinja_template.h for the interpreter
// and jinja_eval.h for its limits.
#include "genai/chat_template.h"

#include "genai/jinja_template.h"

namespace llmrt::genai {

struct ChatTemplate::Impl {
  explicit Impl(std::string_view source) : tmpl(source) {}
  jinja::Template tmpl;
};

ChatTemplate::ChatTemplate(std::string source) : impl_(std::make_unique<Impl>(source)) {}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const nlohmann::ordered_json& variables) const { return impl_->tmpl.render(variables); }

}  // namespace llmrt::genai
