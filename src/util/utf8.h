// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
#pragma once

#include <string_view>

namespace llmrt {

bool is_valid_utf8(std::string_view s);
// A printable form of possibly-invalid bytes for error messages: invalid bytes as \xNN,
// cut to `max_bytes` with "...".
std::string printable(std::string_view s, size_t max_bytes = 80);

}  // namespace llmrt
