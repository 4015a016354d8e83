// Python's str semantics over UTF-8 bytes, for the chat-template interpreter: code-point
// length and indexing, str.isspace(), case mapping, repr() and the whitespace rules that
// strip()/split() use.
//
// Case mappings and classes are Python's (full mappings, Final_Sigma in lower()), from the
// tables in jinja_unicode.h. Invalid UTF-8 bytes count as one character.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/utf8.h"

namespace llmrt::genai::jinja {

bool is_ascii(std::string_view s);
// Decodes the code point at `pos` and advances `pos`; an invalid byte decodes as itself.
uint32_t next_codepoint(std::string_view s, size_t& pos);
using llmrt::append_utf8;  // util/utf8.h
size_t codepoint_count(std::string_view s);
// Byte offset of every code point, plus s.size() at the end (size = count + 1).
std::vector<size_t> codepoint_offsets(std::string_view s);

bool py_isspace(uint32_t cp);
// Python's character classes (Unicode data from jinja_unicode.h).
bool py_is_cased(uint32_t cp);
bool py_is_upper(uint32_t cp);  // str.isupper() of the character: uppercase property
bool py_is_lower(uint32_t cp);  // lowercase property
bool py_is_titlecase(uint32_t cp);
bool py_is_alnum(uint32_t cp);
bool py_is_alpha(uint32_t cp);
bool py_is_digit(uint32_t cp);
bool py_is_decimal(uint32_t cp);
bool py_is_numeric(uint32_t cp);
bool py_is_printable(uint32_t cp);

std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_swapcase(std::string_view s);
std::string py_casefold(std::string_view s);
// str.isupper() / str.islower(): at least one character of that case and none of the other
// case or title case.
bool py_str_is_case(std::string_view s, bool upper);
std::string py_title(std::string_view s);       // str.title() (not jinja2's |title)
std::string py_capitalize(std::string_view s);  // str.capitalize()

// str.strip()/lstrip()/rstrip(); `chars` null means whitespace.
std::string_view py_strip(std::string_view s, const std::string* chars, bool left, bool right);
// str.split(sep, maxsplit) and str.rsplit(); `sep` null means runs of whitespace.
std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);

// repr() of a str: quotes and escapes the way Python prints strings inside lists and dicts.
std::string py_repr(std::string_view s);
// Python's repr() of a float ("1.0", "1e-05", "1e+16", "inf", "nan").
std::string py_float_repr(double v);

}  // namespace llmrt::genai::jinja
