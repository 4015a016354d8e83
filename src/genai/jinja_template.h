// A parsed Jinja template: the interpreter behind ChatTemplate, for callers that need what
// ChatTemplate's interface cannot give. nlohmann::json sorts object keys, but a template's
// output can depend on key order (tojson, dict.items()), so this takes nlohmann::ordered_json
// as well; and RenderOptions pins the clock strftime_now() reads (tests, reproducible runs).
//
// Thread-safety: immutable after construction; render() may run concurrently.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "genai/jinja_eval.h"

namespace llmrt::genai::jinja {

class Template {
 public:
  // BAD_FORMAT for syntax errors, UNSUPPORTED for constructs not implemented, both with the line.
  explicit Template(std::string_view source);

  // Every key of `variables` (a JSON object) becomes a template variable. A template's
  // raise_exception(msg) is INVALID_ARGUMENT with exactly msg; other render errors carry the line.
  std::string render(const nlohmann::ordered_json& variables, const RenderOptions& options = {}) const;
  std::string render(const nlohmann::json& variables, const RenderOptions& options = {}) const;
  std::string render(const Dict& variables, const RenderOptions& options = {}) const;

 private:
  std::shared_ptr<const Program> program_;
};

}  // namespace llmrt::genai::jinja
