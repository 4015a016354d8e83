// Python's operators and jinja2's sandboxed attribute and item access, on interpreter values.
#pragma once

#include <string>
#include <string_view>

#include "genai/jinja_ast.h"

namespace llmrt::genai::jinja {

// + - * / // % ** and ~ (kConcat), with Python's rules: int/int division is float, // and %
// floor toward negative infinity, str * int repeats, str % args formats, markup + str escapes.
Value binary_op(BinaryOp op, const Value& a, const Value& b);
bool compare_op(CompareOp op, const Value& a, const Value& b);
// `item in container`: substring, list element, dict key; undefined contains nothing.
bool contains(const Value& container, const Value& item);
Value negate(const Value& v);
Value unary_plus(const Value& v);

// obj.name: methods first, then dict items (jinja2's getattr). Undefined when missing.
Value get_attribute(const Value& obj, std::string_view name);
// obj[key]: items first, then attributes for string keys (jinja2's getitem).
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] on strings (by code point) and sequences; none for absent parts.
Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

// markupsafe.escape: & < > ' " as HTML entities.
std::string html_escape(std::string_view s);

// Overflow-checked 64-bit arithmetic (Python ints are unbounded; here overflow is an error).
int64_t checked_add(int64_t a, int64_t b);
int64_t checked_mul(int64_t a, int64_t b);

}  // namespace llmrt::genai::jinja
