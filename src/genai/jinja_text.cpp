#include "genai/jinja_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "genai/jinja_unicode.h"

namespace llmrt::genai::jinja {

bool is_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

uint32_t next_codepoint(std::string_view s, size_t& pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(pos);
  int extra = 0;
  uint32_t cp = 0;
  if (b0 < 0x80) {
    ++pos;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    extra = 1;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    extra = 2;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    extra = 3;
    cp = b0 & 0x07;
  } else {
    ++pos;
    return b0;
  }
  for (int i = 1; i <= extra; ++i) {
    if (pos + i >= s.size() || (byte(pos + i) & 0xC0) != 0x80) {
      ++pos;
      return b0;
    }
    cp = (cp << 6) | (byte(pos + i) & 0x3F);
  }
  pos += extra + 1;
  return cp;
}


size_t codepoint_count(std::string_view s) {
  if (is_ascii(s)) return s.size();
  size_t n = 0;
  for (size_t pos = 0; pos < s.size(); ++n) next_codepoint(s, pos);
  return n;
}

std::vector<size_t> codepoint_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t pos = 0; pos < s.size();) {
    offsets.push_back(pos);
    next_codepoint(s, pos);
  }
  offsets.push_back(s.size());
  return offsets;
}

bool py_isspace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

namespace {

bool in_ranges(const unicode::CodeRange* ranges, size_t n, uint32_t cp) {
  const unicode::CodeRange* end = ranges + n;
  const auto* it = std::upper_bound(ranges, end, cp, [](uint32_t c, const unicode::CodeRange& r) { return c < r.first; });
  return it != ranges && cp <= (it - 1)->last;
}

enum class Case : uint8_t { kUpper, kLower, kTitle, kFold };

// Appends Python's full case mapping of cp.
void append_case(std::string& dst, uint32_t cp, Case which) {
  using namespace unicode;
  const CaseRun* runs = kUpperRuns;
  size_t run_count = kUpperRunCount;
  const SpecialCase* special = kUpperSpecial;
  size_t special_count = kUpperSpecialCount;
  if (which == Case::kLower) {
    runs = kLowerRuns, run_count = kLowerRunCount, special = kLowerSpecial, special_count = kLowerSpecialCount;
  } else if (which == Case::kTitle) {
    runs = kTitleRuns, run_count = kTitleRunCount, special = kTitleSpecial, special_count = kTitleSpecialCount;
  } else if (which == Case::kFold) {
    runs = kFoldRuns, run_count = kFoldRunCount, special = kFoldSpecial, special_count = kFoldSpecialCount;
  }
  if (cp < 0x80) {
    if (which == Case::kLower || which == Case::kFold) {
      dst += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    } else {
      dst += static_cast<char>(cp >= 'a' && cp <= 'z' ? cp - 32 : cp);
    }
    return;
  }
  for (size_t i = 0; i < special_count; ++i) {
    if (special[i].cp == cp) {
      dst += special[i].utf8;
      return;
    }
  }
  const CaseRun* end = runs + run_count;
  const auto* it = std::upper_bound(runs, end, cp, [](uint32_t c, const CaseRun& r) { return c < r.first; });
  if (it != runs) {
    const CaseRun& r = *(it - 1);
    if (cp <= r.last && (r.stride == 0 ? cp == r.first : (cp - r.first) % r.stride == 0)) {
      append_utf8(dst, static_cast<uint32_t>(static_cast<int64_t>(cp) + r.delta));
      return;
    }
  }
  append_utf8(dst, cp);
}

bool case_ignorable(uint32_t cp) { return in_ranges(unicode::kCaseIgnorable, unicode::kCaseIgnorableCount, cp); }

// CPython's lower() of one character at index i of `cps`, with the Final_Sigma rule for Σ.
void append_lower_at(std::string& dst, const std::vector<uint32_t>& cps, size_t i) {
  if (cps[i] != 0x3A3) {
    append_case(dst, cps[i], Case::kLower);
    return;
  }
  // Final when a cased letter precedes (skipping case-ignorables) and none follows.
  size_t j = i;
  uint32_t c = 0;
  bool found = false;
  while (j > 0) {
    c = cps[--j];
    if (!case_ignorable(c)) {
      found = true;
      break;
    }
  }
  bool final_sigma = found && py_is_cased(c);
  if (final_sigma && i + 1 < cps.size()) {
    size_t k = i + 1;
    while (k < cps.size() && case_ignorable(cps[k])) ++k;
    final_sigma = k == cps.size() || !py_is_cased(cps[k]);
  }
  append_utf8(dst, final_sigma ? 0x3C2 : 0x3C3);
}

std::vector<uint32_t> decode(std::string_view s) {
  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) cps.push_back(next_codepoint(s, pos));
  return cps;
}

}  // namespace

