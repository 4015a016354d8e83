// bench_bandwidth: this machine's memory read bandwidth with 1 thread and with every thread of
// the pool (best of 5 passes over a 1 GiB buffer), the ceiling for memory-bound decode.
//   build/bin/bench_bandwidth [BYTES]
#include <cstdio>
#include <cstdlib>

#include "util/bandwidth.h"
#include "util/threads.h"

int main(int argc, char** argv) {
  size_t bytes = size_t{1} << 30;
  if (argc > 1) bytes = std::strtoull(argv[1], nullptr, 10);
  const int all = llmrt::num_threads();
  for (int threads : {1, all}) {
    const auto r = llmrt::measure_read_bandwidth(threads, bytes);
    std::printf("read bandwidth, %d thread%s: %.1f GB/s (%zu MiB buffer)\n", r.threads, r.threads == 1 ? "" : "s", r.gb_per_s,
                r.bytes >> 20);
    if (all == 1) break;
  }
  return 0;
}
