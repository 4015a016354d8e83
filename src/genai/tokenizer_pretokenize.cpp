#include "genai/tokenizer_pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <initializer_list>
#include <new>

#include "util/error.h"
#include "util/utf8.h"

namespace llmrt::genai::detail {
namespace {

// Per-thread PCRE2 state: match data with room for the whole match, and a JIT stack large
// enough for long runs of whitespace under look-aheads.
struct MatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;

  MatchState() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    if (data == nullptr || context == nullptr) {
      release();
      throw std::bad_alloc();
    }
    if (stack != nullptr) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchState() { release(); }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;

  void release() {
    if (stack != nullptr) pcre2_jit_stack_free(stack);
    if (context != nullptr) pcre2_match_context_free(context);
    if (data != nullptr) pcre2_match_data_free(data);
    stack = nullptr;
    context = nullptr;
    data = nullptr;
  }
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  int n = pcre2_get_error_message(code, buffer, sizeof(buffer));
  return n < 0 ? "unknown PCRE2 error" : std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}


bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

// ---- Regex ----------------------------------------------------------------------------------

Regex::Regex(std::string_view pattern, std::string_view where) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(), PCRE2_UTF | PCRE2_UCP,
                        &error, &offset, nullptr);
  if (code_ == nullptr) {
    fail(ErrorCode::kUnsupported, "{}: the regex '{}' does not compile with PCRE2: {} (at offset {})", where,
         printable(pattern_), pcre2_message(error), offset);
  }
  jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  if (code_ != nullptr) pcre2_code_free(code_);
}

void Regex::find_all(std::string_view subject, std::vector<Span>& out) const {
  MatchState& state = match_state();
  auto text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const size_t n = subject.size();
  size_t pos = 0;
  while (pos <= n) {
    int rc = jit_ ? pcre2_jit_match(code_, text, n, pos, 0, state.data, state.context)
                  : pcre2_match(code_, text, n, pos, PCRE2_NO_UTF_CHECK, state.data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      fail(ErrorCode::kInternal, "pre-tokenizer regex '{}' failed on a text of {} bytes: {}", printable(pattern_), n,
           pcre2_message(rc));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
    size_t begin = ovector[0], end = ovector[1];
    if (end > begin) {
      out.push_back({begin, end});
      pos = end;
    } else {
      // An empty match: look again one character further on.
      if (begin >= n) break;
      pos = begin + utf8_length(static_cast<unsigned char>(subject[begin]));
    }
  }
}

// ---- byte-level map -------------------------------------------------------------------------

ByteLevelMap::ByteLevelMap() {
  byte_of_codepoint_.fill(-1);
  uint32_t next_extra = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    // Printable Latin-1 stands for itself; the rest (controls, space, 0x7F-0xA0, soft hyphen)
    // is moved to U+0100 and up, in byte order.
    bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    uint32_t cp = printable ? b : next_extra++;
    append_utf8(byte_to_text_[b], cp);
    byte_of_codepoint_[cp] = static_cast<int16_t>(b);
  }
}

const ByteLevelMap& ByteLevelMap::get() {
  static const ByteLevelMap map;
  return map;
}

