// Threading. Decision: libllmrt uses OpenMP (GCC's libgomp) for all CPU parallelism.
// Debian's oneDNN 2.6 is built with OpenMP threading, so oneDNN's matmuls already run on
// the OpenMP pool; a second pool of our own would oversubscribe the cores (two sets of busy
// threads on two cores) and fight it at every matmul/kernel boundary. Sharing one pool keeps
// exactly num_threads() workers busy. See docs/architecture.md.
//
// LLMRT_NUM_THREADS (or OMP_NUM_THREADS) sets the count; the default is one per core.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

namespace llmrt {

int num_threads();
void set_num_threads(int n);  // n <= 0 restores the default

// A non-owning reference to a callable: no allocation, unlike std::function.
template <class Sig> class FunctionRef;
template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT: implicit by design
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, Args... a) -> R { return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(a)...); }) {}
  R operator()(Args... a) const { return call_(obj_, std::forward<Args>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

// Splits [0, n) into contiguous chunks of at least `min_chunk` items, one per thread, and
// calls fn(begin, end) for each. Runs inline when there is one chunk or when called from
// inside a parallel region. The first exception thrown by any chunk is rethrown here after
// all chunks finish.
void parallel_for(int64_t n, int64_t min_chunk, FunctionRef<void(int64_t, int64_t)> fn);

}  // namespace llmrt
