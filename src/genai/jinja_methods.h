// Methods of str, dict and list values that templates call (message.content.strip(),
// tool.items(), text.split('</think>')), as bound-method objects.
#pragma once

#include <optional>
#include <string_view>

#include "genai/jinja_value.h"

namespace llmrt::genai::jinja {

// The bound method `obj.name`, an unsafe-attribute undefined for methods that mutate (the
// sandbox forbids list.append, dict.update, ...), or nullopt when the type has no such method.
std::optional<Value> find_method(const Value& obj, std::string_view name);

}  // namespace llmrt::genai::jinja