size_t utf8_decode(std::string_view s, size_t i, uint32_t& codepoint) {
  auto lead = static_cast<unsigned char>(s[i]);
  size_t len = utf8_length(lead);
  if (len == 1 || i + len > s.size()) {
    codepoint = lead;
    return 1;
  }
  uint32_t cp = lead & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (size_t k = 1; k < len; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) {
      codepoint = lead;
      return 1;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  codepoint = cp;
  return len;
}

std::string byte_level_decode(std::string_view token_text) {
  const ByteLevelMap& map = ByteLevelMap::get();
  std::string out;
  out.reserve(token_text.size());
  for (size_t i = 0; i < token_text.size();) {
    uint32_t cp = 0;
    size_t len = utf8_decode(token_text, i, cp);
    int b = len > 1 || cp < 0x80 ? map.byte_of(cp) : -1;
    if (b >= 0) {
      out += static_cast<char>(b);
    } else {
      out.append(token_text.substr(i, len));
    }
    i += len;
  }
  return out;
}

std::string byte_level_encode(std::string_view bytes) {
  const ByteLevelMap& map = ByteLevelMap::get();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += map.text_of(static_cast<uint8_t>(c));
  return out;
}

// ---- pipeline -------------------------------------------------------------------------------

void TextPipeline::add_prepend(std::string text) {
  steps_.push_back({.kind = Kind::kPrepend, .text = std::move(text)});
}
void TextPipeline::add_replace(std::string from, std::string to) {
  if (from.empty()) return;
  steps_.push_back({.kind = Kind::kReplace, .text = std::move(from), .to = std::move(to)});
}
void TextPipeline::add_replace_regex(std::shared_ptr<const Regex> pattern, std::string to) {
  steps_.push_back({.kind = Kind::kReplaceRegex, .to = std::move(to), .regex = std::move(pattern)});
}
void TextPipeline::add_strip(bool left, bool right) {
  steps_.push_back({.kind = Kind::kStrip, .left = left, .right = right});
}
void TextPipeline::add_prepend_unless_present(std::string text, bool only_at_text_start) {
  steps_.push_back({.kind = Kind::kPrependUnlessPresent, .text = std::move(text), .left = only_at_text_start});
}
void TextPipeline::add_split(std::shared_ptr<const Regex> pattern, SplitBehavior behavior, bool invert) {
  steps_.push_back({.kind = Kind::kSplit, .regex = std::move(pattern), .behavior = behavior, .invert = invert});
}
void TextPipeline::add_split_literal(std::string literal, SplitBehavior behavior, bool invert) {
  if (literal.empty()) return;
  steps_.push_back({.kind = Kind::kSplitLiteral, .text = std::move(literal), .behavior = behavior, .invert = invert});
}

void TextPipeline::run(std::string_view segment, bool at_text_start, PipelineScratch& scratch,
                       std::vector<std::string_view>& pieces) const {
  scratch.current.clear();
  scratch.current.push_back({segment, at_text_start});
  for (const Step& step : steps_) {
    if (step.kind == Kind::kSplit || step.kind == Kind::kSplitLiteral) {
      split(step, scratch);
    } else {
      rewrite(step, scratch);
    }
  }
  pieces.clear();
  for (const auto& piece : scratch.current) {
    if (!piece.text.empty()) pieces.push_back(piece.text);
  }
}

void TextPipeline::rewrite(const Step& step, PipelineScratch& scratch) const {
  // Offsets first, views after: the buffer may move while it grows.
  std::string buffer;
  std::vector<Span> spans;
  spans.reserve(scratch.current.size());
  for (const auto& piece : scratch.current) {
    const std::string_view text = piece.text;
    const size_t begin = buffer.size();
    switch (step.kind) {
      case Kind::kPrepend:
        if (!text.empty()) buffer += step.text;
        buffer += text;
        break;
      case Kind::kPrependUnlessPresent:
        if (!text.starts_with(step.text) && (!step.left || piece.at_text_start)) buffer += step.text;
        buffer += text;
        break;
      case Kind::kReplace:
        for (size_t i = 0; i < text.size();) {
          size_t hit = text.find(step.text, i);
          if (hit == std::string_view::npos) {
            buffer += text.substr(i);
            break;
          }
          buffer += text.substr(i, hit - i);
          buffer += step.to;
          i = hit + step.text.size();
        }
        break;
      case Kind::kReplaceRegex: {
        scratch.matches.clear();
        step.regex->find_all(text, scratch.matches);
        size_t at = 0;
        for (const Span& m : scratch.matches) {
          buffer += text.substr(at, m.begin - at);
          buffer += step.to;
          at = m.end;
        }
        buffer += text.substr(at);
        break;
      }
      case Kind::kStrip: {
        size_t b = 0, e = text.size();
        if (step.left) {
          while (b < e && is_ascii_space(text[b])) ++b;
        }
        if (step.right) {
          while (e > b && is_ascii_space(text[e - 1])) --e;
        }
        buffer += text.substr(b, e - b);
        break;
      }
      default:
        break;
    }
    spans.push_back({begin, buffer.size()});
  }
  scratch.buffers.push_back(std::move(buffer));
  const std::string& stored = scratch.buffers.back();
  for (size_t i = 0; i < spans.size(); ++i) {
    scratch.current[i].text = std::string_view(stored).substr(spans[i].begin, spans[i].end - spans[i].begin);
  }
}

void TextPipeline::split(const Step& step, PipelineScratch& scratch) const {
  scratch.next.clear();
  for (const auto& piece : scratch.current) {
    const std::string_view text = piece.text;
    if (text.empty()) continue;
    scratch.matches.clear();
    if (step.kind == Kind::kSplit) {
      step.regex->find_all(text, scratch.matches);
    } else {
      for (size_t at = text.find(step.text); at != std::string_view::npos; at = text.find(step.text, at + step.text.size())) {
        scratch.matches.push_back({at, at + step.text.size()});
      }
    }
    if (scratch.matches.empty() && !step.invert) {
      // Nothing matched: the piece is one gap, kept as it is (even when matches are removed).
      scratch.next.push_back(piece);
      continue;
    }
    // The piece as alternating gaps and matches, then cut the way `behavior` says.
    struct Part {
      size_t begin, end;
      bool is_match;
    };
    std::vector<Part> parts;
    parts.reserve(scratch.matches.size() * 2 + 1);
    size_t at = 0;
    for (const Span& m : scratch.matches) {
      if (m.begin > at) parts.push_back({at, m.begin, step.invert});
      parts.push_back({m.begin, m.end, !step.invert});
      at = m.end;
    }
    if (at < text.size()) parts.push_back({at, text.size(), step.invert});

    std::vector<Span> out;
    out.reserve(parts.size());
    switch (step.behavior) {
      case SplitBehavior::kIsolated:
        for (const Part& p : parts) out.push_back({p.begin, p.end});
        break;
      case SplitBehavior::kRemoved:
        for (const Part& p : parts) {
          if (!p.is_match) out.push_back({p.begin, p.end});
        }
        break;
      case SplitBehavior::kMergedWithPrevious: {
        bool previous_match = false;
        for (const Part& p : parts) {
          if (p.is_match && !previous_match && !out.empty()) {
            out.back().end = p.end;
          } else {
            out.push_back({p.begin, p.end});
          }
          previous_match = p.is_match;
        }
        break;
      }
      case SplitBehavior::kMergedWithNext: {
        bool previous_match = false;
        for (size_t k = parts.size(); k-- > 0;) {
          const Part& p = parts[k];
          if (p.is_match && !previous_match && !out.empty()) {
            out.back().begin = p.begin;
          } else {
            out.push_back({p.begin, p.end});
          }
          previous_match = p.is_match;
        }
        std::reverse(out.begin(), out.end());
        break;
      }
      case SplitBehavior::kContiguous: {
        bool previous_match = false;
        for (const Part& p : parts) {
          if (p.is_match && previous_match && !out.empty()) {
            out.back().end = p.end;
          } else {
            out.push_back({p.begin, p.end});
          }
          previous_match = p.is_match;
        }
        break;
      }
    }
    for (const Span& s : out) {
      scratch.next.push_back({text.substr(s.begin, s.end - s.begin), piece.at_text_start && s.begin == 0});
    }
  }
  scratch.current.swap(scratch.next);
}

// ---- presets --------------------------------------------------------------------------------

namespace {

// The pre-tokenizer patterns of the models' own tokenizer.json files, as llama.cpp applies
// them for each GGUF `tokenizer.ggml.pre` name. Non-ASCII characters are written as \x{...}.
constexpr std::string_view kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
// Llama 3's (?i:'s|'t|...) spelled without case folding, so that no non-ASCII letter folds
// into the contractions.
constexpr std::string_view kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kGpt4o =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kTekken =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// CJK ideographs, the block below them, and Hangul (DeepSeek).
constexpr std::string_view kDeepseekCjk = "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+";
// DeepSeek LLM's letters: the cased letters (Lu, Ll, Lt) of the Unicode version it was made with.
constexpr std::string_view kDeepseekLetters =
    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}"
    "\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}"
    "\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}"
    "\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"
    "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"
    "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}"
    "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}"
    "\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
    "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}"
    "\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"
    "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}"
    "\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}"
    "\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
    "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}"
    "\\x{1E900}-\\x{1E943}]+";
constexpr std::string_view kDeepseekPunct =
    "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+";
constexpr std::string_view kDeepseek3Main =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
    "| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

bool any_of(std::string_view name, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (name == n) return true;
  }
  return false;
}

}  // namespace

