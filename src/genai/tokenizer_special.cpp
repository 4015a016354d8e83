#include "genai/tokenizer_special.h"

namespace llmrt::genai::detail {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

int32_t SpecialMatcher::child(int32_t node, unsigned char c) const {
  for (const auto& [byte, next] : nodes_[static_cast<size_t>(node)].children) {
    if (byte == c) return next;
  }
  return -1;
}

void SpecialMatcher::add(std::string_view text, int32_t id, bool always, bool lstrip, bool rstrip) {
  if (text.empty()) return;
  int32_t node = 0;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    int32_t next = child(node, c);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_[static_cast<size_t>(node)].children.emplace_back(c, next);
      nodes_.emplace_back();
    }
    node = next;
  }
  Node& end = nodes_[static_cast<size_t>(node)];
  if (end.id >= 0) return;  // the first token with a given text keeps it
  end.id = id;
  end.always = always;
  end.lstrip = lstrip;
  end.rstrip = rstrip;
  auto first = static_cast<unsigned char>(text[0]);
  first_any_[first] = true;
  if (always) {
    first_always_[first] = true;
    has_always_ = true;
  }
}

void SpecialMatcher::find(std::string_view text, bool parse_special, std::vector<Match>& out) const {
  if (empty() || (!parse_special && !has_always_)) return;
  const auto& first = parse_special ? first_any_ : first_always_;
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (!first[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    const Node* best = nullptr;
    size_t best_end = 0;
    int32_t node = 0;
    for (size_t k = i; k < n; ++k) {
      node = child(node, static_cast<unsigned char>(text[k]));
      if (node < 0) break;
      const Node& candidate = nodes_[static_cast<size_t>(node)];
      if (candidate.id >= 0 && (parse_special || candidate.always)) {
        best = &candidate;
        best_end = k + 1;
      }
    }
    if (best == nullptr) {
      ++i;
      continue;
    }
    size_t begin = i, end = best_end;
    if (best->lstrip) {
      const size_t floor = out.empty() ? 0 : out.back().end;
      while (begin > floor && is_space(text[begin - 1])) --begin;
    }
    if (best->rstrip) {
      while (end < n && is_space(text[end])) ++end;
    }
    out.push_back({begin, end, best->id});
    i = end;
  }
}

}  // namespace llmrt::genai::detail
