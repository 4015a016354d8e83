// The one Tokenizer implementation behind from_gguf() and from_hf(). A loader fills a
// TokenizerSpec (vocabulary, model kind, pipeline, special ids) from its file format; the
// TokenizerImpl built from it owns the lookup tables and does the work:
//
//   encode: split out special/added tokens -> for each stretch of text between them, the
//           pipeline (normalizers, pre-tokenizer) -> for each piece, the model (merges) ->
//           ids; BOS/EOS around it when asked.
//   decode: per-token bytes (byte-level alphabet undone, "▁" -> " ", <0xNN> -> byte),
//           concatenated; SentencePiece drops the space its dummy prefix added.
//
// Thread-safety: immutable after construction; encode/decode keep their working memory per
// call (and PCRE2's per thread), so any number of threads may use one tokenizer.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "genai/tokenizer.h"
#include "genai/tokenizer_bpe.h"
#include "genai/tokenizer_pretokenize.h"
#include "genai/tokenizer_special.h"

namespace llmrt::genai::detail {

// GGUF tokenizer.ggml.token_type values (1..6) and what they mean here.
enum class TokenKind : uint8_t {
  kNormal,       // text the model produces by merging
  kUnknown,      // <unk>: special
  kControl,      // <s>, <|eot_id|>: special, parsed from text only with parse_special
  kUserDefined,  // added tokens that are not special: always parsed from text, decoded as written
  kUnused,       // decoded like normal tokens
  kByte,         // <0xNN>: one raw byte
};

enum class ModelKind : uint8_t {
  kBpe,            // merges ranked by their order
  kSentencePiece,  // merges chosen by token score (llama.cpp's SPM)
};

// How a normal token's text becomes bytes.
enum class DecodeStyle : uint8_t {
  kByteLevel,    // GPT-2 alphabet back to bytes
  kSpaceMarker,  // the space marker ("▁") back to " "
  kRaw,          // as written
};

// Vocabularies or merge lists beyond these are refused as corrupt (the largest real
// vocabularies have about 260k tokens).
inline constexpr int64_t kMaxVocabSize = int64_t{1} << 22;
inline constexpr int64_t kMaxMerges = int64_t{1} << 22;

// "▁" (U+2581), SentencePiece's space.
inline constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";

struct TokenizerSpec {
  std::string source;  // the file named in error messages
  ModelKind model = ModelKind::kBpe;
  std::vector<std::string> tokens;  // by id, as the vocabulary writes them; "" for unused ids
  std::vector<TokenKind> kinds;     // by id
  std::vector<float> scores;        // kSentencePiece: by id
  std::vector<std::pair<std::string, std::string>> merges;  // kBpe: rank = position

  bool byte_level = false;     // BPE over the bytes of each piece through the GPT-2 alphabet
  bool byte_fallback = false;  // characters no token covers become <0xNN> tokens
  bool ignore_merges = false;  // a piece that is itself a token is taken whole (Llama 3)
  bool fuse_unk = false;       // consecutive unknown characters give one <unk>
  std::optional<int32_t> unk_id, bos_id, eos_id;
  std::vector<int32_t> prefix_ids, suffix_ids;  // added with EncodeOptions::add_special_tokens
  std::vector<int32_t> extra_stop_ids;          // besides eos and the well-known end-of-turn tokens
  std::unordered_map<int32_t, std::pair<bool, bool>> strip_flags;  // id -> (lstrip, rstrip)

  TextPipeline pipeline;
  DecodeStyle decode_style = DecodeStyle::kRaw;
  std::string space_marker = std::string(kSpaceMarker);
  bool strip_leading_space = false;  // decode drops one " " at the start
  std::optional<std::string> chat_template;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TextToId = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class TokenizerImpl final : public Tokenizer {
 public:
  // Errors name spec.source.
  explicit TokenizerImpl(TokenizerSpec spec);

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options) const override;
  std::string decode(std::span<const int32_t> ids, bool skip_special) const override;
  std::string token_bytes(int32_t id, bool skip_special) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(spec_.tokens.size()); }
  std::optional<int32_t> bos_id() const override { return spec_.bos_id; }
  std::optional<int32_t> eos_id() const override { return spec_.eos_id; }
  // eos, then the file's other end ids (GGUF eot/eom ids, generation_config.json's
  // eos_token_id list), then whichever of <|eot_id|>, <|eom_id|>, <|im_end|>, <|end|>,
  // <|endoftext|>, <end_of_turn> the vocabulary has; each id once.
  std::vector<int32_t> stop_ids() const override { return stop_ids_; }
  bool is_special(int32_t id) const override;
  std::string token_text(int32_t id) const override;
  std::optional<std::string> chat_template() const override { return spec_.chat_template; }

 private:
  struct Scratch;
  void encode_segment(std::string_view segment, bool at_text_start, Scratch& scratch, std::vector<int32_t>& out) const;
  void encode_piece(std::string_view piece, Scratch& scratch, std::vector<int32_t>& out) const;
  void emit_unknown(std::string_view bytes, bool& last_was_unk, std::vector<int32_t>& out) const;
  void check_id(int32_t id, std::string_view what) const;
  int32_t find_token(std::string_view text) const;
  int32_t char_symbol(std::string_view ch) const;
  void build_rank_merges();
  void build_score_merges();

  TokenizerSpec spec_;
  TextToId text_to_id_;
  TextToId pseudo_ids_;  // SentencePiece: characters that are no token but occur inside tokens
  std::array<int32_t, 256> byte_ids_{};      // byte-level: the token of each byte's character
  std::array<int32_t, 256> fallback_ids_{};  // the <0xNN> token of each byte
  MergeTable merges_;
  SpecialMatcher special_;
  std::vector<std::string> token_bytes_;
  std::vector<int32_t> stop_ids_;
};

}  // namespace llmrt::genai::detail
