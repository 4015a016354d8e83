// Parser for Jinja templates: jinja2's grammar (precedence, postfix, filters and tests,
// chained comparisons, tuples) and the statements chat templates use. Constructs it does not
// implement raise UNSUPPORTED naming the construct and its line; syntax errors raise
// BAD_FORMAT with the line.
//
// Limits (hostile templates get an error, not a crash): brackets, parentheses, unary
// operators and statements nest at most kMaxNesting deep, and an expression tree is at
// most kMaxExprDepth high (long chains like a + b + ... count too).
#pragma once

#include <string_view>

#include "genai/jinja_ast.h"

namespace llmrt::genai::jinja {

constexpr int kMaxNesting = 64;
constexpr int kMaxExprDepth = 256;

Program parse_template(std::string_view source);

}  // namespace llmrt::genai::jinja
