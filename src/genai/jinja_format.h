// Python string formatting: printf-style `str % args` and `str.format(...)`, and the format
// spec mini-language they share. Specs this does not implement raise UNSUPPORTED.
#pragma once

#include <string>
#include <string_view>

#include "genai/jinja_value.h"

namespace llmrt::genai::jinja {

std::string percent_format(std::string_view format, const Value& args);
std::string str_format(std::string_view format, const CallArgs& args);
// format(value, spec): Python's format() builtin for one value.
std::string format_value(const Value& v, std::string_view spec);

}  // namespace llmrt::genai::jinja
