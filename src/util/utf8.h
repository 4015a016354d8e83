// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmrt {

bool is_valid_utf8(std::string_view s);
// Appends the UTF-8 encoding of code point `cp` (the caller keeps cp <= 0x10FFFF).
void append_utf8(std::string& dst, uint32_t cp);
// A printable form of possibly-invalid bytes for error messages: invalid bytes as \xNN,
// cut to `max_bytes` with "...".
std::string printable(std::string_view s, size_t max_bytes = 80);

}  // namespace llmrt
