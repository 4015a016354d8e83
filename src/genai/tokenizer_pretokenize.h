// Text before the model sees it: PCRE2 regexes, the GPT-2 byte<->unicode map, and the
// normalizer/pre-tokenizer pipeline that cuts one segment of text (the text between two
// special tokens) into the pieces a BPE or SentencePiece model encodes one by one.
//
// Every step works piece by piece, as Hugging Face `tokenizers` does: a Split step cuts each
// piece into smaller ones, a rewriting step (Prepend, Replace, Metaspace's "▁") edits each
// piece. Regexes match inside one piece only, so `$` and look-arounds see that piece.
//
// The text must be valid UTF-8 (Tokenizer::encode checks it once); matching then uses the JIT
// matcher or PCRE2_NO_UTF_CHECK, so a long text is not re-validated at every match (which
// would make splitting quadratic).
//
// Thread-safety: a Regex and a TextPipeline are immutable after construction; find_all() and
// run() may be called from any number of threads (each thread has its own PCRE2 match data).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct pcre2_real_code_8;

namespace llmrt::genai::detail {

struct Span {
  size_t begin = 0;
  size_t end = 0;
};

// A compiled pattern with PCRE2_UTF | PCRE2_UCP (Unicode classes: \p{L}, \s, ...), JIT-compiled
// when the platform allows it.
class Regex {
 public:
  // UNSUPPORTED naming `where` and the pattern when PCRE2 rejects it.
  Regex(std::string_view pattern, std::string_view where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends the non-empty, non-overlapping matches in `subject`, left to right, as byte
  // offsets into `subject`. `subject` must be valid UTF-8 (it is not checked again).
  void find_all(std::string_view subject, std::vector<Span>& out) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  pcre2_real_code_8* code_ = nullptr;
  bool jit_ = false;
};

// The GPT-2 byte-level alphabet: every byte has a printable character (" " is "Ġ", "\n" is "Ċ").
class ByteLevelMap {
 public:
  static const ByteLevelMap& get();
  const std::string& text_of(uint8_t byte) const { return byte_to_text_[byte]; }
  // The byte a character stands for, or -1 when the character is not in the alphabet.
  int byte_of(uint32_t codepoint) const { return codepoint < kSize ? byte_of_codepoint_[codepoint] : -1; }

 private:
  static constexpr uint32_t kSize = 512;
  ByteLevelMap();
  std::array<std::string, 256> byte_to_text_;
  std::array<int16_t, kSize> byte_of_codepoint_{};
};

// The raw bytes a byte-level token text stands for; characters outside the alphabet are kept
// as their UTF-8 bytes.
std::string byte_level_decode(std::string_view token_text);
// "ĠHello" for " Hello".
std::string byte_level_encode(std::string_view bytes);

// Decodes the UTF-8 character at s[i] (valid input assumed); returns its length (1 for a byte
// that does not start a valid character, whose value is then returned as the codepoint).
size_t utf8_decode(std::string_view s, size_t i, uint32_t& codepoint);
// Length of the character that starts with byte `lead` (1 for a stray byte).
inline size_t utf8_length(unsigned char lead) {
  return lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : lead < 0xF8 ? 4 : 1;
}
// Strict UTF-8 checks (utf8_sequence_length, utf8_incomplete_prefix, first_invalid_utf8) are
// in util/utf8.h.

// `text` with every byte sequence that is not a whole UTF-8 character replaced by U+FFFD
// (one per maximal invalid start of a character), as the stream decoder emits it.
std::string replace_invalid_utf8(std::string text);

// What a Split step does with the parts its pattern matches (Hugging Face's
// SplitDelimiterBehavior).
enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Working memory for TextPipeline::run; one per calling thread.
struct PipelineScratch {
  struct Piece {
    std::string_view text;
    bool at_text_start;  // the piece begins the whole text (Metaspace "first")
  };
  std::deque<std::string> buffers;  // rewritten text; a deque keeps earlier views valid
  std::vector<Piece> current, next;
  std::vector<Span> matches;
};

// Normalizer and pre-tokenizer steps applied to each segment of text, in order.
class TextPipeline {
 public:
  // Rewrites (normalizers, and the rewriting half of Metaspace / ByteLevel).
  void add_prepend(std::string text);                  // prepends `text` to every non-empty piece
  void add_replace(std::string from, std::string to);  // every occurrence of a literal
  void add_replace_regex(std::shared_ptr<const Regex> pattern, std::string to);
  void add_strip(bool left, bool right);  // ASCII whitespace at the ends of each piece
  // Prepends `text` unless the piece already starts with it; with only_at_text_start, only to
  // the piece that begins the whole text (Metaspace prepend_scheme "first").
  void add_prepend_unless_present(std::string text, bool only_at_text_start);

  // Cuts.
  void add_split(std::shared_ptr<const Regex> pattern, SplitBehavior behavior, bool invert = false);
  void add_split_literal(std::string literal, SplitBehavior behavior, bool invert = false);

  bool empty() const { return steps_.empty(); }

  // Cuts `segment` into pieces (views into `segment` or into scratch.buffers, valid until the
  // scratch is reused). at_text_start: the segment begins the whole text.
  void run(std::string_view segment, bool at_text_start, PipelineScratch& scratch,
           std::vector<std::string_view>& pieces) const;

 private:
  enum class Kind { kPrepend, kPrependUnlessPresent, kReplace, kReplaceRegex, kStrip, kSplit, kSplitLiteral };
  struct Step {
    Kind kind;
    std::string text;  // Prepend*: the text; Replace: what to replace; SplitLiteral: the literal
    std::string to;    // Replace*: the replacement
    std::shared_ptr<const Regex> regex;
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;
    bool left = false;   // Strip: left; PrependUnlessPresent: only at text start
    bool right = false;  // Strip: right
  };
  void rewrite(const Step& step, PipelineScratch& scratch) const;
  void split(const Step& step, PipelineScratch& scratch) const;
  std::vector<Step> steps_;
};

// The pre-tokenizer llama.cpp applies for a GGUF `tokenizer.ggml.pre` name: regexes applied one
// after another, each splitting every piece into matches and the text between them.
struct PreTokenizerPreset {
  std::vector<std::string> regexes;
  bool ignore_merges = false;  // a word that is itself a token is not merged (Llama 3)
  bool add_bos = false;        // the default when tokenizer.ggml.add_bos_token is absent
};
// False when the name is unknown.
bool pre_tokenizer_preset(std::string_view name, PreTokenizerPreset& out);

// The GPT-2 pattern (Hugging Face's ByteLevel pre-tokenizer with use_regex).
std::string_view gpt2_pattern();

}  // namespace llmrt::genai::detail
