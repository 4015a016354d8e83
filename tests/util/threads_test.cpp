#include "util/threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace llmrt {
namespace {

TEST(ParallelFor, CoversEveryIndexExactlyOnce) {
  for (int64_t n : {0, 1, 2, 3, 7, 64, 1000, 100003}) {
    for (int64_t min_chunk : {1, 16, 5000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> calls{0};
      parallel_for(n, min_chunk, [&](int64_t begin, int64_t end) {
        ASSERT_LT(begin, end);
        ++calls;
        for (int64_t i = begin; i < end; ++i) ++hits[static_cast<size_t>(i)];
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)], 1) << "n=" << n << " i=" << i;
      EXPECT_LE(calls.load(), num_threads());
      if (n > 0 && n < min_chunk) {
        EXPECT_EQ(calls.load(), 1);
      }
    }
  }
}

TEST(ParallelFor, RethrowsTheFirstExceptionAfterAllChunksFinish) {
  std::atomic<int64_t> done{0};
  EXPECT_THROW(parallel_for(1000, 1,
                            [&](int64_t begin, int64_t end) {
                              done += end - begin;
                              if (begin == 0) throw std::runtime_error("chunk 0 failed");
                            }),
               std::runtime_error);
  EXPECT_EQ(done.load(), 1000);
}

TEST(ParallelFor, NestedCallsRunInline) {
  std::atomic<int> inner{0};
  parallel_for(4, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) parallel_for(10, 1, [&](int64_t ib, int64_t ie) { inner += static_cast<int>(ie - ib); });
  });
  EXPECT_EQ(inner.load(), 40);
}

TEST(Threads, SetAndRestore) {
  int before = num_threads();
  EXPECT_GE(before, 1);
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  std::atomic<int> calls{0};
  parallel_for(100, 1, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls.load(), 1);
  set_num_threads(0);
  EXPECT_EQ(num_threads(), before);
}

}  // namespace
}  // namespace llmrt
