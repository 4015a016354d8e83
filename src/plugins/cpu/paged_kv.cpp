#include "plugins/cpu/paged_kv.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/convert.h"
#include "llmrt/plugin/plugin_abi.h"
#include "plugins/cpu/ref_ops.h"
#include "util/error.h"
#include "util/half.h"
#include "util/threads.h"

namespace llmrt::cpu {

PagedKv::PagedKv(int64_t kv_heads, int64_t head_dim, int64_t block_size, int64_t num_blocks, int32_t precision)
    : kv_heads_(kv_heads), head_dim_(head_dim), block_size_(block_size), num_blocks_(num_blocks), precision_(precision) {
  if (kv_heads <= 0 || head_dim <= 0 || block_size <= 0 || num_blocks <= 0) {
    fail(ErrorCode::kInvalidArgument, "paged KV cache: kv_heads {}, head_dim {}, block_size {}, num_blocks {} must all be positive",
         kv_heads, head_dim, block_size, num_blocks);
  }
  const int64_t rows = num_blocks * block_size;
  if (rows > (int64_t{1} << 28) / std::max<int64_t>(1, width() / 64)) {
    fail(ErrorCode::kOutOfRange, "paged KV cache of {} blocks x {} tokens is beyond any sensible size", num_blocks, block_size);
  }
  const auto n = static_cast<size_t>(rows * width());
  switch (precision) {
    case LLMRT_KV_F32: kf_.assign(n, 0.0f); vf_.assign(n, 0.0f); break;
    case LLMRT_KV_F16:
    case LLMRT_KV_BF16: kh_.assign(n, 0); vh_.assign(n, 0); break;
    case LLMRT_KV_U8: {
      kq_.assign(n, 0);
      vq_.assign(n, 0);
      const auto s = static_cast<size_t>(rows * kv_heads);
      k_scale_.assign(s, 0.0f); k_zero_.assign(s, 0.0f); v_scale_.assign(s, 0.0f); v_zero_.assign(s, 0.0f);
      break;
    }
    default: fail(ErrorCode::kInvalidArgument, "unknown KV-cache precision {}", precision);
  }
}

// slot = (block * block_size + row) * kv_heads + head: one head_dim vector.
void PagedKv::store(int64_t slot, const float* x, std::vector<float>& f, std::vector<uint16_t>& h, std::vector<uint8_t>& q,
                    std::vector<float>& scale, std::vector<float>& zero) {
  const auto at = static_cast<size_t>(slot * head_dim_);
  switch (precision_) {
    case LLMRT_KV_F32: std::copy_n(x, head_dim_, f.data() + at); return;
    case LLMRT_KV_F16: kernels::f32_to_f16(x, h.data() + at, static_cast<size_t>(head_dim_)); return;
    case LLMRT_KV_BF16:
      for (int64_t i = 0; i < head_dim_; ++i) h[at + static_cast<size_t>(i)] = f32_to_bf16(x[i]);
      return;
    default: break;
  }
  float lo = x[0], hi = x[0];
  for (int64_t i = 1; i < head_dim_; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  float s = (hi - lo) / 255.0f, z = 0.0f;
  if (!(s > 0.0f) || !std::isfinite(s)) {
    // All values equal (or a non-finite range): store the value itself as the zero point's
    // offset, exactly: x' = (q - zero) * scale with scale 0 reads back `lo` via zero = -lo.
    s = 0.0f;
    z = -lo;
    std::fill_n(q.data() + at, head_dim_, uint8_t{0});
  } else {
    z = std::round(-lo / s);
    for (int64_t i = 0; i < head_dim_; ++i) {
      const float v = std::round(x[i] / s) + z;
      q[at + static_cast<size_t>(i)] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
    }
  }
  scale[static_cast<size_t>(slot)] = s;
  zero[static_cast<size_t>(slot)] = z;
}

void PagedKv::load(int64_t slot, float* out, const std::vector<float>& f, const std::vector<uint16_t>& h,
                   const std::vector<uint8_t>& q, const std::vector<float>& scale, const std::vector<float>& zero) const {
  const auto at = static_cast<size_t>(slot * head_dim_);
  switch (precision_) {
    case LLMRT_KV_F32: std::copy_n(f.data() + at, head_dim_, out); return;
    case LLMRT_KV_F16: kernels::f16_to_f32(h.data() + at, out, static_cast<size_t>(head_dim_)); return;
    case LLMRT_KV_BF16: kernels::bf16_to_f32(h.data() + at, out, static_cast<size_t>(head_dim_)); return;
    default: break;
  }
  const float s = scale[static_cast<size_t>(slot)], z = zero[static_cast<size_t>(slot)];
  if (s == 0.0f) {
    std::fill_n(out, head_dim_, -z);
    return;
  }
  const uint8_t* src = q.data() + at;
  for (int64_t i = 0; i < head_dim_; ++i) out[i] = (static_cast<float>(src[i]) - z) * s;
}

void PagedKv::write(int64_t block, int64_t row, const float* k, const float* v) {
  const int64_t base = (block * block_size_ + row) * kv_heads_;
  for (int64_t h = 0; h < kv_heads_; ++h) {
    store(base + h, k + h * head_dim_, kf_, kh_, kq_, k_scale_, k_zero_);
    store(base + h, v + h * head_dim_, vf_, vh_, vq_, v_scale_, v_zero_);
  }
}

void PagedKv::read_head(std::span<const int32_t> table, int64_t begin, int64_t end, int64_t head, float* k_out,
                        float* v_out) const {
  for (int64_t p = begin; p < end; ++p) {
    const int64_t block = table[static_cast<size_t>(p / block_size_)];
    const int64_t slot = (block * block_size_ + p % block_size_) * kv_heads_ + head;
    load(slot, k_out + (p - begin) * head_dim_, kf_, kh_, kq_, k_scale_, k_zero_);
    load(slot, v_out + (p - begin) * head_dim_, vf_, vh_, vq_, v_scale_, v_zero_);
  }
}

void PagedKv::copy_block(int64_t src, int64_t dst) {
  if (src < 0 || src >= num_blocks_ || dst < 0 || dst >= num_blocks_) {
    fail(ErrorCode::kInvalidArgument, "copy_blocks: block {} -> {} is outside the pool of {} blocks", src, dst, num_blocks_);
  }
  const int64_t per = block_size_ * width(), heads = block_size_ * kv_heads_;
  auto copy = [&](auto& plane, int64_t n) {
    if (!plane.empty()) std::copy_n(plane.begin() + src * n, n, plane.begin() + dst * n);
  };
  for (auto* p : {&kf_, &vf_}) copy(*p, per);
  for (auto* p : {&kh_, &vh_}) copy(*p, per);
  for (auto* p : {&kq_, &vq_}) copy(*p, per);
  for (auto* p : {&k_scale_, &k_zero_, &v_scale_, &v_zero_}) copy(*p, heads);
}

void check_paged_step(std::span<const SeqStep> seqs, int64_t n_rows, int64_t block_size, int64_t num_blocks, int64_t max_context) {
  if (seqs.empty()) fail(ErrorCode::kInvalidArgument, "a paged step needs at least one sequence");
  int64_t rows = 0;
  for (size_t s = 0; s < seqs.size(); ++s) {
    const SeqStep& q = seqs[s];
    if (q.n_tokens <= 0 || q.n_past < 0) {
      fail(ErrorCode::kInvalidArgument, "sequence {} of the step: n_past {} and n_tokens {} (n_tokens must be >= 1)", s, q.n_past, q.n_tokens);
    }
    const int64_t end = q.n_past + q.n_tokens;
    if (end > max_context) {
      fail(ErrorCode::kOutOfRange, "sequence {} of the step: {} cached + {} new tokens exceed the context of {} tokens", s,
           q.n_past, q.n_tokens, max_context);
    }
    const int64_t need = (end + block_size - 1) / block_size;
    if (static_cast<int64_t>(q.table.size()) < need) {
      fail(ErrorCode::kInvalidArgument, "sequence {} of the step: its block table has {} blocks, {} positions need {}", s,
           q.table.size(), end, need);
    }
    for (int64_t b = 0; b < need; ++b) {
      const int32_t id = q.table[static_cast<size_t>(b)];
      if (id < 0 || id >= num_blocks) {
        fail(ErrorCode::kInvalidArgument, "sequence {} of the step: block table entry {} is {}, outside the pool of {} blocks", s, b,
             id, num_blocks);
      }
    }
    rows += q.n_tokens;
  }
  if (rows != n_rows) fail(ErrorCode::kInvalidArgument, "the step's sequences hold {} tokens but its inputs {}", rows, n_rows);
}

void paged_sdpa(const core::Node& n, const float* q, const float* k, const float* v, float* out, PagedKv& kv,
                std::span<const SeqStep> seqs, Scratch* scratch) {
  const int64_t heads = n.attrs.i("heads"), kv_heads = n.attrs.i("kv_heads"), hd = n.attrs.i("head_dim");
  const int64_t group = heads / kv_heads, width = kv_heads * hd, window = n.attrs.i("sliding_window", 0);
  const auto scale = static_cast<float>(n.attrs.f("scale"));
  if (width != kv.width()) {
    fail(ErrorCode::kInvalidArgument, "node '{}': KV width {} differs from its cache's {}", n.name, width, kv.width());
  }
  const int64_t bs = kv.block_size();
  for (const SeqStep& s : seqs) {
    for (int64_t i = 0; i < s.n_tokens; ++i) {
      const int64_t p = s.n_past + i, r = s.row0 + i;
      kv.write(s.table[static_cast<size_t>(p / bs)], p % bs, k + r * width, v + r * width);
    }
  }
  // Keys a sequence's step reads: from the first key its first query sees (sliding window) to
  // its last position. Limits are relative to that first key, per row of the step.
  auto first_key = [window](int64_t last) { return window > 0 ? std::max<int64_t>(0, last - window + 1) : 0; };
  int64_t rows = 0;
  for (const SeqStep& s : seqs) rows = std::max(rows, s.row0 + s.n_tokens);
  std::vector<int64_t> own_limits;
  std::vector<int64_t>& limits = scratch ? scratch->limits() : own_limits;
  limits.resize(static_cast<size_t>(2 * rows));
  for (const SeqStep& s : seqs) {
    const int64_t k0 = first_key(s.n_past);
    for (int64_t i = 0; i < s.n_tokens; ++i) {
      limits[static_cast<size_t>(s.row0 + i)] = first_key(s.n_past + i) - k0;
      limits[static_cast<size_t>(rows + s.row0 + i)] = s.n_past + i - k0;
    }
  }
  // One task per (sequence, KV head): gather its keys and values into contiguous f32 rows,
  // then the fused kernel of kernels/cpu/attention.h over them.
  const auto n_tasks = static_cast<int64_t>(seqs.size()) * kv_heads;
  parallel_for(n_tasks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> own;
    for (int64_t task = begin; task < end; ++task) {
      const SeqStep& s = seqs[static_cast<size_t>(task / kv_heads)];
      const int64_t kvh = task % kv_heads;
      const int64_t k0 = first_key(s.n_past), n_keys = s.n_past + s.n_tokens - k0;
      const size_t att = kernels::attention_scratch_floats(s.n_tokens * group, hd);
      const size_t kv_floats = static_cast<size_t>(n_keys * hd);
      std::vector<float>& buf = *(scratch && scratch->f32() ? scratch->f32() : &own);
      if (buf.size() < att + 2 * kv_floats) buf.resize(att + 2 * kv_floats);
      float* kbuf = buf.data() + att;
      float* vbuf = kbuf + kv_floats;
      kv.read_head(s.table, k0, k0 + n_keys, kvh, kbuf, vbuf);
      kernels::AttentionArgs a{};
      a.q = q + s.row0 * heads * hd + kvh * group * hd;
      a.q_token_stride = heads * hd;
      a.q_head_stride = hd;
      a.n_tokens = s.n_tokens;
      a.n_heads = group;
      a.first = limits.data() + s.row0;
      a.last = limits.data() + rows + s.row0;
      a.k = kbuf;
      a.v = vbuf;
      a.kv_stride = hd;
      a.head_dim = hd;
      a.scale = scale;
      a.out = out + s.row0 * heads * hd + kvh * group * hd;
      a.out_token_stride = heads * hd;
      a.out_head_stride = hd;
      a.scratch = buf.data();
      kernels::attention(a);
    }
  });
}

}  // namespace llmrt::cpu
