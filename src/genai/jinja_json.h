// JSON in and out of the chat-template interpreter: the caller's variables become values
// (null -> None, objects -> dicts in the parser's key order), and the tojson filter prints
// values the way transformers' tojson does: json.dumps(x, ensure_ascii=False, indent=None,
// separators=None, sort_keys=False).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "genai/jinja_value.h"

namespace llmrt::genai::jinja {

Value from_json(const nlohmann::json& j);
Value from_json(const nlohmann::ordered_json& j);

struct JsonOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // nullopt: one line
  std::string item_separator = ", ";  // Python's defaults; "," when indenting
  std::string key_separator = ": ";
  bool sort_keys = false;
};

// json.dumps; TypeError (INVALID_ARGUMENT) for values JSON cannot hold (undefined, objects,
// dict views), as Python raises.
std::string to_json(const Value& v, const JsonOptions& options);

}  // namespace llmrt::genai::jinja
