// The llmrt_weight entries a plugin's compile() receives for every weight a graph names:
// pointers into the host's tensors (no copy). The entries point into this object's strings,
// so keep it alive for the duration of the compile call.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "core/graph.h"
#include "llmrt/plugin/plugin_abi.h"
#include "util/threads.h"

namespace llmrt {

struct AbiWeights {
  std::vector<llmrt_weight> entries;
  std::vector<uint8_t> flags;       // per entry: LLMRT_WEIGHT_* bits (compile_options.weight_flags)
  std::deque<std::string> strings;  // names and type names (stable addresses)
};

// `lookup` returns the tensor for a weight name (throwing NOT_FOUND when absent).
AbiWeights abi_weights(const core::Graph& graph, FunctionRef<const Tensor&(std::string_view)> lookup);

}  // namespace llmrt
