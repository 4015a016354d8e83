// Merging symbols into tokens: the one loop behind both tokenizer models.
//
//   - BPE (GPT-2, Llama 3, Hugging Face "BPE"): a rule "left right -> merged" per line of the
//     merges list, ranked by its line; the lowest-ranked adjacent pair merges first.
//   - SentencePiece BPE (Llama 2; llama.cpp's llm_tokenizer_spm): the adjacent pair whose
//     concatenation is the highest-scoring token merges first. That is the same loop with
//     rank = the token's place in score order (equal scores share a rank) and one rule for
//     every way a token splits into two symbols that can occur (see build_score_merges).
//
// In both, ties between equal ranks go to the leftmost pair, as llama.cpp and Hugging Face do.
// Rules are keyed by symbol ids, so applying one is a hash lookup of two integers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace llmrt::genai::detail {

// One symbol of a word being merged: a token id (or < 0: nothing can merge with it) and the
// bytes of the word it covers. prev/next chain the live symbols; merged-away ones get length 0.
struct Symbol {
  int32_t id;
  uint32_t begin;
  uint32_t length;
  int32_t prev;
  int32_t next;
};

struct MergeCandidate {
  int32_t rank;
  int32_t left;  // index of the left symbol
  int32_t left_id;
  int32_t right_id;
  int32_t result;
};

class MergeTable {
 public:
  // Adds "left right -> result" with `rank`; an existing rule for the same pair keeps the lower rank.
  void add(int32_t left, int32_t right, int32_t rank, int32_t result);
  size_t size() const { return count_; }
  // Merges the chain `symbols` (in order, prev/next set) in place. `heap` is scratch memory.
  void apply(std::vector<Symbol>& symbols, std::vector<MergeCandidate>& heap) const;

 private:
  struct Entry {
    uint64_t key = kEmpty;
    int32_t rank = 0;
    int32_t result = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t key_of(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  size_t slot_of(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  const Entry* find(int32_t left, int32_t right) const;
  void grow();

  std::vector<Entry> table_;  // open addressing, linear probing, at most half full
  size_t count_ = 0;
  int shift_ = 64;
};

}  // namespace llmrt::genai::detail
