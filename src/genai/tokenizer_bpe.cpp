#include "genai/tokenizer_bpe.h"

#include <algorithm>
#include <bit>

namespace llmrt::genai::detail {

void MergeTable::grow() {
  std::vector<Entry> old = std::move(table_);
  size_t capacity = old.empty() ? 1024 : old.size() * 2;
  table_.assign(capacity, Entry{});
  shift_ = 64 - std::countr_zero(capacity);
  for (const Entry& e : old) {
    if (e.key == kEmpty) continue;
    size_t mask = table_.size() - 1;
    size_t i = slot_of(e.key);
    while (table_[i].key != kEmpty) i = (i + 1) & mask;
    table_[i] = e;
  }
}

void MergeTable::add(int32_t left, int32_t right, int32_t rank, int32_t result) {
  if ((count_ + 1) * 2 > table_.size()) grow();
  const uint64_t key = key_of(left, right);
  const size_t mask = table_.size() - 1;
  size_t i = slot_of(key);
  while (table_[i].key != kEmpty) {
    if (table_[i].key == key) {
      if (rank < table_[i].rank) {
        table_[i].rank = rank;
        table_[i].result = result;
      }
      return;
    }
    i = (i + 1) & mask;
  }
  table_[i] = Entry{key, rank, result};
  ++count_;
}

const MergeTable::Entry* MergeTable::find(int32_t left, int32_t right) const {
  if (count_ == 0 || left < 0 || right < 0) return nullptr;
  const uint64_t key = key_of(left, right);
  const size_t mask = table_.size() - 1;
  for (size_t i = slot_of(key);; i = (i + 1) & mask) {
    const Entry& e = table_[i];
    if (e.key == key) return &e;
    if (e.key == kEmpty) return nullptr;
  }
}

void MergeTable::apply(std::vector<Symbol>& symbols, std::vector<MergeCandidate>& heap) const {
  // A max-heap on priority: lower rank first, then the leftmost pair.
  auto lower_priority = [](const MergeCandidate& a, const MergeCandidate& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  heap.clear();
  auto consider = [&](int32_t left) {
    if (left < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    if (l.next < 0) return;
    const Symbol& r = symbols[static_cast<size_t>(l.next)];
    if (const Entry* rule = find(l.id, r.id)) {
      heap.push_back({rule->rank, left, l.id, r.id, rule->result});
      std::push_heap(heap.begin(), heap.end(), lower_priority);
    }
  };
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (const Entry* rule = find(symbols[i].id, symbols[i + 1].id)) {
      heap.push_back({rule->rank, static_cast<int32_t>(i), symbols[i].id, symbols[i + 1].id, rule->result});
    }
  }
  std::make_heap(heap.begin(), heap.end(), lower_priority);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lower_priority);
    const MergeCandidate c = heap.back();
    heap.pop_back();
    Symbol& l = symbols[static_cast<size_t>(c.left)];
    // Stale when either side has changed since the candidate was queued.
    if (l.length == 0 || l.id != c.left_id || l.next < 0) continue;
    Symbol& r = symbols[static_cast<size_t>(l.next)];
    if (r.id != c.right_id) continue;
    l.id = c.result;
    l.length += r.length;
    l.next = r.next;
    if (r.next >= 0) symbols[static_cast<size_t>(r.next)].prev = c.left;
    r.length = 0;
    consider(l.prev);
    consider(c.left);
  }
}

}  // namespace llmrt::genai::detail
