// The serving engine's KV-cache bookkeeping: a pool of fixed-size blocks (the plugin holds the
// keys and values; this holds who uses which block), per-sequence block tables, reference
// counts, copy-on-write for blocks that forked sequences share, and prefix caching.
//
// Prefix caching: a full block is known by the chain hash of every token up to and including
// it, h_i = XXH3-64(tokens of block i, seed h_{i-1}) with h_{-1} = 0. Once computed, a full block
// is published under its hash; a new sequence whose prompt starts with the same blocks takes
// them (reference count + 1) instead of computing them. A block whose last user leaves stays
// cached (least recently used first out) until a new allocation needs it. A hit also compares
// the block's own tokens and its predecessor's hash, so a hash collision within one block's
// tokens cannot hand out the wrong keys. Full blocks are never written again, so sharing them
// needs no copy; only a partial block shared by forked sequences is copied before a write.
//
// Not thread-safe: the engine's step loop owns it.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

namespace llmrt::genai {

// One sequence's blocks: table[i] holds positions [i * block_size, (i + 1) * block_size).
struct SeqBlocks {
  std::vector<int32_t> table;
  std::vector<uint64_t> hashes;  // chain hash of each full block of the tokens, computed so far
};

struct KvCacheStats {
  int64_t total_blocks = 0;
  int64_t used_blocks = 0;    // referenced by a sequence
  int64_t cached_blocks = 0;  // unreferenced, kept for prefix reuse (evictable)
  uint64_t prefix_queries = 0;  // prompt tokens looked up in the prefix cache
  uint64_t prefix_hits = 0;     // of those, tokens found (their prefill skipped)
  uint64_t evictions = 0;       // cached blocks given to new allocations
};

class BlockManager {
 public:
  BlockManager(int64_t num_blocks, int64_t block_size, bool prefix_caching);

  int64_t block_size() const { return block_size_; }
  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  // Blocks an allocation can have now (free ones plus evictable cached ones).
  int64_t available() const { return static_cast<int64_t>(free_.size() + lru_.size()); }
  int64_t blocks_for(int64_t positions) const { return (positions + block_size_ - 1) / block_size_; }

  // For a sequence with no blocks yet: takes the cached full blocks that begin `tokens`, as
  // long as each lies within the first `max_tokens` tokens. Returns the tokens they cover.
  // count: records the lookup now (prefix_queries += tokens.size(), prefix_hits += the
  // result); a caller that may give the blocks back and retry counts once with count_lookup.
  int64_t reuse_prefix(std::span<const int32_t> tokens, int64_t max_tokens, SeqBlocks& seq, bool count = true);
  void count_lookup(uint64_t queried_tokens, uint64_t hit_tokens);
  // Grows the table to cover `positions` positions. False, with the table as it was, when the
  // pool has too few blocks.
  bool grow(SeqBlocks& seq, int64_t positions);
  // Before positions [from, to) are written: every block in that range that another sequence
  // also holds is replaced by a fresh copy; `copies` gets (source, destination) for the plugin.
  // False when the pool is short (blocks copied so far stay the sequence's own).
  bool make_writable(SeqBlocks& seq, int64_t from, int64_t to, std::vector<std::pair<int32_t, int32_t>>& copies);
  // Publishes the full blocks among the first `computed` positions (whose keys are now in the
  // cache) for prefix reuse. No-op without prefix caching.
  void publish(SeqBlocks& seq, std::span<const int32_t> tokens, int64_t computed);
  // A second sequence sharing every block of `seq` (reference counts + 1).
  SeqBlocks fork(const SeqBlocks& seq);
  // Gives the sequence's blocks back (cached when published, else free); empties `seq`.
  void release(SeqBlocks& seq);

  KvCacheStats stats() const;
  int32_t ref_count(int32_t block) const { return blocks_[static_cast<size_t>(block)].ref; }

  static uint64_t chain_hash(uint64_t previous, std::span<const int32_t> block_tokens);

 private:
  struct Block {
    int32_t ref = 0;
    bool published = false;
    uint64_t hash = 0, prev_hash = 0;
    std::vector<int32_t> tokens;  // a published block's tokens
    std::list<int32_t>::iterator lru;
    bool in_lru = false;
  };
  int32_t allocate();  // -1 when none is left
  void take(int32_t block);  // ref + 1, out of the LRU list
  void drop(int32_t block);  // ref - 1, to the LRU list or the free list at 0
  void extend_hashes(SeqBlocks& seq, std::span<const int32_t> tokens, int64_t full_blocks) const;

  int64_t block_size_;
  bool prefix_caching_;
  std::vector<Block> blocks_;
  std::vector<int32_t> free_;
  std::list<int32_t> lru_;  // unreferenced published blocks, least recently used first
  std::unordered_map<uint64_t, int32_t> by_hash_;
  uint64_t queries_ = 0, hits_ = 0, evictions_ = 0;
};

}  // namespace llmrt::genai
