// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmrt {

bool is_valid_utf8(std::string_view s);
// Byte offset of the first byte that does not start a whole, valid character (s.size() when
// the text is valid).
size_t first_invalid_utf8(std::string_view s);
// Length of the valid character starting at s[i] (1..4), or 0 when none starts there.
size_t utf8_sequence_length(std::string_view s, size_t i);
// True when `s` is a proper prefix of some valid multi-byte character (its start, not yet
// complete): what a stream must hold back rather than replace.
bool utf8_incomplete_prefix(std::string_view s);
// Appends the UTF-8 encoding of code point `cp` (the caller keeps cp <= 0x10FFFF).
void append_utf8(std::string& dst, uint32_t cp);
// A printable form of possibly-invalid bytes for error messages: invalid bytes as \xNN,
// cut to `max_bytes` with "...".
std::string printable(std::string_view s, size_t max_bytes = 80);

}  // namespace llmrt
