#include "plugins/cpu/ref_ops.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/dot.h"
#include "plugins/cpu/onednn_matmul.h"
#include "util/error.h"
#include "util/threads.h"

namespace llmrt::cpu {
namespace {

using core::Node;
using core::OpType;

template <class... A>
[[noreturn]] void bad(const Node& n, fmt::format_string<A...> f, A&&... args) {
  fail(ErrorCode::kInvalidArgument, "node '{}' ({}): {}", n.name, core::to_string(n.op), fmt::format(f, std::forward<A>(args)...));
}

int64_t numel(const Shape& s) {
  return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<>());
}

// Row-major strides of a shape.
std::vector<int64_t> strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

uint32_t* out_words(Activation& out) { return static_cast<uint32_t*>(out.raw()); }

// The request's buffer for this thread when there is one, else `own`; at least n elements.
template <class T>
std::vector<T>& buffer(std::vector<T>* mine, std::vector<T>& own, size_t n) {
  std::vector<T>& b = mine ? *mine : own;
  if (b.size() < n) b.resize(n);
  return b;
}


void binary(const Node& n, const std::vector<Operand>& in, Activation& out, bool add) {
  const Shape &a = in[0].shape(), &b = in[1].shape();
  Shape o(std::max(a.size(), b.size()), 1);
  for (size_t k = 0; k < o.size(); ++k) {
    int64_t da = k < a.size() ? a[a.size() - 1 - k] : 1, db = k < b.size() ? b[b.size() - 1 - k] : 1;
    if (da != db && da != 1 && db != 1) bad(n, "cannot broadcast {} with {}", shape_to_string(a), shape_to_string(b));
    o[o.size() - 1 - k] = std::max(da, db);
  }
  out.resize(core::DType::kF32, o);
  if (a == b) {  // the common case (residual adds, gating): element by element, in parallel
    const float *pa = in[0].f(), *pb = in[1].f();
    float* po = out.f();
    parallel_for(numel(o), 16384, [&](int64_t begin, int64_t end) {
      if (add) {
        for (int64_t i = begin; i < end; ++i) po[i] = pa[i] + pb[i];
      } else {
        for (int64_t i = begin; i < end; ++i) po[i] = pa[i] * pb[i];
      }
    });
    return;
  }
  // Strides of a and b in the output's index space (0 where they broadcast).
  auto aligned = [&](const Shape& s) {
    std::vector<int64_t> st = strides(s), r(o.size(), 0);
    for (size_t k = 0; k < s.size(); ++k) {
      size_t oi = o.size() - s.size() + k;
      r[oi] = s[k] == 1 ? 0 : st[k];
    }
    return r;
  };
  std::vector<int64_t> sa = aligned(a), sb = aligned(b), so = strides(o);
  const float *pa = in[0].f(), *pb = in[1].f();
  float* po = out.f();
  const int64_t total = numel(o);
  for (int64_t i = 0; i < total; ++i) {
    int64_t ia = 0, ib = 0, rem = i;
    for (size_t d = 0; d < o.size(); ++d) {
      int64_t idx = rem / so[d];
      rem -= idx * so[d];
      ia += idx * sa[d];
      ib += idx * sb[d];
    }
    po[i] = add ? pa[ia] + pb[ib] : pa[ia] * pb[ib];
  }
}

void matmul(const Node& n, const std::vector<Operand>& in, Activation& out) {
  const Shape &a = in[0].shape(), &b = in[1].shape();
  const bool tb = n.attrs.i("transpose_b", 0) != 0;
  const float alpha = static_cast<float>(n.attrs.f("alpha", 1.0));
  const int64_t m = a[a.size() - 2], k = a.back();
  const int64_t kb = tb ? b.back() : b[b.size() - 2], nn = tb ? b[b.size() - 2] : b.back();
  if (k != kb) bad(n, "inner dimensions {} and {} differ", k, kb);
  const int64_t batch = numel(a) / (m * k);
  const bool b_batched = b.size() > 2;
  if (b_batched && numel(b) / (kb * nn) != batch) bad(n, "batch sizes of {} and {} differ", shape_to_string(a), shape_to_string(b));
  Shape o = a;
  o.back() = nn;
  out.resize(core::DType::kF32, o);
  const float *pa = in[0].f(), *pb = in[1].f();
  float* po = out.f();
  parallel_for(batch * m, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t bi = row / m;
      const float* x = pa + row * k;
      const float* w = pb + (b_batched ? bi * kb * nn : 0);
      for (int64_t j = 0; j < nn; ++j) {
        double acc = 0;
        for (int64_t t = 0; t < k; ++t) acc += static_cast<double>(x[t]) * (tb ? w[j * k + t] : w[t * nn + j]);
        po[row * nn + j] = static_cast<float>(acc) * alpha;
      }
    }
  });
}

