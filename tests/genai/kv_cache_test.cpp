// The paged KV cache: the block manager's bookkeeping (reference counts, prefix reuse, LRU
// eviction, copy-on-write), and batched paged inference checked against the float64 reference
// model (each sequence of a mixed step, scattered block tables, chunked prompts), the KV-cache
// precisions' effect on logits, and the errors of bad steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "genai/kv_cache_manager.h"
#include "golden/reference_model.h"
#include "llmrt/runtime.hpp"
#include "runtime/synthetic_model.h"
#include "store/test_files.h"

namespace llmrt {
namespace {

using genai::BlockManager;
using genai::SeqBlocks;
using testing_util::fails_with;
using testing_util::TempDir;

std::vector<int32_t> iota_tokens(int32_t n, int32_t start = 1) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), start);
  return t;
}

TEST(BlockManager, GrowsReleasesAndRefusesWhatItCannotHold) {
  BlockManager bm(6, 4, false);
  SeqBlocks a, b;
  ASSERT_TRUE(bm.grow(a, 9));  // 3 blocks
  EXPECT_EQ(a.table.size(), 3u);
  ASSERT_TRUE(bm.grow(a, 12));  // still 3
  EXPECT_EQ(a.table.size(), 3u);
  EXPECT_FALSE(bm.grow(b, 16)) << "4 blocks wanted, 3 left";
  EXPECT_TRUE(b.table.empty()) << "a refused grow leaves the table as it was";
  ASSERT_TRUE(bm.grow(b, 12));
  EXPECT_EQ(bm.available(), 0);
  std::vector<int32_t> all = a.table;
  all.insert(all.end(), b.table.begin(), b.table.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "no block handed out twice";
  bm.release(a);
  EXPECT_EQ(bm.available(), 3);
  EXPECT_EQ(bm.stats().used_blocks, 3);
  EXPECT_TRUE(fails_with([] { BlockManager(0, 4, true); }, ErrorCode::kInvalidArgument, {"blocks"}));
}

TEST(BlockManager, PrefixReuseTakesOnlyMatchingFullBlocksAndCounts) {
  BlockManager bm(16, 4, true);
  const std::vector<int32_t> prompt = iota_tokens(11);  // blocks [1-4] [5-8] and 3 tokens
  SeqBlocks a;
  EXPECT_EQ(bm.reuse_prefix(prompt, 10, a), 0) << "an empty cache has nothing";
  ASSERT_TRUE(bm.grow(a, 11));
  bm.publish(a, prompt, 11);  // blocks 0 and 1 are full
  // A second prompt sharing the first 9 tokens takes both full blocks.
  std::vector<int32_t> p2 = prompt;
  p2[9] = 99;
  SeqBlocks b;
  EXPECT_EQ(bm.reuse_prefix(p2, static_cast<int64_t>(p2.size()) - 1, b), 8);
  ASSERT_EQ(b.table.size(), 2u);
  EXPECT_EQ(b.table[0], a.table[0]);
  EXPECT_EQ(b.table[1], a.table[1]);
  EXPECT_EQ(bm.ref_count(a.table[0]), 2);
  EXPECT_EQ(bm.ref_count(a.table[2]), 1) << "the partial block is never shared by the prefix cache";
  // max_tokens bounds the reuse (a prompt of exactly 8 tokens must still run its last one).
  SeqBlocks c;
  EXPECT_EQ(bm.reuse_prefix(std::span(prompt).first(8), 7, c), 4);
  // A different second block stops the match after the first; a different first block at once.
  std::vector<int32_t> p3 = prompt;
  p3[5] = 77;
  SeqBlocks d, e;
  EXPECT_EQ(bm.reuse_prefix(p3, 10, d), 4);
  std::vector<int32_t> p4 = prompt;
  p4[0] = 55;
  EXPECT_EQ(bm.reuse_prefix(p4, 10, e), 0);
  const auto s = bm.stats();
  EXPECT_EQ(s.prefix_queries, 11u + 11u + 8u + 11u + 11u);
  EXPECT_EQ(s.prefix_hits, 8u + 4u + 4u);
}

TEST(BlockManager, ReleasedPublishedBlocksStayCachedUntilEvictedLeastRecentlyUsedFirst) {
  BlockManager bm(4, 2, true);
  const std::vector<int32_t> p1 = {1, 2, 3, 4, 5}, p2 = {6, 7, 8, 9, 10};
  SeqBlocks a;
  ASSERT_TRUE(bm.grow(a, 5));
  bm.publish(a, p1, 5);
  bm.release(a);
  EXPECT_EQ(bm.stats().cached_blocks, 2);
  EXPECT_EQ(bm.available(), 4);
  // Reused after release: the same blocks come back.
  SeqBlocks b;
  EXPECT_EQ(bm.reuse_prefix(p1, 4, b), 4);
  bm.release(b);
  // A new sequence needing 3 blocks takes the 2 free ones and evicts 1 cached block: the
  // prompt's tail (released first of the two), so its head is still found.
  SeqBlocks c;
  ASSERT_TRUE(bm.grow(c, 6));
  EXPECT_EQ(bm.stats().evictions, 1u);
  bm.release(c);
  SeqBlocks d;
  EXPECT_EQ(bm.reuse_prefix(p1, 4, d), 2) << "the head block survived the eviction";
  bm.release(d);
  SeqBlocks f;
  ASSERT_TRUE(bm.grow(f, 8));
  EXPECT_EQ(bm.stats().evictions, 2u);
  bm.release(f);
  SeqBlocks g;
  EXPECT_EQ(bm.reuse_prefix(p1, 4, g), 0) << "now both of p1's blocks are gone";
  SeqBlocks e;
  ASSERT_TRUE(bm.grow(e, 5));
  bm.publish(e, p2, 5);
  EXPECT_EQ(bm.stats().used_blocks, 3);
}

TEST(BlockManager, ForkSharesBlocksAndCopiesOnWrite) {
  BlockManager bm(8, 4, true);
  const std::vector<int32_t> prompt = iota_tokens(6);
  SeqBlocks parent;
  ASSERT_TRUE(bm.grow(parent, 6));
  bm.publish(parent, prompt, 6);
  SeqBlocks child = bm.fork(parent);
  EXPECT_EQ(child.table, parent.table);
  EXPECT_EQ(bm.ref_count(parent.table[1]), 2);
  // The child writes position 6 (in the shared partial block 1): it gets its own copy.
  std::vector<std::pair<int32_t, int32_t>> copies;
  ASSERT_TRUE(bm.grow(child, 7));
  ASSERT_TRUE(bm.make_writable(child, 6, 7, copies));
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].first, parent.table[1]);
  EXPECT_EQ(copies[0].second, child.table[1]);
  EXPECT_NE(child.table[1], parent.table[1]);
  EXPECT_EQ(child.table[0], parent.table[0]) << "the full block stays shared";
  EXPECT_EQ(bm.ref_count(parent.table[1]), 1);
  // The parent now writes in place.
  copies.clear();
  ASSERT_TRUE(bm.make_writable(parent, 6, 7, copies));
  EXPECT_TRUE(copies.empty());
  bm.release(child);
  bm.release(parent);
  EXPECT_EQ(bm.stats().used_blocks, 0);
}

