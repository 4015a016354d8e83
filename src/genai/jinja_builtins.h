// The filters, tests and globals the interpreter provides, by name. Filters and tests are
// looked up when the template is parsed; globals when a name is not a variable.
#pragma once

#include <string_view>

#include "genai/jinja_ast.h"

namespace llmrt::genai::jinja {

// Null when there is none of that name.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);
// True for jinja2's built-in filters this interpreter does not implement (UNSUPPORTED), as
// opposed to names jinja2 does not know either (BAD_FORMAT).
bool is_unimplemented_filter(std::string_view name);

// range, dict, namespace, joiner, cycler, raise_exception, strftime_now; undefined when the
// name is none of these.
Value find_global(std::string_view name);

// Applies a filter or test by name, for map('upper'), select('odd') and friends.
Value apply_filter(Interpreter& interp, std::string_view name, const Value& operand, const CallArgs& args);
bool apply_test(Interpreter& interp, std::string_view name, const Value& operand, const CallArgs& args);

}  // namespace llmrt::genai::jinja