void fully_connected(const Node& n, const std::vector<Operand>& in, Activation& out, OpContext& ctx) {
  const Tensor& w = *in[1].weight;
  const Shape& xs = in[0].shape();
  const int64_t k = xs.back(), rows_out = w.shape[0];
  if (w.shape[1] != k) bad(n, "input has {} features, weight '{}' expects {}", k, w.name, w.shape[1]);
  const int64_t t = numel(xs) / std::max<int64_t>(k, 1);
  Shape o = xs;
  o.back() = rows_out;
  out.resize(core::DType::kF32, o);
  const float* x = in[0].f();
  float* y = out.f();
  if (w.type == StoredType::kF32 && t > 0) {
    onednn_matmul_f32(x, reinterpret_cast<const float*>(w.data.data()), y, t, k, rows_out);
  } else if (const kernels::PackedMatrix* pw = in[1].packed) {
    // Block-quantized weights: activations to int8 per 32, then the integer panel kernel
    // (kernels/cpu/qgemv.h), each thread on its own share of the 8-row panels.
    kernels::QuantizedRows own;
    kernels::QuantizedRows& qx = ctx.scratch ? ctx.scratch->quantized() : own;
    qx.resize(t, k);
    parallel_for(t, 8, [&](int64_t begin, int64_t end) { kernels::quantize_rows(x, begin, end - begin, qx); });
    parallel_for(pw->panels(), 4, [&](int64_t begin, int64_t end) { kernels::qgemm(*pw, qx, y, rows_out, begin, end); });
  } else if ((w.type == StoredType::kF16 || w.type == StoredType::kBF16) && t <= 4) {
    // Decode with 16-bit weights: converted in registers as they stream past.
    const auto* w16 = reinterpret_cast<const uint16_t*>(w.data.data());
    parallel_for(rows_out, 16, [&](int64_t begin, int64_t end) {
      kernels::gemm_f16(w16, w.type == StoredType::kBF16, k, x, t, y, rows_out, begin, end);
    });
  } else {
    // Decode a block of weight rows at a time (in cache) and dot it with every token
    // (kernels/cpu/dot.h: AVX-512 / AVX2 / scalar, chosen at run time).
    parallel_for(rows_out, 16, [&](int64_t begin, int64_t end) {
      std::vector<float> own;
      std::vector<float>& rows =
          buffer(ctx.scratch ? ctx.scratch->f32() : nullptr, own, static_cast<size_t>(std::min<int64_t>(end - begin, 64) * k));
      for (int64_t r0 = begin; r0 < end; r0 += 64) {
        const int64_t cnt = std::min<int64_t>(64, end - r0);
        w.dequantize_rows(r0, cnt, rows.data());
        for (int64_t tok = 0; tok < t; ++tok) {
          const float* xr = x + tok * k;
          for (int64_t r = 0; r < cnt; ++r) {
            y[tok * rows_out + r0 + r] = kernels::dot_f32(xr, rows.data() + r * k, static_cast<size_t>(k));
          }
        }
      }
    });
  }
  if (in.size() == 3) {
    const float* bias = in[2].f();
    for (int64_t tok = 0; tok < t; ++tok) {
      for (int64_t r = 0; r < rows_out; ++r) y[tok * rows_out + r] += bias[r];
    }
  }
}

void gather(const Node& n, const std::vector<Operand>& in, Activation& out) {
  const Tensor& table = *in[0].weight;
  const Activation& ids = *in[1].act;
  const int64_t vocab = table.shape[0], h = table.shape[1];
  Shape o = ids.shape;
  o.push_back(h);
  out.resize(core::DType::kF32, o);
  for (int64_t t = 0; t < ids.numel(); ++t) {
    int32_t id = ids.i()[t];
    if (id < 0 || id >= vocab) bad(n, "id {} at position {} is outside [0, {}) of '{}'", id, t, vocab, table.name);
    table.dequantize_rows(id, 1, out.f() + t * h);
  }
}

