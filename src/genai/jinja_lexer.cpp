#include "genai/jinja_lexer.h"

#include <charconv>
#include <cstring>

#include "genai/jinja_text.h"
#include "util/error.h"

namespace llmrt::genai::jinja {

namespace {

constexpr size_t npos = std::string_view::npos;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(normalize_newlines(source)) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t tag = find_tag(pos_);
      if (tag == npos) {
        emit_data(std::string_view(src_).substr(pos_));
        line_ += count_newlines(pos_, src_.size());
        break;
      }
      const char kind = src_[tag + 1];
      const char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
      size_t raw_end = npos;
      if (kind == '%') raw_end = match_raw_begin(tag);
      emit_data(strip_before_tag(std::string_view(src_).substr(pos_, tag - pos_), sign, kind != '{'));
      line_ += count_newlines(pos_, tag);
      if (raw_end != npos) {
        line_ += count_newlines(tag, raw_end);
        line_starting_ = src_[raw_end - 1] == '\n';
        pos_ = raw_end;
        lex_raw();
        continue;
      }
      line_starting_ = false;
      pos_ = tag + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        lex_comment();
      } else {
        lex_tag(kind == '%');
      }
    }
    push(TokenKind::kEnd, "");
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(ErrorCode::kBadFormat, "{} at line {}", what, line_);
  }

  size_t count_newlines(size_t begin, size_t end) const {
    size_t n = 0;
    for (size_t i = begin; i < end; ++i) n += src_[i] == '\n';
    return n;
  }

  void push(TokenKind kind, std::string text) {
    Token t;
    t.kind = kind;
    t.line = line_;
    t.text = std::move(text);
    tokens_.push_back(std::move(t));
  }

  void emit_data(std::string_view text) {
    if (!text.empty()) push(TokenKind::kData, std::string(text));
  }

  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != npos && i + 1 < src_.size(); i = src_.find('{', i + 1)) {
      const char c = src_[i + 1];
      if (c == '{' || c == '%' || c == '#') return i;
    }
    return npos;
  }

  // Length of the whitespace character at `p` (Python's \s), 0 when there is none.
  size_t space_at(size_t p) const {
    if (p >= src_.size()) return 0;
    size_t next = p;
    return py_isspace(next_codepoint(src_, next)) ? next - p : 0;
  }

  size_t skip_spaces(size_t p) const {
    while (size_t n = space_at(p)) p += n;
    return p;
  }

  bool starts_with(size_t p, std::string_view s) const { return src_.compare(p, s.size(), s) == 0; }

  // jinja2's lstrip_blocks and "-" handling of the text before a tag.
  std::string_view strip_before_tag(std::string_view text, char sign, bool strippable_tag) const {
    if (sign == '-') return py_strip(text, nullptr, false, true);
    if (sign == '+' || !strippable_tag) return text;
    const size_t nl = text.rfind('\n');
    const size_t line_begin = nl == npos ? 0 : nl + 1;
    if (line_begin == 0 && !line_starting_) return text;
    const std::string_view tail = text.substr(line_begin);
    if (tail.empty() || py_strip(tail, nullptr, true, false).size() != 0) return text;
    return text.substr(0, line_begin);
  }

  // {%[-+]? raw [-]%}: the position after the tag, or npos when the tag at `tag` is not raw.
  size_t match_raw_begin(size_t tag) const {
    size_t p = tag + 2;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    p = skip_spaces(p);
    if (!starts_with(p, "raw")) return npos;
    p = skip_spaces(p + 3);
    if (starts_with(p, "-%}")) return skip_spaces(p + 3);
    if (starts_with(p, "%}")) return p + 2;
    return npos;
  }

  void lex_raw() {
    for (size_t i = src_.find("{%", pos_); i != npos; i = src_.find("{%", i + 1)) {
      size_t p = i + 2;
      char sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
      p = skip_spaces(p);
      if (!starts_with(p, "endraw")) continue;
      p = skip_spaces(p + 6);
      size_t end;
      if (starts_with(p, "+%}")) {
        end = p + 3;
      } else if (starts_with(p, "-%}")) {
        end = skip_spaces(p + 3);
      } else if (starts_with(p, "%}")) {
        end = p + 2 + (starts_with(p + 2, "\n") ? 1 : 0);
      } else {
        continue;
      }
      emit_data(strip_before_tag(std::string_view(src_).substr(pos_, i - pos_), sign, true));
      line_ += count_newlines(pos_, end);
      line_starting_ = src_[end - 1] == '\n';
      pos_ = end;
      return;
    }
    error("missing end of raw directive");
  }

  void lex_comment() {
    for (size_t i = src_.find("#}", pos_); i != npos; i = src_.find("#}", i + 1)) {
      size_t end;
      if (i > pos_ && src_[i - 1] == '+') {
        end = i + 2;
      } else if (i > pos_ && src_[i - 1] == '-') {
        end = skip_spaces(i + 2);
      } else {
        end = i + 2 + (starts_with(i + 2, "\n") ? 1 : 0);
      }
      line_ += count_newlines(pos_, end);
      line_starting_ = src_[end - 1] == '\n';
      pos_ = end;
      return;
    }
    error("missing end of comment tag");
  }

  // The end of the tag at pos_, or npos.
  size_t match_tag_end(bool block) const {
    const char* close = block ? "%}" : "}}";
    if (block && src_[pos_] == '+' && starts_with(pos_ + 1, close)) return pos_ + 3;
    if (src_[pos_] == '-' && starts_with(pos_ + 1, close)) return skip_spaces(pos_ + 3);
    if (starts_with(pos_, close)) return pos_ + 2 + (block && starts_with(pos_ + 2, "\n") ? 1 : 0);
    return npos;
  }

  void lex_tag(bool block) {
    const int begin_line = line_;
    push(block ? TokenKind::kBlockBegin : TokenKind::kVariableBegin, "");
    std::string balance;
    while (pos_ < src_.size()) {
      if (balance.empty()) {
        const size_t end = match_tag_end(block);
        if (end != npos) {
          push(block ? TokenKind::kBlockEnd : TokenKind::kVariableEnd, "");
          line_ += count_newlines(pos_, end);
          line_starting_ = src_[end - 1] == '\n';
          pos_ = end;
          return;
        }
      }
      if (space_at(pos_)) {
        const size_t end = skip_spaces(pos_);
        line_ += count_newlines(pos_, end);
        pos_ = end;
        continue;
      }
      const char c = src_[pos_];
      if (is_digit(c)) {
        lex_number();
      } else if (is_name_start(c)) {
        size_t end = pos_;
        while (end < src_.size() && is_name_char(src_[end])) ++end;
        push(TokenKind::kName, src_.substr(pos_, end - pos_));
        pos_ = end;
      } else if (c == '\'' || c == '"') {
        lex_string();
      } else {
        lex_operator(balance);
      }
    }
    line_ = begin_line;
    error(block ? "unclosed block tag '{%'" : "unclosed variable tag '{{'");
  }

  // (\d+_)*\d+ at p: its end, or npos.
  size_t match_digits(size_t p) const {
    if (p >= src_.size() || !is_digit(src_[p])) return npos;
    while (true) {
      while (p < src_.size() && is_digit(src_[p])) ++p;
      if (p + 1 < src_.size() && src_[p] == '_' && is_digit(src_[p + 1])) {
        ++p;
        continue;
      }
      return p;
    }
  }

  // (_?d)+ in `base` at p: its end (p when nothing matches).
  size_t match_prefixed_digits(size_t p, int base) const {
    const auto is_base_digit = [&](char ch) {
      const char l = static_cast<char>(ch | 0x20);
      return base == 16 ? (is_digit(ch) || (l >= 'a' && l <= 'f')) : (ch >= '0' && ch < '0' + base);
    };
    size_t end = p;
    while (true) {
      size_t q = end;
      if (q < src_.size() && src_[q] == '_') ++q;
      if (q >= src_.size() || !is_base_digit(src_[q])) return end;
      end = q + 1;
    }
  }

  size_t match_float(size_t p) const {
    if (p > 0 && src_[p - 1] == '.') return npos;
    const size_t whole = match_digits(p);
    // \d+ ((\.\d+)? e[+-]?\d+ | \.\d+), tried in that order as Python's regex does.
    size_t q = whole;
    if (q < src_.size() && src_[q] == '.') {
      const size_t frac = match_digits(q + 1);
      if (frac != npos) q = frac;
    }
    if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
      size_t r = q + 1;
      if (r < src_.size() && (src_[r] == '+' || src_[r] == '-')) ++r;
      const size_t exp = match_digits(r);
      if (exp != npos) return exp;
    }
    if (src_[whole] == '.') return match_digits(whole + 1);
    return npos;
  }

  void lex_number() {
    std::string digits;
    const size_t float_end = match_float(pos_);
    if (float_end != npos) {
      for (size_t i = pos_; i < float_end; ++i) {
        if (src_[i] != '_') digits += src_[i];
      }
      double value = 0;
      std::from_chars(digits.data(), digits.data() + digits.size(), value);
      push(TokenKind::kFloat, src_.substr(pos_, float_end - pos_));
      tokens_.back().float_value = value;
      pos_ = float_end;
      return;
    }
    // 0b(_?[01])+ | 0o(_?[0-7])+ | 0x(_?[0-9a-f])+ | [1-9](_?\d)* | 0(_?0)*
    int base = 10;
    size_t end = pos_;
    if (src_[pos_] == '0' && pos_ + 1 < src_.size()) {
      const char x = static_cast<char>(src_[pos_ + 1] | 0x20);
      const int prefixed = x == 'b' ? 2 : x == 'o' ? 8 : x == 'x' ? 16 : 0;
      if (prefixed) {
        const size_t digits_end = match_prefixed_digits(pos_ + 2, prefixed);
        if (digits_end != pos_ + 2) {
          base = prefixed;
          end = digits_end;
          for (size_t i = pos_ + 2; i < end; ++i) {
            if (src_[i] != '_') digits += src_[i];
          }
        }
      }
    }
    if (base == 10) {
      const auto accept = [&](char ch) { return src_[pos_] == '0' ? ch == '0' : is_digit(ch); };
      end = pos_ + 1;
      digits = src_[pos_];
      while (end < src_.size()) {
        if (accept(src_[end])) {
          digits += src_[end++];
        } else if (src_[end] == '_' && end + 1 < src_.size() && accept(src_[end + 1])) {
          ++end;
        } else {
          break;
        }
      }
    }
    int64_t value = 0;
    const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (res.ec != std::errc()) error("integer literal " + src_.substr(pos_, end - pos_) + " is too large");
    push(TokenKind::kInteger, src_.substr(pos_, end - pos_));
    tokens_.back().int_value = value;
    pos_ = end;
  }

  void lex_string() {
    const char quote = src_[pos_];
    const int start_line = line_;
    std::string value;
    size_t p = pos_ + 1;
    while (true) {
      if (p >= src_.size()) {
        line_ = start_line;
        error("unterminated string literal");
      }
      const char c = src_[p];
      if (c == quote) break;
      if (c == '\n') ++line_;
      if (c != '\\') {
        value += c;
        ++p;
        continue;
      }
      if (p + 1 >= src_.size()) {
        line_ = start_line;
        error("unterminated string literal");
      }
      const char e = src_[p + 1];
      p += 2;
      switch (e) {
        case '\n':
          ++line_;
          break;
        case '\\':
        case '\'':
        case '"':
          value += e;
          break;
        case 'a':
          value += '\a';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'n':
          value += '\n';
          break;
        case 'r':
          value += '\r';
          break;
        case 't':
          value += '\t';
          break;
        case 'v':
          value += '\v';
          break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          const auto res = std::from_chars(src_.data() + p, src_.data() + std::min(src_.size(), p + n), cp, 16);
          if (res.ec != std::errc() || res.ptr != src_.data() + p + n) {
            error(fmt::format("truncated \\{} escape in a string literal", e));
          }
          if (cp > 0x10FFFF) error("illegal Unicode character in a string literal");
          if (cp >= 0xD800 && cp <= 0xDFFF) {
            fail(ErrorCode::kUnsupported, "unsupported surrogate escape \\{}{} in a string literal at line {}", e,
                 src_.substr(p, n), line_);
          }
          append_utf8(value, cp);
          p += n;
          break;
        }
        case 'N':
          fail(ErrorCode::kUnsupported, "unsupported \\N{{...}} escape in a string literal at line {}", line_);
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++k) {
              cp = cp * 8 + static_cast<uint32_t>(src_[p++] - '0');
            }
            append_utf8(value, cp);
          } else {
            // Python keeps unknown escapes as written.
            value += '\\';
            value += e;
          }
      }
    }
    Token t;
    t.kind = TokenKind::kString;
    t.line = start_line;
    t.text = std::move(value);
    tokens_.push_back(std::move(t));
    pos_ = p + 1;
  }

  void lex_operator(std::string& balance) {
    static constexpr std::string_view kTwo[] = {"**", "//", "==", "!=", ">=", "<="};
    for (std::string_view op : kTwo) {
      if (starts_with(pos_, op)) {
        push(TokenKind::kOperator, std::string(op));
        pos_ += 2;
        return;
      }
    }
    const char c = src_[pos_];
    if (!std::strchr("+-/*%~[](){}><=.:|,;", c) || c == 0) {
      size_t next = pos_;
      const uint32_t cp = next_codepoint(src_, next);
      std::string shown;
      append_utf8(shown, cp);
      error("unexpected char '" + shown + "'");
    }
    if (c == '(' || c == '[' || c == '{') {
      balance += c == '(' ? ')' : c == '[' ? ']' : '}';
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) error(fmt::format("unexpected '{}'", c));
      if (balance.back() != c) error(fmt::format("unexpected '{}', expected '{}'", c, balance.back()));
      balance.pop_back();
    }
    push(TokenKind::kOperator, std::string(1, c));
    ++pos_;
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace llmrt::genai::jinja
