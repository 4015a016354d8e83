#include "util/utf8.h"

#include <fmt/format.h>

#include <cstdint>
#include <string>

namespace llmrt {
namespace {

// The lead byte's sequence length, 0 for bytes that cannot start a character.
size_t expected_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The allowed range of the second byte after each lead byte (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
bool second_byte_ok(unsigned char lead, unsigned char second) {
  if ((second & 0xC0) != 0x80) return false;
  if (lead == 0xE0) return second >= 0xA0;
  if (lead == 0xED) return second <= 0x9F;
  if (lead == 0xF0) return second >= 0x90;
  if (lead == 0xF4) return second <= 0x8F;
  return true;
}

}  // namespace

size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const size_t len = expected_length(lead);
  if (len <= 1) return len;
  if (i + len > s.size() || !second_byte_ok(lead, static_cast<unsigned char>(s[i + 1]))) return 0;
  for (size_t k = 2; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return len;
}

bool utf8_incomplete_prefix(std::string_view s) {
  if (s.empty()) return false;
  const auto lead = static_cast<unsigned char>(s[0]);
  const size_t len = expected_length(lead);
  if (len <= 1 || s.size() >= len) return false;
  if (s.size() >= 2 && !second_byte_ok(lead, static_cast<unsigned char>(s[1]))) return false;
  for (size_t k = 2; k < s.size(); ++k) {
    if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) return false;
  }
  return true;
}

size_t first_invalid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_sequence_length(s, i);
    if (len == 0) return i;
    i += len;
  }
  return s.size();
}

bool is_valid_utf8(std::string_view s) { return first_invalid_utf8(s) == s.size(); }

std::string printable(std::string_view s, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (out.size() >= max_bytes) return out + "...";
    const size_t len = utf8_sequence_length(s, i);
    const auto c = static_cast<uint8_t>(s[i]);
    if (len == 0 || (len == 1 && (c < 0x20 || c == 0x7F))) {
      out += fmt::format("\\x{:02X}", c);
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

void append_utf8(std::string& dst, uint32_t cp) {
  if (cp < 0x80) {
    dst += static_cast<char>(cp);
  } else if (cp < 0x800) {
    dst += static_cast<char>(0xC0 | (cp >> 6));
    dst += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    dst += static_cast<char>(0xE0 | (cp >> 12));
    dst += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    dst += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    dst += static_cast<char>(0xF0 | (cp >> 18));
    dst += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    dst += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    dst += static_cast<char>(0x80 | (cp & 0x3F));
  }
}


}  // namespace llmrt