void gather_rows(const Node& n, const std::vector<Operand>& in, Activation& out) {
  const Shape& xs = in[0].shape();
  const Activation& rows = *in[1].act;
  const int64_t t = xs[0], h = xs[1];
  out.resize(core::DType::kF32, {rows.numel(), h});
  for (int64_t r = 0; r < rows.numel(); ++r) {
    const int32_t row = rows.i()[r];
    if (row < 0 || row >= t) bad(n, "row {} at index {} is outside [0, {})", row, r, t);
    std::copy_n(in[0].f() + row * h, h, out.f() + r * h);
  }
}

void rms_norm(const Node& n, const std::vector<Operand>& in, Activation& out) {
  const Shape& xs = in[0].shape();
  const int64_t h = xs.back(), rows = numel(xs) / std::max<int64_t>(h, 1);
  const double eps = n.attrs.f("eps");
  out.resize(core::DType::kF32, xs);
  const float *x = in[0].f(), *w = in[1].f();
  float* y = out.f();
  parallel_for(rows, 4, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      double ss = 0;
      for (int64_t i = 0; i < h; ++i) ss += static_cast<double>(x[r * h + i]) * x[r * h + i];
      const double inv = 1.0 / std::sqrt(ss / static_cast<double>(h) + eps);
      for (int64_t i = 0; i < h; ++i) y[r * h + i] = static_cast<float>(x[r * h + i] * inv) * w[i];
    }
  });
}

void softmax_rows(float* x, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, row[i]);
    if (mx == -std::numeric_limits<float>::infinity()) {  // every entry masked: no attention at all
      std::fill(row, row + n, 0.0f);
      continue;
    }
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      row[i] = std::exp(row[i] - mx);
      sum += row[i];
    }
    for (int64_t i = 0; i < n; ++i) row[i] = static_cast<float>(row[i] / sum);
  }
}

float silu(float v) { return v / (1.0f + std::exp(-v)); }

void reshape(const Node& n, const std::vector<Operand>& in, Activation& out) {
  const Shape& src = in[0].shape();
  Shape o = n.attrs.ints("shape");
  int64_t known = 1, unknown = -1;
  for (size_t i = 0; i < o.size(); ++i) {
    if (o[i] == 0) o[i] = src[i];
    if (o[i] == -1) unknown = static_cast<int64_t>(i);
    else known *= o[i];
  }
  const int64_t total = numel(src);
  if (unknown >= 0) o[static_cast<size_t>(unknown)] = known ? total / known : 0;
  if (numel(o) != total) bad(n, "cannot reshape {} into {}", shape_to_string(src), shape_to_string(o));
  out.resize(in[0].dtype(), o);
  std::copy_n(in[0].words(), total, out_words(out));
}

void transpose(const Node& n, const std::vector<Operand>& in, Activation& out) {
  const Shape& src = in[0].shape();
  const auto& perm = n.attrs.ints("perm");
  Shape o(src.size());
  for (size_t i = 0; i < perm.size(); ++i) o[i] = src[static_cast<size_t>(perm[i])];
  out.resize(in[0].dtype(), o);
  std::vector<int64_t> ss = strides(src), so = strides(o);
  const uint32_t* x = in[0].words();
  uint32_t* y = out_words(out);
  const int64_t total = numel(o);
  for (int64_t i = 0; i < total; ++i) {
    int64_t rem = i, is = 0;
    for (size_t d = 0; d < o.size(); ++d) {
      int64_t idx = rem / so[d];
      rem -= idx * so[d];
      is += idx * ss[static_cast<size_t>(perm[d])];
    }
    y[i] = x[is];
  }
}

// outer x [axis dim] x inner decomposition
void split_dims(const Shape& s, int64_t axis, int64_t* outer, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int64_t d = 0; d < axis; ++d) *outer *= s[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) *inner *= s[d];
}

void concat(const Node& n, const std::vector<Operand>& in, Activation& out) {
  const int64_t axis = n.attrs.i("axis");
  Shape o = in[0].shape();
  o[static_cast<size_t>(axis)] = 0;
  for (const Operand& op : in) {
    if (op.dtype() != in[0].dtype()) bad(n, "inputs mix {} and {}", core::to_string(in[0].dtype()), core::to_string(op.dtype()));
    o[static_cast<size_t>(axis)] += op.shape()[static_cast<size_t>(axis)];
  }
  out.resize(in[0].dtype(), o);
  int64_t outer, inner;
  split_dims(o, axis, &outer, &inner);
  const int64_t out_row = o[static_cast<size_t>(axis)] * inner;
  int64_t offset = 0;
  for (const Operand& op : in) {
    const int64_t len = op.shape()[static_cast<size_t>(axis)] * inner;
    for (int64_t r = 0; r < outer; ++r) std::copy_n(op.words() + r * len, len, out_words(out) + r * out_row + offset);
    offset += len;
  }
}