TEST(BlockManager, PublishingTheSameBlockTwiceKeepsTheFirst) {
  BlockManager bm(8, 2, true);
  const std::vector<int32_t> p = {3, 4, 5};
  SeqBlocks a, b;
  ASSERT_TRUE(bm.grow(a, 3));
  ASSERT_TRUE(bm.grow(b, 3));
  bm.publish(a, p, 3);
  bm.publish(b, p, 3);  // computed concurrently: b's copy stays private
  bm.release(b);
  EXPECT_EQ(bm.stats().cached_blocks, 0) << "b's duplicate went back to the free list";
  SeqBlocks c;
  EXPECT_EQ(bm.reuse_prefix(p, 2, c), 2);
  EXPECT_EQ(c.table[0], a.table[0]);
}

// Paged inference against the float64 reference.
class PagedInfer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    SyntheticModelSpec s;
    s.arch = "llama";
    s.vocab_size = 128;
    s.max_position_embeddings = 128;
    s.seed = 5;
    write_synthetic_hf(s, *dir_ / "hf");
  }
  static void TearDownTestSuite() { delete dir_; }
  static TempDir* dir_;

  // Runs three sequences through mixed steps (prefill chunks beside decodes) on a pool whose
  // blocks are handed out in a shuffled order, returning each logits row with the sequence and
  // the position it belongs to.
  struct Row {
    size_t seq;
    int64_t position;
    std::vector<float> logits;
  };
  static std::vector<Row> run_mixed(KvPrecision precision) {
    Core core;
    Model model = core.read_model(*dir_ / "hf");
    CompileOptions o;
    o.max_context = 64;
    o.kv_num_blocks = 40;
    o.kv_block_size = 4;
    o.kv_precision = precision;
    CompiledModel cm = core.compile(model, "CPU", o);
    InferRequest req = cm.create_request();
    std::vector<int32_t> pool(40);
    std::iota(pool.begin(), pool.end(), 0);
    std::shuffle(pool.begin(), pool.end(), std::mt19937(7));
    std::vector<std::vector<int32_t>> tables = {{pool.begin(), pool.begin() + 12}, {pool.begin() + 12, pool.begin() + 24},
                                                {pool.begin() + 24, pool.begin() + 36}};
    // Prompts of 7, 14 and 3 tokens, then the tokens fed back as if generated (fixed, not
    // sampled, so that every precision sees the same ones).
    const std::vector<std::vector<int32_t>> seqs = {{1, 17, 40, 3, 88, 9, 12, 30, 31, 32},
                                                    {1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 99, 70},
                                                    {1, 60, 61, 50, 51}};
    // (sequence, first token, count) per step.
    const std::vector<std::vector<std::tuple<size_t, int64_t, int64_t>>> steps = {
        {{0, 0, 7}, {1, 0, 5}},              // A whole prompt, B's first chunk
        {{0, 7, 1}, {1, 5, 5}, {2, 0, 3}},   // A decodes, B's second chunk, C's prompt
        {{1, 10, 4}, {0, 8, 1}, {2, 3, 1}},  // B's last chunk (order in the step is free)
        {{0, 9, 1}, {1, 14, 1}, {2, 4, 1}},
    };
    std::vector<Row> rows;
    for (const auto& step : steps) {
      std::vector<SequenceStep> ss;
      for (auto [s, first, count] : step) {
        SequenceStep q;
        q.tokens = std::span<const int32_t>(seqs[s]).subspan(static_cast<size_t>(first), static_cast<size_t>(count));
        q.n_past = first;
        q.block_table = tables[s];
        q.logits = true;
        ss.push_back(q);
      }
      std::vector<float> logits = req.infer_paged(ss);
      EXPECT_EQ(logits.size(), step.size() * 128u);
      for (size_t k = 0; k < step.size(); ++k) {
        auto [s, first, count] = step[k];
        rows.push_back({s, first + count - 1, std::vector<float>(logits.begin() + static_cast<std::ptrdiff_t>(k * 128),
                                                                 logits.begin() + static_cast<std::ptrdiff_t>((k + 1) * 128))});
      }
    }
    // The reference runs each sequence alone.
    reference_ = std::vector<std::vector<std::vector<double>>>(3);
    for (size_t s = 0; s < 3; ++s) {
      auto ref = golden::ReferenceModel::load_hf(*dir_ / "hf");
      int64_t last = 0;
      for (const Row& r : rows) if (r.seq == s) last = std::max(last, r.position);
      auto out = ref.forward(std::vector<int32_t>(seqs[s].begin(), seqs[s].begin() + last + 1));
      reference_[s] = out;
    }
    return rows;
  }
  static std::vector<std::vector<std::vector<double>>> reference_;
};
TempDir* PagedInfer::dir_ = nullptr;
std::vector<std::vector<std::vector<double>>> PagedInfer::reference_;

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
  return m;
}

