// Tokenizer for Jinja templates, reproducing jinja2's lexer with the settings transformers
// uses: trim_blocks (a newline right after a block or comment tag is dropped), lstrip_blocks
// (spaces and tabs before a block or comment tag that starts a line are dropped),
// keep_trailing_newline off (one newline at the end of the source is dropped), whitespace
// control with "-" and "+" on tags, {% raw %} blocks, and \r\n and \r read as \n.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt::genai::jinja {

enum class TokenKind : uint8_t {
  kData,           // text outside tags, already whitespace-trimmed
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,         // text: the decoded value
  kInteger,
  kFloat,
  kOperator,       // text: "+", "//", "(", ...
  kEnd,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  int line = 0;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
};

// BAD_FORMAT with the line for a lexical error (an unclosed comment, an unexpected character,
// unbalanced brackets, a bad string escape).
std::vector<Token> tokenize(std::string_view source);

}  // namespace llmrt::genai::jinja
