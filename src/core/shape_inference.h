// Output dtypes and shapes of an op from its inputs and attributes (the rules in ops.h).
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "core/graph.h"

namespace llmrt::core {

struct ValueType {
  DType dtype;
  Shape shape;
  bool operator==(const ValueType&) const = default;
};

// INVALID_ARGUMENT naming `node_name`, the op and what does not fit.
std::vector<ValueType> infer_outputs(const Graph& g, OpType op, const std::vector<ValueId>& inputs,
                                     const Attributes& attrs, std::string_view node_name);

}  // namespace llmrt::core
