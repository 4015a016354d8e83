// The op set of the graph IR: what each op computes, its inputs and attributes, and its shape
// inference. The maths of each op is the contract every plugin implements; the CPU plugin's
// reference kernels and the conformance test follow it.
//
// Primitive ops
//   Gather(table [V, H] weight, ids [T] i32) -> [T, H]           row lookup (embeddings); an id
//       outside [0, V) is an INVALID_ARGUMENT error naming the node
//   MatMul(a [.., M, K], b [.., K, N]) -> [.., M, N]             attr transpose_b: b is [.., N, K];
//       attr alpha (default 1) scales the product
//   Add(a, b), Mul(a, b) -> NumPy broadcast of a and b
//   Neg(x), SiLU(x) = x * sigmoid(x)                              elementwise
//   RMSNorm(x [.., H], w [H]) -> x / sqrt(mean(x^2) + eps) * w    attr eps
//   Softmax(x) over the last axis; a row that is all -inf (fully masked) gives zeros
//   Reshape(x) attr shape (one -1 allowed, 0 copies the input dim)
//   Reshape, Transpose, Concat and Slice move f32 and i32 data alike
//   Transpose(x) attr perm
//   Concat(x...) attr axis
//   Slice(x) attrs axis, begin, end                              [begin, end) along axis
//         or attrs axis, last                                    the last `last` elements
//         (a dynamic dimension's end, e.g. the final token of a prompt)
//   CausalMask(scores [.., M, N]) -> scores with -inf where key j > query i + (N - M)
//   GatherRows(x [T, H], rows [R] i32) -> [R, H]                 out[r] = x[rows[r]]; a row outside
//       [0, T) is an INVALID_ARGUMENT error naming the node (picks each sequence's last token
//       of a batched step for the output head)
// Fused ops
//   FullyConnected(x [T, K], w [N, K] weight (any stored type), bias [N] optional) -> [T, N]
//       y = x w^T + bias, weights decoded per their stored type. With a compressed or
//       block-quantized weight (anything but f32/f16/bf16/f64) a device may round x to int8
//       per 32 consecutive inputs (q = round(x * 127 / max|x_g|)), as the CPU plugin does for
//       its integer kernels; each y[t, n] is then within sum_g (max|x_g| / 254) sum_g |w_n|
//       of the exact value (plus f32 rounding).
//   RoPE(x [T, heads*head_dim] or [T, heads, head_dim], positions [T] i32, ...) -> x's shape
//       attrs heads, head_dim, rotary_dim (default head_dim; the rest passes through),
//       style ("rotate_half": pairs (i, i + rotary_dim/2) | "adjacent": pairs (2i, 2i+1)),
//       mode "theta" (default) or "table".
//       theta mode: inputs freq_factors [rotary_dim/2] and long_factors [rotary_dim/2], both
//       optional weights; attrs theta, attention_factor (default 1), original_max_positions.
//         inv_freq_i = theta^(-2i/rotary_dim) / factor_i, where factor = long_factors when
//         max(positions) + 1 > original_max_positions, else freq_factors (else 1);
//         c = cos(pos * inv_freq_i) * attention_factor, s = sin(...) * attention_factor;
//         (a, b) -> (a c - b s, b c + a s)
//       table mode: inputs cos [P, rotary_dim] and sin [P, rotary_dim] weights (HF layout:
//         entry j of a row belongs to rotated element j), out_j = x_j cos[p, j] + r_j sin[p, j]
//         with r = rotate_half(x) = (-x2, x1)
//   SDPA(q, k, v) -> q's shape
//       attrs heads, kv_heads, head_dim, scale, cache_slot (-1: no cache),
//       sliding_window W (default 0 = none: a query at position i sees keys i-W+1 .. i),
//       layout "tokens" (default: q [T, heads*hd], k and v [T, kv_heads*hd]) or "heads"
//       (q [heads, T, hd], k and v [kv_heads, T, hd]; no cache).
//       With a cache slot, k and v are appended to the request's cache for that slot and the
//       T queries (at positions n_past..n_past+T-1) attend causally over the whole cache;
//       without, over these T keys, causally. Head h reads kv head h / (heads / kv_heads).
//       out = softmax(q k^T * scale + causal mask) v
//       In a paged step (a batch of sequences, llmrt_sequence_step) each sequence's rows of q, k
//       and v are its new tokens: k and v go to its blocks, its queries attend over its own
//       positions only.
//   SwiGLU(gate, up) = SiLU(gate) * up
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace llmrt::core {

enum class OpType : uint8_t {
  // primitive
  kGather, kMatMul, kAdd, kMul, kNeg, kRMSNorm, kSiLU, kSoftmax, kReshape, kTranspose, kConcat, kSlice, kCausalMask, kGatherRows,
  // fused
  kFullyConnected, kRoPE, kSDPA, kSwiGLU,
};
inline constexpr int kOpCount = static_cast<int>(OpType::kSwiGLU) + 1;

std::string_view to_string(OpType op);
std::optional<OpType> parse_op(std::string_view name);
bool is_fused(OpType op);

}  // namespace llmrt::core
