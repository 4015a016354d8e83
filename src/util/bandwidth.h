// Measures this machine's memory read bandwidth: every thread of the OpenMP pool sums its share
// of a buffer far larger than the caches; the best of several passes counts. Decode speed is
// bounded by (weight bytes per token) / (this bandwidth), so benchmarks print that floor.
#pragma once

#include <cstddef>

namespace llmrt {

struct BandwidthResult {
  double gb_per_s = 0;  // 1e9 bytes per second
  size_t bytes = 0;     // buffer size used
  int threads = 0;
};

// threads <= 0: the pool's current size. bytes: buffer size (default 1 GiB).
BandwidthResult measure_read_bandwidth(int threads = 0, size_t bytes = size_t{1} << 30, int passes = 5);

}  // namespace llmrt
