#include "genai/kv_cache_manager.h"

#include <algorithm>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "util/error.h"

namespace llmrt::genai {

BlockManager::BlockManager(int64_t num_blocks, int64_t block_size, bool prefix_caching)
    : block_size_(block_size), prefix_caching_(prefix_caching) {
  if (num_blocks <= 0 || block_size <= 0) {
    fail(ErrorCode::kInvalidArgument, "KV cache: {} blocks of {} tokens (both must be positive)", num_blocks, block_size);
  }
  if (num_blocks > (int64_t{1} << 30)) fail(ErrorCode::kOutOfRange, "KV cache: {} blocks is absurd", num_blocks);
  blocks_.resize(static_cast<size_t>(num_blocks));
  free_.reserve(blocks_.size());
  // Lowest ids first out (the vector's back).
  for (int64_t b = num_blocks; b-- > 0;) free_.push_back(static_cast<int32_t>(b));
}

uint64_t BlockManager::chain_hash(uint64_t previous, std::span<const int32_t> block_tokens) {
  return XXH3_64bits_withSeed(block_tokens.data(), block_tokens.size_bytes(), previous);
}

int32_t BlockManager::allocate() {
  if (!free_.empty()) {
    const int32_t b = free_.back();
    free_.pop_back();
    blocks_[static_cast<size_t>(b)].ref = 1;
    return b;
  }
  if (lru_.empty()) return -1;
  const int32_t b = lru_.front();  // the least recently used cached block
  lru_.pop_front();
  Block& blk = blocks_[static_cast<size_t>(b)];
  blk.in_lru = false;
  if (auto it = by_hash_.find(blk.hash); it != by_hash_.end() && it->second == b) by_hash_.erase(it);
  blk.published = false;
  blk.tokens.clear();
  blk.ref = 1;
  ++evictions_;
  return b;
}

void BlockManager::take(int32_t block) {
  Block& b = blocks_[static_cast<size_t>(block)];
  if (b.in_lru) {
    lru_.erase(b.lru);
    b.in_lru = false;
  }
  ++b.ref;
}

void BlockManager::drop(int32_t block) {
  Block& b = blocks_[static_cast<size_t>(block)];
  if (b.ref <= 0) fail(ErrorCode::kInternal, "KV cache: block {} released more often than taken", block);
  if (--b.ref > 0) return;
  if (b.published) {
    b.lru = lru_.insert(lru_.end(), block);
    b.in_lru = true;
  } else {
    free_.push_back(block);
  }
}

void BlockManager::extend_hashes(SeqBlocks& seq, std::span<const int32_t> tokens, int64_t full_blocks) const {
  for (auto i = static_cast<int64_t>(seq.hashes.size()); i < full_blocks; ++i) {
    const uint64_t prev = i == 0 ? 0 : seq.hashes[static_cast<size_t>(i - 1)];
    seq.hashes.push_back(chain_hash(prev, tokens.subspan(static_cast<size_t>(i * block_size_), static_cast<size_t>(block_size_))));
  }
}

void BlockManager::count_lookup(uint64_t queried_tokens, uint64_t hit_tokens) {
  if (!prefix_caching_) return;
  queries_ += queried_tokens;
  hits_ += hit_tokens;
}

int64_t BlockManager::reuse_prefix(std::span<const int32_t> tokens, int64_t max_tokens, SeqBlocks& seq, bool count) {
  if (!seq.table.empty()) fail(ErrorCode::kInternal, "KV cache: reuse_prefix on a sequence that already has blocks");
  if (!prefix_caching_) return 0;
  const int64_t full = std::min<int64_t>(max_tokens, static_cast<int64_t>(tokens.size())) / block_size_;
  extend_hashes(seq, tokens, full);
  for (int64_t i = 0; i < full; ++i) {
    const uint64_t h = seq.hashes[static_cast<size_t>(i)];
    auto it = by_hash_.find(h);
    if (it == by_hash_.end()) break;
    const Block& b = blocks_[static_cast<size_t>(it->second)];
    const auto own = tokens.subspan(static_cast<size_t>(i * block_size_), static_cast<size_t>(block_size_));
    if (b.prev_hash != (i == 0 ? 0 : seq.hashes[static_cast<size_t>(i - 1)]) || !std::equal(own.begin(), own.end(), b.tokens.begin(), b.tokens.end())) {
      break;
    }
    take(it->second);
    seq.table.push_back(it->second);
  }
  const int64_t covered = static_cast<int64_t>(seq.table.size()) * block_size_;
  if (count) count_lookup(tokens.size(), static_cast<uint64_t>(covered));
  return covered;
}

bool BlockManager::grow(SeqBlocks& seq, int64_t positions) {
  const int64_t need = blocks_for(positions) - static_cast<int64_t>(seq.table.size());
  if (need <= 0) return true;
  if (need > available()) return false;
  for (int64_t i = 0; i < need; ++i) seq.table.push_back(allocate());
  return true;
}

bool BlockManager::make_writable(SeqBlocks& seq, int64_t from, int64_t to, std::vector<std::pair<int32_t, int32_t>>& copies) {
  if (to <= from) return true;
  const int64_t last = std::min<int64_t>(blocks_for(to), static_cast<int64_t>(seq.table.size()));
  for (int64_t i = from / block_size_; i < last; ++i) {
    const int32_t old = seq.table[static_cast<size_t>(i)];
    if (blocks_[static_cast<size_t>(old)].ref <= 1) continue;
    const int32_t fresh = allocate();
    if (fresh < 0) return false;
    copies.emplace_back(old, fresh);
    drop(old);
    seq.table[static_cast<size_t>(i)] = fresh;
  }
  return true;
}

void BlockManager::publish(SeqBlocks& seq, std::span<const int32_t> tokens, int64_t computed) {
  if (!prefix_caching_) return;
  const int64_t full = std::min<int64_t>({computed, static_cast<int64_t>(tokens.size())}) / block_size_;
  extend_hashes(seq, tokens, full);
  for (int64_t i = 0; i < full && i < static_cast<int64_t>(seq.table.size()); ++i) {
    const int32_t id = seq.table[static_cast<size_t>(i)];
    Block& b = blocks_[static_cast<size_t>(id)];
    if (b.published) continue;
    const uint64_t h = seq.hashes[static_cast<size_t>(i)];
    if (by_hash_.count(h)) continue;  // another sequence published the same block first
    b.published = true;
    b.hash = h;
    b.prev_hash = i == 0 ? 0 : seq.hashes[static_cast<size_t>(i - 1)];
    const auto own = tokens.subspan(static_cast<size_t>(i * block_size_), static_cast<size_t>(block_size_));
    b.tokens.assign(own.begin(), own.end());
    by_hash_.emplace(h, id);
  }
}

SeqBlocks BlockManager::fork(const SeqBlocks& seq) {
  for (int32_t b : seq.table) take(b);
  return seq;
}

void BlockManager::release(SeqBlocks& seq) {
  // Last block first, so that a prompt's tail is evicted before its head (whose reuse is likelier).
  for (auto it = seq.table.rbegin(); it != seq.table.rend(); ++it) drop(*it);
  seq.table.clear();
  seq.hashes.clear();
}

KvCacheStats BlockManager::stats() const {
  KvCacheStats s;
  s.total_blocks = num_blocks();
  s.cached_blocks = static_cast<int64_t>(lru_.size());
  s.used_blocks = s.total_blocks - static_cast<int64_t>(free_.size()) - s.cached_blocks;
  s.prefix_queries = queries_;
  s.prefix_hits = hits_;
  s.evictions = evictions_;
  return s;
}

}  // namespace llmrt::genai