void slice(const Node& n, const std::vector<Operand>& in, Activation& out) {
  const Shape& src = in[0].shape();
  const int64_t axis = n.attrs.i("axis");
  const int64_t dim = src[static_cast<size_t>(axis)];
  const bool from_end = n.attrs.has("last");
  const int64_t begin = from_end ? dim - n.attrs.i("last") : n.attrs.i("begin"), end = from_end ? dim : n.attrs.i("end");
  if (begin < 0) bad(n, "the last {} elements of a dimension of {}", n.attrs.i("last"), dim);
  if (end > src[static_cast<size_t>(axis)]) bad(n, "slice [{}, {}) exceeds dimension {}", begin, end, src[static_cast<size_t>(axis)]);
  Shape o = src;
  o[static_cast<size_t>(axis)] = end - begin;
  out.resize(in[0].dtype(), o);
  int64_t outer, inner;
  split_dims(src, axis, &outer, &inner);
  const int64_t src_row = src[static_cast<size_t>(axis)] * inner, len = (end - begin) * inner;
  for (int64_t r = 0; r < outer; ++r) std::copy_n(in[0].words() + r * src_row + begin * inner, len, out_words(out) + r * len);
}

void causal_mask(const std::vector<Operand>& in, Activation& out) {
  const Shape& s = in[0].shape();
  out.resize(core::DType::kF32, s);
  const int64_t m = s[s.size() - 2], nn = s.back(), mats = numel(s) / std::max<int64_t>(m * nn, 1);
  for (int64_t b = 0; b < mats; ++b) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < nn; ++j) {
        const int64_t idx = (b * m + i) * nn + j;
        out.f()[idx] = j > i + (nn - m) ? -std::numeric_limits<float>::infinity() : in[0].f()[idx];
      }
    }
  }
}

void rope(const Node& n, const std::vector<Operand>& in, Activation& out) {
  const Shape& xs = in[0].shape();
  const int64_t heads = n.attrs.i("heads"), hd = n.attrs.i("head_dim"), rot = n.attrs.i("rotary_dim", hd);
  const bool adjacent = n.attrs.s("style") == "adjacent";
  const bool table = n.attrs.has("mode") && n.attrs.s("mode") == "table";
  const Activation& pos = *in[1].act;
  const int64_t t_count = xs[0], half = rot / 2;
  out.resize(core::DType::kF32, xs);
  std::copy_n(in[0].f(), out.f32.size(), out.f());
  // cos/sin of each (token, pair).
  std::vector<double> cs(static_cast<size_t>(t_count * half)), sn(cs.size());
  if (table) {
    const Tensor& cos_t = *in[2].weight;
    const int64_t max_pos = cos_t.shape[0];
    for (int64_t t = 0; t < t_count; ++t) {
      int32_t p = pos.i()[t];
      if (p < 0 || p >= max_pos) bad(n, "position {} is outside the {}-row cos/sin tables", p, max_pos);
    }
  } else {
    const double theta = n.attrs.f("theta"), af = n.attrs.f("attention_factor", 1.0);
    const float* factors = in.size() > 2 ? in[2].f() : nullptr;
    if (in.size() > 3) {
      int32_t max_p = 0;
      for (int64_t t = 0; t < t_count; ++t) max_p = std::max(max_p, pos.i()[t]);
      if (max_p + 1 > n.attrs.i("original_max_positions")) factors = in[3].f();
    }
    for (int64_t t = 0; t < t_count; ++t) {
      for (int64_t i = 0; i < half; ++i) {
        double inv = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(rot));
        if (factors) inv /= factors[i];
        const double angle = static_cast<double>(pos.i()[t]) * inv;
        cs[static_cast<size_t>(t * half + i)] = std::cos(angle) * af;
        sn[static_cast<size_t>(t * half + i)] = std::sin(angle) * af;
      }
    }
  }
  for (int64_t t = 0; t < t_count; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      float* x = out.f() + (t * heads + h) * hd;
      const float* src = in[0].f() + (t * heads + h) * hd;
      if (table) {
        // HF layout: out_j = x_j cos_j + rotate_half(x)_j sin_j.
        const int32_t p = pos.i()[t];
        const float* c = in[2].f() + p * rot;
        const float* s = in[3].f() + p * rot;
        for (int64_t j = 0; j < rot; ++j) {
          const float r = j < half ? -src[j + half] : src[j - half];
          x[j] = src[j] * c[j] + r * s[j];
        }
        continue;
      }
      for (int64_t i = 0; i < half; ++i) {
        const int64_t ia = adjacent ? 2 * i : i, ib = adjacent ? 2 * i + 1 : i + half;
        const double a = src[ia], b = src[ib];
        const double c = cs[static_cast<size_t>(t * half + i)], s = sn[static_cast<size_t>(t * half + i)];
        x[ia] = static_cast<float>(a * c - b * s);
        x[ib] = static_cast<float>(b * c + a * s);
      }
    }
  }
}

