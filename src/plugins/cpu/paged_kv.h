// The CPU plugin's paged KV cache: per attention layer, a pool of fixed-size blocks that the
// host addresses through per-sequence block tables (llmrt_sequence_step), and the SDPA of a
// step of several sequences over it (the PagedAttention of the serving design).
//
// Storage per block: [block_size rows, kv_heads, head_dim] keys and the same for values, in
// f32, f16, bf16 or u8. u8 keeps a scale and zero point per (row, KV head), asymmetric over the
// head's head_dim values: scale = (max - min) / 255, zero = round(-min / scale), q = clamp(
// round(x / scale) + zero, 0, 255), x' = (q - zero) * scale; a head of equal values stores
// scale 0 and reads back exactly. docs/plugin-abi.md states the same.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/graph.h"

namespace llmrt::cpu {

class Scratch;

// One sequence of a paged step, as the plugin sees it (rows: its first row in the step's inputs).
struct SeqStep {
  int64_t n_past = 0, n_tokens = 0, row0 = 0;
  std::span<const int32_t> table;
};

class PagedKv {
 public:
  PagedKv(int64_t kv_heads, int64_t head_dim, int64_t block_size, int64_t num_blocks, int32_t precision);

  int64_t block_size() const { return block_size_; }
  int64_t num_blocks() const { return num_blocks_; }
  int64_t width() const { return kv_heads_ * head_dim_; }

  // Stores one position's keys and values (width floats each) at `row` of `block`.
  void write(int64_t block, int64_t row, const float* k, const float* v);
  // Reads positions [begin, end) of a sequence's table for one KV head into contiguous f32
  // rows of head_dim (k_out and v_out hold (end - begin) * head_dim floats).
  void read_head(std::span<const int32_t> table, int64_t begin, int64_t end, int64_t head, float* k_out, float* v_out) const;
  void copy_block(int64_t src, int64_t dst);

 private:
  void store(int64_t slot, const float* x, std::vector<float>& f, std::vector<uint16_t>& h, std::vector<uint8_t>& q,
             std::vector<float>& scale, std::vector<float>& zero);
  void load(int64_t slot, float* out, const std::vector<float>& f, const std::vector<uint16_t>& h, const std::vector<uint8_t>& q,
            const std::vector<float>& scale, const std::vector<float>& zero) const;

  int64_t kv_heads_, head_dim_, block_size_, num_blocks_;
  int32_t precision_;
  // Element (block, row, head, i) at ((block * block_size + row) * kv_heads + head) * head_dim + i
  // in whichever of the planes the precision uses; u8 scales and zeros at (block, row, head).
  std::vector<float> kf_, vf_;
  std::vector<uint16_t> kh_, vh_;
  std::vector<uint8_t> kq_, vq_;
  std::vector<float> k_scale_, k_zero_, v_scale_, v_zero_;
};

// Checks a paged step against the pool (tables cover every position, block ids in range,
// positions within max_context, rows add up to n_rows); INVALID_ARGUMENT / OUT_OF_RANGE naming
// the sequence otherwise.
void check_paged_step(std::span<const SeqStep> seqs, int64_t n_rows, int64_t block_size, int64_t num_blocks, int64_t max_context);

// SDPA of a paged step: appends k and v ([rows, kv_heads * head_dim]) of every sequence to its
// blocks, then each sequence's queries attend causally over all its positions.
// q and out: [rows, heads * head_dim].
void paged_sdpa(const core::Node& n, const float* q, const float* k, const float* v, float* out, PagedKv& kv,
                std::span<const SeqStep> seqs, Scratch* scratch);

}  // namespace llmrt::cpu
