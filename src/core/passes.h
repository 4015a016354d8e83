// Passes that rewrite primitive patterns into the fused ops the kernels implement. Each
// returns how many patterns it rewrote, leaves the graph compacted and valid, and changes
// nothing a graph output depends on numerically (up to rounding).
//
//   fuse_fully_connected  MatMul(x, W weight, transpose_b) [-> Add(., bias weight [N])]
//                         => FullyConnected(x, W[, bias])
//   fuse_swiglu           Mul(SiLU(a), b) (either operand order) => SwiGLU(a, b)
//   fuse_rope             x*cos + rotate_half(x)*sin on x [T, heads, hd], where
//                         rotate_half(x) = Concat(Neg(Slice(x, hd/2..hd)), Slice(x, 0..hd/2))
//                         and cos/sin = Reshape(Gather(table, positions), [T, 1, hd])
//                         => RoPE(x, positions, cos table, sin table) {mode: table}
//   fuse_sdpa             MatMul(Softmax(CausalMask(MatMul(q, k, transpose_b, alpha))), v)
//                         on [heads, T, hd] => SDPA(q, k, v) {layout: heads, scale: alpha}
// Intermediate values a pattern consumes must have no other reader and not be graph outputs.
#pragma once

#include "core/graph.h"

namespace llmrt::core {

int fuse_fully_connected(Graph& g);
int fuse_swiglu(Graph& g);
int fuse_rope(Graph& g);
int fuse_sdpa(Graph& g);

struct PassCounts {
  int fully_connected = 0, swiglu = 0, rope = 0, sdpa = 0;
};
// All of the above, in an order where each sees the others' results.
PassCounts run_fusion_passes(Graph& g);

}  // namespace llmrt::core
