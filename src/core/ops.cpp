#include "core/ops.h"

#include <array>

namespace llmrt::core {
namespace {
constexpr std::array<std::string_view, kOpCount> kNames = {
    "Gather", "MatMul", "Add", "Mul", "Neg", "RMSNorm", "SiLU", "Softmax", "Reshape", "Transpose", "Concat", "Slice",
    "CausalMask", "GatherRows", "FullyConnected", "RoPE", "SDPA", "SwiGLU"};
}  // namespace

std::string_view to_string(OpType op) { return kNames[static_cast<size_t>(op)]; }

std::optional<OpType> parse_op(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<OpType>(i);
  }
  return std::nullopt;
}

bool is_fused(OpType op) { return op >= OpType::kFullyConnected; }

}  // namespace llmrt::core