bool py_is_cased(uint32_t cp) { return in_ranges(unicode::kCased, unicode::kCasedCount, cp); }
bool py_is_upper(uint32_t cp) { return in_ranges(unicode::kUppercaseProp, unicode::kUppercasePropCount, cp); }
bool py_is_lower(uint32_t cp) { return in_ranges(unicode::kLowercaseProp, unicode::kLowercasePropCount, cp); }
bool py_is_titlecase(uint32_t cp) { return in_ranges(unicode::kTitlecaseProp, unicode::kTitlecasePropCount, cp); }
bool py_is_alpha(uint32_t cp) { return in_ranges(unicode::kAlpha, unicode::kAlphaCount, cp); }
// Python: isalnum() is isalpha() or isdecimal() or isdigit() or isnumeric(), and decimal and
// digit characters are all numeric (checked over every code point of Unicode 14).
bool py_is_alnum(uint32_t cp) { return py_is_alpha(cp) || py_is_numeric(cp); }
bool py_is_digit(uint32_t cp) { return in_ranges(unicode::kDigit, unicode::kDigitCount, cp); }
bool py_is_decimal(uint32_t cp) { return in_ranges(unicode::kDecimal, unicode::kDecimalCount, cp); }
bool py_is_numeric(uint32_t cp) { return in_ranges(unicode::kNumeric, unicode::kNumericCount, cp); }
bool py_is_printable(uint32_t cp) { return !in_ranges(unicode::kNonPrintable, unicode::kNonPrintableCount, cp); }

std::string py_upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) append_case(out, next_codepoint(s, pos), Case::kUpper);
  return out;
}

std::string py_lower(std::string_view s) {
  const std::vector<uint32_t> cps = decode(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < cps.size(); ++i) append_lower_at(out, cps, i);
  return out;
}

std::string py_casefold(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) append_case(out, next_codepoint(s, pos), Case::kFold);
  return out;
}

bool py_str_is_case(std::string_view s, bool upper) {
  bool cased = false;
  for (size_t pos = 0; pos < s.size();) {
    const uint32_t cp = next_codepoint(s, pos);
    if ((upper ? py_is_lower(cp) : py_is_upper(cp)) || py_is_titlecase(cp)) return false;
    cased |= upper ? py_is_upper(cp) : py_is_lower(cp);
  }
  return cased;
}

std::string py_swapcase(std::string_view s) {
  const std::vector<uint32_t> cps = decode(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    if (py_is_upper(cps[i])) {
      append_lower_at(out, cps, i);
    } else if (py_is_lower(cps[i])) {
      append_case(out, cps[i], Case::kUpper);
    } else {
      append_utf8(out, cps[i]);
    }
  }
  return out;
}

std::string py_title(std::string_view s) {
  const std::vector<uint32_t> cps = decode(s);
  std::string out;
  out.reserve(s.size());
  bool previous_cased = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (previous_cased) {
      append_lower_at(out, cps, i);
    } else {
      append_case(out, cps[i], Case::kTitle);
    }
    previous_cased = py_is_cased(cps[i]);
  }
  return out;
}

std::string py_capitalize(std::string_view s) {
  const std::vector<uint32_t> cps = decode(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i == 0) {
      append_case(out, cps[i], Case::kTitle);
    } else {
      append_lower_at(out, cps, i);
    }
  }
  return out;
}