TEST_F(PagedInfer, MixedStepsOverScatteredBlocksMatchTheReference) {
  const auto rows = run_mixed(KvPrecision::kF32);
  ASSERT_EQ(rows.size(), 11u);
  for (const Row& r : rows) {
    const auto& want = reference_[r.seq][static_cast<size_t>(r.position)];
    // f32 activations against float64: the same bound the contiguous path's tests hold.
    EXPECT_LT(max_abs_diff(r.logits, want), 2e-4) << "sequence " << r.seq << " position " << r.position;
  }
}

TEST_F(PagedInfer, CachePrecisionsStayWithinTheirStatedBounds) {
  // Bounds on max |logit - reference| for this model (logits of magnitude ~1-3), stated in
  // docs/serving.md: 16-bit floats keep ~3 decimal digits of each key and value, u8 ~2.4.
  const std::vector<std::pair<KvPrecision, double>> cases = {
      {KvPrecision::kF16, 2e-3}, {KvPrecision::kBF16, 1.5e-2}, {KvPrecision::kU8, 3e-2}};
  for (auto [precision, bound] : cases) {
    const auto rows = run_mixed(precision);
    double worst = 0;
    int agree = 0;
    for (const Row& r : rows) {
      const auto& want = reference_[r.seq][static_cast<size_t>(r.position)];
      worst = std::max(worst, max_abs_diff(r.logits, want));
      const auto a = std::max_element(r.logits.begin(), r.logits.end()) - r.logits.begin();
      const auto b = std::max_element(want.begin(), want.end()) - want.begin();
      agree += a == b;
    }
    EXPECT_LT(worst, bound) << to_string(precision);
    EXPECT_GT(worst, 0.0) << to_string(precision) << " should differ from f32 at all";
    EXPECT_GE(agree, 10) << to_string(precision) << ": top-1 of 11 rows";
    std::printf("[ measured ] KV %s: max |logit error| %.3g, top-1 agreement %d/11\n", std::string(to_string(precision)).c_str(), worst,
                agree);
  }
}

