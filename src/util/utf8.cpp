#include "util/utf8.h"

#include <fmt/format.h>

#include <cstdint>
#include <string>

namespace llmrt {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
size_t sequence_length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  uint8_t c = b(0);
  if (c < 0x80) return 1;
  size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (len == 0 || c > 0xF4 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
  }
  if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
  if (c == 0xED && b(1) > 0x9F) return 0;  // surrogate
  if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
  if (c == 0xF4 && b(1) > 0x8F) return 0;  // above U+10FFFF
  return len;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t len = sequence_length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
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

std::string printable(std::string_view s, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (out.size() >= max_bytes) return out + "...";
    size_t len = sequence_length(s, i);
    auto c = static_cast<uint8_t>(s[i]);
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

}  // namespace llmrt