std::string_view py_strip(std::string_view s, const std::string* chars, bool left, bool right) {
  std::vector<uint32_t> set;
  if (chars) {
    for (size_t pos = 0; pos < chars->size();) set.push_back(next_codepoint(*chars, pos));
  }
  const auto strippable = [&](uint32_t cp) {
    if (!chars) return py_isspace(cp);
    for (uint32_t c : set) {
      if (c == cp) return true;
    }
    return false;
  };
  const std::vector<size_t> offsets = codepoint_offsets(s);
  const auto cp_at = [&](size_t i) {
    size_t pos = offsets[i];
    return next_codepoint(s, pos);
  };
  size_t begin = 0, end = offsets.size() - 1;
  if (left) {
    while (begin < end && strippable(cp_at(begin))) ++begin;
  }
  if (right) {
    while (end > begin && strippable(cp_at(end - 1))) --end;
  }
  return s.substr(offsets[begin], offsets[end] - offsets[begin]);
}

namespace {

// Whitespace-run tokens of `s` as [begin, end) byte ranges.
std::vector<std::pair<size_t, size_t>> whitespace_words(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> words;
  size_t pos = 0;
  size_t word_begin = std::string_view::npos;
  while (pos < s.size()) {
    const size_t here = pos;
    const uint32_t cp = next_codepoint(s, pos);
    if (py_isspace(cp)) {
      if (word_begin != std::string_view::npos) words.emplace_back(word_begin, here);
      word_begin = std::string_view::npos;
    } else if (word_begin == std::string_view::npos) {
      word_begin = here;
    }
  }
  if (word_begin != std::string_view::npos) words.emplace_back(word_begin, s.size());
  return words;
}

}  // namespace

std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      const size_t hit = s.find(*sep, start);
      if (hit == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, hit - start));
      start = hit + sep->size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  const auto words = whitespace_words(s);
  for (size_t i = 0; i < words.size(); ++i) {
    if (maxsplit >= 0 && static_cast<int64_t>(i) == maxsplit) {
      // The rest keeps its inner and trailing whitespace.
      parts.emplace_back(s.substr(words[i].first));
      break;
    }
    parts.emplace_back(s.substr(words[i].first, words[i].second - words[i].first));
  }
  return parts;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep) {
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      if (end < sep->size()) break;
      const size_t hit = s.rfind(*sep, end - sep->size());
      if (hit == std::string_view::npos) break;
      parts.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
    parts.emplace_back(s.substr(0, end));
  } else {
    const auto words = whitespace_words(s);
    for (size_t n = 0; n < words.size(); ++n) {
      const size_t i = words.size() - 1 - n;
      if (maxsplit >= 0 && static_cast<int64_t>(n) == maxsplit) {
        parts.emplace_back(s.substr(0, words[i].second));
        break;
      }
      parts.emplace_back(s.substr(words[i].first, words[i].second - words[i].first));
    }
  }
  return {parts.rbegin(), parts.rend()};
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> lines;
  size_t start = 0, pos = 0;
  while (pos < s.size()) {
    const size_t here = pos;
    const uint32_t cp = next_codepoint(s, pos);
    const bool is_break = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C ||
                          cp == 0x1D || cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!is_break) continue;
    if (cp == '\r' && pos < s.size() && s[pos] == '\n') ++pos;
    lines.emplace_back(s.substr(start, (keepends ? pos : here) - start));
    start = pos;
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

std::string py_repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (size_t pos = 0; pos < s.size();) {
    const uint32_t cp = next_codepoint(s, pos);
    if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (!py_is_printable(cp)) {
      if (cp < 0x100) {
        out += fmt::format("\\x{:02x}", cp);
      } else if (cp < 0x10000) {
        out += fmt::format("\\u{:04x}", cp);
      } else {
        out += fmt::format("\\U{:08x}", cp);
      }
    } else {
      append_utf8(out, cp);
    }
  }
  out += quote;
  return out;
}

std::string py_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then Python's layout: positional when the decimal exponent
  // is in [-4, 16), scientific otherwise.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  const std::string sci(buf, res.ptr);
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::atoi(sci.c_str() + e_pos + 1);
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out += digits;
    } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
      out += digits;
      out.append(static_cast<size_t>(exponent) + 1 - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exponent) + 1);
      out += '.';
      out += digits.substr(static_cast<size_t>(exponent) + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', exponent < 0 ? -exponent : exponent);
  return out;
}

}  // namespace llmrt::genai::jinja
