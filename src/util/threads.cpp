#include "util/threads.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>

#include "util/log.h"

namespace llmrt {
namespace {

int default_threads() {
  if (const char* env = std::getenv("LLMRT_NUM_THREADS"); env && *env) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end && *end == '\0' && n > 0 && n <= 4096) return static_cast<int>(n);
    log::warn("LLMRT_NUM_THREADS='{}' is not a thread count between 1 and 4096; ignoring it", env);
  }
  return omp_get_max_threads();  // honours OMP_NUM_THREADS, else one per core
}

// Read once, before anyone changes the OpenMP setting, so set_num_threads(0) can restore it.
int initial_threads() {
  static const int n = default_threads();
  return n;
}

int& thread_setting() {
  static int n = [] {
    omp_set_num_threads(initial_threads());
    return initial_threads();
  }();
  return n;
}

}  // namespace

int num_threads() { return thread_setting(); }

void set_num_threads(int n) {
  thread_setting() = n > 0 ? n : initial_threads();
  omp_set_num_threads(thread_setting());
}

void parallel_for(int64_t n, int64_t min_chunk, FunctionRef<void(int64_t, int64_t)> fn) {
  if (n <= 0) return;
  min_chunk = std::max<int64_t>(min_chunk, 1);
  int64_t chunks = std::min<int64_t>(num_threads(), (n + min_chunk - 1) / min_chunk);
  if (chunks <= 1 || omp_in_parallel()) {
    fn(0, n);
    return;
  }
  std::exception_ptr first_error;
  std::mutex error_mutex;
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t begin = n * c / chunks;
    int64_t end = n * (c + 1) / chunks;
    try {
      fn(begin, end);
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace llmrt
