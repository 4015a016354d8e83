// Finding special and added tokens written in the text ("<|eot_id|>", "<s>") before anything
// else tokenizes it. At each position the longest token that matches wins, scanning left to
// right (Hugging Face's added-vocabulary split).
//
// Which tokens are looked for:
//   - control/special tokens only when the caller parses special tokens;
//   - user-defined (Hugging Face: added, not special) tokens always, as llama.cpp and Hugging
//     Face both do: they are part of the vocabulary's spelling (MPT's runs of spaces,
//     DeepSeek's "ü"), not markup.
//
// Thread-safety: immutable after construction.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace llmrt::genai::detail {

class SpecialMatcher {
 public:
  struct Match {
    size_t begin;  // includes whitespace taken by lstrip
    size_t end;    // includes whitespace taken by rstrip
    int32_t id;
  };

  // always: matched even when special tokens are not parsed. lstrip/rstrip: the match takes
  // the whitespace before/after the token with it. Empty texts are ignored.
  void add(std::string_view text, int32_t id, bool always, bool lstrip = false, bool rstrip = false);
  bool empty() const { return nodes_.size() <= 1; }

  // Appends the matches in `text`, in order.
  void find(std::string_view text, bool parse_special, std::vector<Match>& out) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int32_t id = -1;
    bool always = false;
    bool lstrip = false;
    bool rstrip = false;
  };
  int32_t child(int32_t node, unsigned char c) const;

  std::vector<Node> nodes_ = std::vector<Node>(1);  // a byte trie; node 0 is the root
  std::array<bool, 256> first_any_{};                // bytes that can start any token
  std::array<bool, 256> first_always_{};             // bytes that can start an always-token
  bool has_always_ = false;
};

}  // namespace llmrt::genai::detail
