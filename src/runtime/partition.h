// Splits a graph into consecutive segments, each placed on one device. Values crossing from
// one segment to a later one become outputs of the first and inputs of the second (by name).
#pragma once

#include <string>
#include <vector>

#include "core/graph.h"

namespace llmrt {

struct Segment {
  int device = 0;  // index into the caller's device list
  core::Graph graph;
  std::vector<std::string> inputs;   // names of graph.inputs(), in order
  std::vector<std::string> outputs;  // names of graph.outputs(), in order
};

// node_device[i]: the device of node i. Returns the segments in execution order.
std::vector<Segment> partition(const core::Graph& g, const std::vector<int>& node_device);

}  // namespace llmrt