void sdpa(const Node& n, const std::vector<Operand>& in, Activation& out, OpContext& ctx) {
  const int64_t heads = n.attrs.i("heads"), kv_heads = n.attrs.i("kv_heads"), hd = n.attrs.i("head_dim");
  const double scale = n.attrs.f("scale");
  const int64_t slot = n.attrs.i("cache_slot", -1);
  const bool heads_layout = n.attrs.has("layout") && n.attrs.s("layout") == "heads";
  const int64_t group = heads / kv_heads;
  const int64_t window = n.attrs.i("sliding_window", 0);
  // Keys a query at 0-based key index `last` sees: [first_key(last), last].
  auto first_key = [window](int64_t last) { return window > 0 ? std::max<int64_t>(0, last - window + 1) : 0; };
  out.resize(core::DType::kF32, in[0].shape());
  // The fused kernel (kernels/cpu/attention.h) runs one KV head and its GQA group of query
  // heads per call, in parallel over KV heads; the key limits are per token.
  std::vector<int64_t> own_limits;
  std::vector<int64_t>& limits = ctx.scratch ? ctx.scratch->limits() : own_limits;
  auto run_heads = [&](kernels::AttentionArgs args, int64_t t_count, int64_t q_kvh_stride, int64_t kv_kvh_stride) {
    parallel_for(kv_heads, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> own;
      std::vector<float>& scratch = buffer(ctx.scratch ? ctx.scratch->f32() : nullptr, own,
                                           kernels::attention_scratch_floats(t_count * group, hd));
      for (int64_t kvh = begin; kvh < end; ++kvh) {
        kernels::AttentionArgs a = args;
        a.q += kvh * q_kvh_stride;
        a.out += kvh * q_kvh_stride;
        a.k += kvh * kv_kvh_stride;
        a.v += kvh * kv_kvh_stride;
        a.scratch = scratch.data();
        kernels::attention(a);
      }
    });
  };
  if (heads_layout) {  // [heads, T, hd], causal over these T keys
    const int64_t t_count = in[0].shape()[1];
    limits.resize(static_cast<size_t>(2 * t_count));
    for (int64_t t = 0; t < t_count; ++t) {
      limits[static_cast<size_t>(t)] = first_key(t);
      limits[static_cast<size_t>(t_count + t)] = t;
    }
    kernels::AttentionArgs a{};
    a.q = in[0].f();
    a.q_token_stride = hd;
    a.q_head_stride = t_count * hd;
    a.n_tokens = t_count;
    a.n_heads = group;
    a.first = limits.data();
    a.last = limits.data() + t_count;
    a.k = in[1].f();
    a.v = in[2].f();
    a.kv_stride = hd;
    a.head_dim = hd;
    a.scale = static_cast<float>(scale);
    a.out = out.f();
    a.out_token_stride = hd;
    a.out_head_stride = t_count * hd;
    run_heads(a, t_count, group * t_count * hd, t_count * hd);
    return;
  }
  const int64_t t_count = in[0].shape()[0], width = kv_heads * hd;
  const float *k_base = in[1].f(), *v_base = in[2].f();
  int64_t first_pos = 0;  // position of the first new token within the keys
  if (slot >= 0 && ctx.paged) {
    if (slot >= static_cast<int64_t>(ctx.paged->size()) || !(*ctx.paged)[static_cast<size_t>(slot)]) {
      bad(n, "cache slot {} does not exist", slot);
    }
    if (t_count != ctx.n_tokens) bad(n, "the step is said to have {} tokens but q holds {} rows", ctx.n_tokens, t_count);
    paged_sdpa(n, in[0].f(), in[1].f(), in[2].f(), out.f(), *(*ctx.paged)[static_cast<size_t>(slot)], ctx.seqs, ctx.scratch);
    return;
  }
  if (slot >= 0) {
    if (!ctx.kv || slot >= static_cast<int64_t>(ctx.kv->size())) bad(n, "cache slot {} does not exist", slot);
    if (t_count != ctx.n_tokens) {
      bad(n, "the step is said to have {} tokens but q holds {} rows", ctx.n_tokens, t_count);
    }
    KvSlot& kv = (*ctx.kv)[static_cast<size_t>(slot)];
    if (ctx.n_past + t_count > kv.capacity) {
      fail(ErrorCode::kOutOfRange, "node '{}': {} cached + {} new tokens exceed the context of {} tokens", n.name,
           ctx.n_past, t_count, kv.capacity);
    }
    std::copy_n(in[1].f(), t_count * width, kv.k.data() + ctx.n_past * width);
    std::copy_n(in[2].f(), t_count * width, kv.v.data() + ctx.n_past * width);
    k_base = kv.k.data();
    v_base = kv.v.data();
    first_pos = ctx.n_past;
  }
  limits.resize(static_cast<size_t>(2 * t_count));
  for (int64_t t = 0; t < t_count; ++t) {
    limits[static_cast<size_t>(t)] = first_key(first_pos + t);
    limits[static_cast<size_t>(t_count + t)] = first_pos + t;
  }
  kernels::AttentionArgs a{};
  a.q = in[0].f();
  a.q_token_stride = heads * hd;
  a.q_head_stride = hd;
  a.n_tokens = t_count;
  a.n_heads = group;
  a.first = limits.data();
  a.last = limits.data() + t_count;
  a.k = k_base;
  a.v = v_base;
  a.kv_stride = width;
  a.head_dim = hd;
  a.scale = static_cast<float>(scale);
  a.out = out.f();
  a.out_token_stride = heads * hd;
  a.out_head_stride = hd;
  run_heads(a, t_count, group * hd, hd);
}

}  // namespace

