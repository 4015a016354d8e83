// Tokenizers: text <-> token ids, as the model's own ecosystem does it.
//   - byte-level BPE (GPT-2, Llama 3, Qwen2, ...): pre-tokenizer regex (PCRE2, Unicode classes),
//     byte-to-unicode map, merges by rank, added/special tokens;
//   - SentencePiece-style BPE (Llama 2, Mistral, Phi-3): "▁" for spaces, byte fallback <0xNN>,
//     score-based merges.
// Read from a Hugging Face folder (tokenizer.json + tokenizer_config.json) or from GGUF
// metadata (tokenizer.ggml.*).
//
// Thread-safety: a Tokenizer is immutable after construction; encode/decode may be called from
// any number of threads. A StreamDecoder is one stream's state.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/gguf.h"

namespace llmrt::genai {

struct EncodeOptions {
  // Add the BOS (and EOS where the config says so) the model's tokenizer config asks for.
  bool add_special_tokens = true;
  // Recognise special/added tokens written in the text ("<|eot_id|>"); otherwise they are
  // tokenised as plain text.
  bool parse_special = false;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Errors (llmrt::Error) name the file and what is wrong or unsupported.
  static std::unique_ptr<Tokenizer> from_hf(const std::filesystem::path& dir);
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
  // The tokenizer of a model as core.read_model() takes it: a Hugging Face folder, a .gguf
  // file, or an .llmrt container folder (its tokenizer.json, or its metadata.gguf).
  static std::unique_ptr<Tokenizer> from_model(const std::filesystem::path& path);

  virtual std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const = 0;
  // The text of `ids`; special tokens are left out when skip_special. Bytes that do not form
  // whole UTF-8 characters become U+FFFD, as Hugging Face decodes (errors="replace"); the
  // text is always valid UTF-8. StreamDecoder gives the same text piece by piece.
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special = true) const = 0;
  // The raw bytes token `id` stands for in decoded text ("" for special tokens when skipped).
  virtual std::string token_bytes(int32_t id, bool skip_special = true) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
  // Every id that ends generation (eos plus e.g. <|eot_id|>, <|im_end|> from the config).
  virtual std::vector<int32_t> stop_ids() const = 0;
  virtual bool is_special(int32_t id) const = 0;
  // The token's string as the vocabulary writes it ("<s>", "Ġthe", "▁the"); "" when out of range.
  virtual std::string token_text(int32_t id) const = 0;
  // The model's chat template, when its files carry one.
  virtual std::optional<std::string> chat_template() const = 0;

  // BAD_FORMAT naming `model` when this tokenizer has more tokens than the model's vocabulary
  // (its ids would index past the embeddings and the logits).
  void check_fits(int64_t model_vocab_size, std::string_view model) const;
};

// Turns a stream of ids into text that only ever contains whole UTF-8 characters: bytes of
// a character split across tokens are held back until the character is complete.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = true);
  std::string push(int32_t id);  // the text that became complete with this token
  std::string flush();           // whatever is held back (invalid bytes as U+FFFD)

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::string pending_;
  bool first_ = true;  // SentencePiece drops the space of the first "▁"
};

}  // namespace llmrt::genai
