#include "runtime/partition.h"

#include <algorithm>
#include <unordered_map>

#include "util/error.h"

namespace llmrt {

std::vector<Segment> partition(const core::Graph& g, const std::vector<int>& node_device) {
  const auto& nodes = g.nodes();
  if (node_device.size() != nodes.size()) fail(ErrorCode::kInternal, "partition: {} placements for {} nodes", node_device.size(), nodes.size());
  std::vector<Segment> out;
  size_t begin = 0;
  while (begin < nodes.size()) {
    size_t end = begin;
    while (end < nodes.size() && node_device[end] == node_device[begin]) ++end;
    Segment seg;
    seg.device = node_device[begin];
    std::unordered_map<core::ValueId, core::ValueId> map;
    auto bring = [&](core::ValueId id) {
      if (auto it = map.find(id); it != map.end()) return it->second;
      const core::Value& v = g.value(id);
      core::ValueId nid;
      if (v.kind == core::ValueKind::kWeight) {
        nid = seg.graph.add_weight(v.name, v.shape, v.stored);
      } else {
        nid = seg.graph.add_input(v.name, v.dtype, v.shape);
        seg.inputs.push_back(v.name);
      }
      map[id] = nid;
      return nid;
    };
    for (size_t n = begin; n < end; ++n) {
      const core::Node& node = nodes[n];
      std::vector<core::ValueId> ins;
      for (core::ValueId in : node.inputs) ins.push_back(bring(in));
      core::ValueId first = seg.graph.add_node(node.op, node.name, ins, node.attrs);
      const auto& new_node = seg.graph.nodes().back();
      for (size_t o = 0; o < node.outputs.size(); ++o) map[node.outputs[o]] = o == 0 ? first : new_node.outputs[o];
    }
    // Values made here and needed later (by another segment or as graph outputs).
    for (size_t n = begin; n < end; ++n) {
      for (core::ValueId o : nodes[n].outputs) {
        bool needed = std::find(g.outputs().begin(), g.outputs().end(), o) != g.outputs().end();
        for (size_t later = end; later < nodes.size() && !needed; ++later) {
          needed = std::find(nodes[later].inputs.begin(), nodes[later].inputs.end(), o) != nodes[later].inputs.end();
        }
        if (needed) {
          seg.graph.mark_output(map.at(o));
          seg.outputs.push_back(g.value(o).name);
        }
      }
    }
    seg.graph.validate();
    out.push_back(std::move(seg));
    begin = end;
  }
  return out;
}

}  // namespace llmrt