std::string_view gpt2_pattern() { return kGpt2; }

bool pre_tokenizer_preset(std::string_view name, PreTokenizerPreset& out) {
  auto set = [&](std::initializer_list<std::string_view> regexes, bool ignore_merges = false, bool add_bos = false) {
    out.regexes.assign(regexes.begin(), regexes.end());
    out.ignore_merges = ignore_merges;
    out.add_bos = add_bos;
    return true;
  };
  if (name == "default") {
    // llama.cpp's fallback for BPE vocabularies that name no pre-tokenizer.
    return set({"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"});
  }
  if (any_of(name, {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"})) {
    return set({kLlama3}, true, true);
  }
  if (any_of(name, {"dbrx", "smaug-bpe", "chatglm-bpe", "glm4"})) return set({kLlama3});
  if (any_of(name, {"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan"})) return set({kQwen2});
  if (any_of(name, {"gpt-2", "phi-2", "mpt", "olmo", "jais", "gigachat", "roberta-bpe", "exaone4", "jina-es", "jina-de",
                    "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code", "trillion"})) {
    return set({kGpt2});
  }
  if (any_of(name, {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"})) {
    return set({"\\p{N}", kGpt2});
  }
  if (name == "falcon") return set({"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"});
  if (name == "deepseek-coder") return set({"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kDeepseekCjk, "\\p{N}"});
  if (name == "deepseek-llm") {
    return set({"[\\r\\n]", kDeepseekLetters, kDeepseekPunct, "\\s+$", kDeepseekCjk, "\\p{N}+"});
  }
  if (name == "deepseek-v3") {
    return set({"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+", kDeepseek3Main});
  }
  if (any_of(name, {"gpt-4o", "llama4"})) return set({kGpt4o});
  if (name == "tekken") return set({kTekken}, true, true);
  return false;
}

}  // namespace llmrt::genai::detail
