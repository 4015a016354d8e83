// The tokenizer written with synthetic models: SentencePiece-style BPE as Llama 2 has it
// ("▁" for spaces, score/rank-ordered merges, byte fallback when the vocabulary has room for
// the 256 <0xNN> tokens), learnt by a small BPE over an embedded English text. Written both as
// Hugging Face tokenizer.json + tokenizer_config.json and as GGUF tokenizer.ggml.* metadata,
// which describe the same tokenizer. Its chat template is plain text ("user: ...").
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "store/gguf.h"

namespace llmrt {

struct SyntheticVocab {
  std::vector<std::string> tokens;                             // id -> piece
  std::vector<float> scores;                                   // SentencePiece scores (merges: -rank)
  std::vector<int32_t> types;                                  // GGUF token types (1 normal, 2 unk, 3 control, 5 unused, 6 byte)
  std::vector<std::pair<std::string, std::string>> merges;     // in rank order
  bool byte_fallback = false;
};

// Deterministic for a vocabulary size (>= 3 + the 64 most useful characters).
SyntheticVocab synthetic_vocab(int64_t vocab_size);
const std::string& synthetic_chat_template();

void write_synthetic_tokenizer_hf(const SyntheticVocab& vocab, const std::filesystem::path& dir);
void add_synthetic_tokenizer_gguf(const SyntheticVocab& vocab, gguf::Writer& writer);

}  // namespace llmrt
