#include "runtime/abi_weights.h"

#include <algorithm>

namespace llmrt {

AbiWeights abi_weights(const core::Graph& graph, FunctionRef<const Tensor&(std::string_view)> lookup) {
  AbiWeights out;
  for (const core::Value& v : graph.values()) {
    if (v.kind != core::ValueKind::kWeight) continue;
    const Tensor& w = lookup(v.name);
    llmrt_weight e{};
    e.name = out.strings.emplace_back(w.name).c_str();
    e.stored_type = out.strings.emplace_back(to_string(w.type)).c_str();
    e.scale_type = out.strings.emplace_back(to_string(w.scale_type)).c_str();
    e.rank = static_cast<uint32_t>(std::min<size_t>(w.shape.size(), LLMRT_MAX_RANK));
    std::copy_n(w.shape.begin(), e.rank, e.shape);
    e.group_size = w.group_size;
    e.data = w.data.data();
    e.data_bytes = w.data.size();
    e.scales = w.scales.data();
    e.scales_bytes = w.scales.size();
    e.zero_points = w.zero_points.data();
    e.zero_points_bytes = w.zero_points.size();
    out.entries.push_back(e);
    out.flags.push_back(w.file_mapped ? LLMRT_WEIGHT_FILE_MAPPED : 0);
  }
  return out;
}

}  // namespace llmrt