TEST_F(PagedInfer, BadStepsAreRefusedNamingTheSequence) {
  Core core;
  Model model = core.read_model(*dir_ / "hf");
  CompileOptions o;
  o.max_context = 32;
  o.kv_num_blocks = 8;
  o.kv_block_size = 4;
  CompiledModel cm = core.compile(model, "CPU", o);
  InferRequest req = cm.create_request();
  const std::vector<int32_t> toks = {1, 2, 3, 4, 5, 6};
  const std::vector<int32_t> short_table = {0}, good = {0, 1}, outside = {0, 9};
  EXPECT_TRUE(fails_with([&] { req.infer(toks); }, ErrorCode::kInvalidArgument, {"paged", "infer_paged"}));
  auto one = [&](std::span<const int32_t> table, int64_t n_past = 0) {
    SequenceStep s{toks, n_past, table, true};
    return req.infer_paged(std::span(&s, 1));
  };
  EXPECT_TRUE(fails_with([&] { one(short_table); }, ErrorCode::kInvalidArgument, {"sequence 0", "block table has 1 blocks"}));
  EXPECT_TRUE(fails_with([&] { one(outside); }, ErrorCode::kInvalidArgument, {"sequence 0", "outside the pool of 8 blocks"}));
  EXPECT_TRUE(fails_with([&] { one(good, 30); }, ErrorCode::kOutOfRange, {"sequence 0", "context of 32"}));
  const std::vector<int32_t> bad_token = {1, 500};
  SequenceStep s{bad_token, 0, good, true};
  EXPECT_TRUE(fails_with([&] { req.infer_paged(std::span(&s, 1)); }, ErrorCode::kInvalidArgument, {"sequence 0", "500"}));
  EXPECT_TRUE(fails_with([&] { req.copy_blocks(std::vector<int32_t>{0}, std::vector<int32_t>{8}); }, ErrorCode::kInvalidArgument,
                         {"outside the pool"}));
  EXPECT_EQ(one(good).size(), 128u) << "the request still works after the refusals";
  // A model compiled without a paged cache refuses paged steps.
  CompiledModel plain = core.compile(model, "CPU", {.max_context = 32});
  InferRequest pr = plain.create_request();
  SequenceStep q{toks, 0, good, true};
  EXPECT_TRUE(fails_with([&] { pr.infer_paged(std::span(&q, 1)); }, ErrorCode::kInvalidArgument, {"without a paged KV cache"}));
}

TEST_F(PagedInfer, CopiedBlocksCarryTheKeysOfEveryLayer) {
  Core core;
  Model model = core.read_model(*dir_ / "hf");
  CompileOptions o;
  o.max_context = 32;
  o.kv_num_blocks = 8;
  o.kv_block_size = 4;
  CompiledModel cm = core.compile(model, "CPU", o);
  InferRequest req = cm.create_request();
  const std::vector<int32_t> prompt = {1, 9, 8, 7, 6, 5}, next = {42};
  const std::vector<int32_t> a = {0, 1}, b = {0, 5};  // b shares block 0, gets a copy of block 1
  SequenceStep s{prompt, 0, a, false};
  EXPECT_TRUE(req.infer_paged(std::span(&s, 1)).empty()) << "no sequence asked for logits";
  req.copy_blocks(std::vector<int32_t>{1}, std::vector<int32_t>{5});
  SequenceStep sa{next, 6, a, true}, sb{next, 6, b, true};
  const std::vector<SequenceStep> both = {sa, sb};
  const std::vector<float> l = req.infer_paged(both);
  ASSERT_EQ(l.size(), 256u);
  EXPECT_TRUE(std::equal(l.begin(), l.begin() + 128, l.begin() + 128)) << "the copy holds what the original held";
}

}  // namespace
}  // namespace llmrt
