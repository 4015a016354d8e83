#include "plugins/cpu/onednn_matmul.h"

#include <dnnl.hpp>

#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "util/error.h"
#include "util/log.h"

namespace llmrt::cpu {
namespace {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

struct Cache {
  std::mutex mutex;
  std::map<std::tuple<int64_t, int64_t, int64_t>, dnnl::matmul> primitives;
};

Cache& cache() {
  static Cache c;
  return c;
}

}  // namespace

void onednn_matmul_f32(const float* x, const float* w, float* y, int64_t m, int64_t k, int64_t n) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  try {
    dnnl::memory::desc src_md({m, k}, dt::f32, tag::ab);
    dnnl::memory::desc wei_md({k, n}, dt::f32, tag::ba);  // w is [n, k] row-major
    dnnl::memory::desc dst_md({m, n}, dt::f32, tag::ab);
    dnnl::matmul prim;
    {
      std::lock_guard lock(cache().mutex);
      auto key = std::make_tuple(m, k, n);
      auto it = cache().primitives.find(key);
      if (it == cache().primitives.end()) {
        dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, wei_md, dst_md), engine());
        if (log::verbose()) log::info("cpu: oneDNN matmul f32 m={} k={} n={} impl={}", m, k, n, pd.impl_info_str());
        it = cache().primitives.emplace(key, dnnl::matmul(pd)).first;
      }
      prim = it->second;
    }
    dnnl::memory src(src_md, engine(), const_cast<float*>(x));
    dnnl::memory wei(wei_md, engine(), const_cast<float*>(w));
    dnnl::memory dst(dst_md, engine(), y);
    dnnl::stream stream(engine());
    prim.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    stream.wait();
  } catch (const dnnl::error& e) {
    fail(ErrorCode::kDevice, "oneDNN matmul {}x{}x{} failed: {} (status {})", m, k, n, e.what(), static_cast<int>(e.status));
  }
}

const char* onednn_version_text() {
  static const std::string text = [] {
    const dnnl_version_t* v = dnnl_version();
    return fmt::format("oneDNN {}.{}.{} (cpu runtime {})", v->major, v->minor, v->patch,
                       v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
  }();
  return text.c_str();
}

}  // namespace llmrt::cpu
