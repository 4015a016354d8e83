#include "util/bandwidth.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>

#include "util/threads.h"

namespace llmrt {

BandwidthResult measure_read_bandwidth(int threads, size_t bytes, int passes) {
  if (threads <= 0) threads = num_threads();
  const size_t n = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buf(new uint64_t[n]);
  // First touch by the threads that will read, so pages land near them.
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  double best_s = 1e30;
  volatile uint64_t sink = 0;
  for (int p = 0; p < passes; ++p) {
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t sum = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : sum)
    for (size_t i = 0; i < n; ++i) sum += buf[i];
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink + sum;
    best_s = std::min(best_s, s);
  }
  return {static_cast<double>(n * sizeof(uint64_t)) / best_s / 1e9, n * sizeof(uint64_t), threads};
}

}  // namespace llmrt