Scratch::Scratch()
    : f32_(static_cast<size_t>(std::max(num_threads(), omp_get_max_threads()))),
      f64_(f32_.size()) {}

std::vector<float>* Scratch::f32() {
  const auto t = static_cast<size_t>(omp_get_thread_num());
  return t < f32_.size() ? &f32_[t] : nullptr;
}

std::vector<double>* Scratch::f64() {
  const auto t = static_cast<size_t>(omp_get_thread_num());
  return t < f64_.size() ? &f64_[t] : nullptr;
}

void run_ref(const Node& n, const std::vector<Operand>& in, Activation& out, OpContext& ctx) {
  switch (n.op) {
    case OpType::kGather: return gather(n, in, out);
    case OpType::kMatMul: return matmul(n, in, out);
    case OpType::kAdd: return binary(n, in, out, true);
    case OpType::kMul: return binary(n, in, out, false);
    case OpType::kNeg:
    case OpType::kSiLU: {
      out.resize(core::DType::kF32, in[0].shape());
      const float* x = in[0].f();
      for (int64_t i = 0; i < out.numel(); ++i) out.f()[i] = n.op == OpType::kNeg ? -x[i] : silu(x[i]);
      return;
    }
    case OpType::kRMSNorm: return rms_norm(n, in, out);
    case OpType::kSoftmax: {
      out.resize(core::DType::kF32, in[0].shape());
      std::copy_n(in[0].f(), out.numel(), out.f());
      const int64_t last = in[0].shape().back();
      softmax_rows(out.f(), out.numel() / std::max<int64_t>(last, 1), last);
      return;
    }
    case OpType::kReshape: return reshape(n, in, out);
    case OpType::kTranspose: return transpose(n, in, out);
    case OpType::kConcat: return concat(n, in, out);
    case OpType::kSlice: return slice(n, in, out);
    case OpType::kCausalMask: return causal_mask(in, out);
    case OpType::kGatherRows: return gather_rows(n, in, out);
    case OpType::kFullyConnected: return fully_connected(n, in, out, ctx);
    case OpType::kRoPE: return rope(n, in, out);
    case OpType::kSDPA: return sdpa(n, in, out, ctx);
    case OpType::kSwiGLU: {
      if (in[0].shape() != in[1].shape()) bad(n, "gate {} and up {} differ", shape_to_string(in[0].shape()), shape_to_string(in[1].shape()));
      out.resize(core::DType::kF32, in[0].shape());
      const float *g = in[0].f(), *u = in[1].f();
      float* y = out.f();
      parallel_for(out.numel(), 16384, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) y[i] = silu(g[i]) * u[i];
      });
      return;
    }
  }
  bad(n, "op not implemented by the CPU plugin");
}

}  // namespace llmrt::cpu
