// The graph IR: a typed DAG describing one forward step of a model.
//
// Values are graph inputs (token ids, positions), weights (references by name to tensors in
// the store; the bytes are bound at compile time) or node outputs. Nodes have an op, input
// values, output values and attributes. Shapes are partly dynamic: a dimension of -1 is
// known only at run time (the number of new tokens, say).
//
// Nodes are kept in a topological order (add_node only accepts inputs that already exist);
// passes rewrite the graph and call compact() to drop what they replaced.
//
// Thread-safety: none; a Graph is built and rewritten by one thread, then read-only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/ops.h"
#include "store/tensor.h"

namespace llmrt::core {

enum class DType : uint8_t { kF32, kI32 };
std::string_view to_string(DType t);

inline constexpr int64_t kDynamic = -1;

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>, std::vector<double>>;

class Attributes {
 public:
  void set(std::string key, AttrValue value) { values_[std::move(key)] = std::move(value); }
  bool has(std::string_view key) const { return values_.find(key) != values_.end(); }
  // Typed getters; INVALID_ARGUMENT naming the key when missing or of another type.
  int64_t i(std::string_view key) const;
  double f(std::string_view key) const;  // also accepts an integer
  const std::string& s(std::string_view key) const;
  const std::vector<int64_t>& ints(std::string_view key) const;
  const std::vector<double>& floats(std::string_view key) const;
  int64_t i(std::string_view key, int64_t fallback) const { return has(key) ? i(key) : fallback; }
  double f(std::string_view key, double fallback) const { return has(key) ? f(key) : fallback; }
  const std::map<std::string, AttrValue, std::less<>>& all() const { return values_; }
  bool operator==(const Attributes&) const = default;

 private:
  std::map<std::string, AttrValue, std::less<>> values_;
};

using ValueId = int32_t;
using NodeId = int32_t;

enum class ValueKind : uint8_t { kInput, kWeight, kNodeOutput };

struct Value {
  std::string name;
  ValueKind kind = ValueKind::kInput;
  DType dtype = DType::kF32;
  Shape shape;                          // -1 = dynamic
  NodeId producer = -1;                 // for node outputs
  StoredType stored = StoredType::kF32;  // for weights: how the tensor is stored
};

struct Node {
  std::string name;
  OpType op = OpType::kAdd;
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
  Attributes attrs;
  bool removed = false;  // set by passes; dropped by Graph::compact()
};

class Graph {
 public:
  ValueId add_input(std::string name, DType dtype, Shape shape);
  // A weight: `tensor` gives the name, shape and stored type; its bytes are bound later.
  ValueId add_weight(const Tensor& tensor);
  ValueId add_weight(std::string name, Shape shape, StoredType stored);
  // Adds a node, infers its output dtypes and shapes, and returns its first output.
  // Errors (llmrt::Error INVALID_ARGUMENT) name the node and what does not fit.
  ValueId add_node(OpType op, std::string name, std::vector<ValueId> inputs, Attributes attrs = {});
  void mark_output(ValueId v);

  const std::vector<Value>& values() const { return values_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& mutable_nodes() { return nodes_; }
  const Value& value(ValueId id) const;
  const Node& node(NodeId id) const;
  const std::vector<ValueId>& inputs() const { return inputs_; }
  const std::vector<ValueId>& outputs() const { return outputs_; }
  std::optional<ValueId> find_value(std::string_view name) const;

  // Nodes (not removed) that read value v.
  std::vector<NodeId> consumers(ValueId v) const;
  // Makes every reader of `from` (and the graph outputs) read `to` instead.
  void replace_uses(ValueId from, ValueId to);
  // Drops removed nodes and values nothing refers to any more; keeps the order.
  void compact();

  // Checks ids, topological order, unique names, that every node's shapes re-infer to
  // what is recorded, and that outputs exist. BAD_FORMAT naming the node otherwise.
  void validate() const;
  // One line per value and node, for people (LLMRT_DUMP_GRAPH=1 logs it at compile).
  std::string dump() const;
  // JSON text; deserialize(serialize(g)) == g. Errors name the field at fault.
  std::string serialize() const;
  static Graph deserialize(std::string_view json_text);
  // One node with its input types, as plugins receive it in supports():
  // {"op", "name", "attrs", "inputs": [{"kind", "dtype", "shape", "stored"}]}.
  std::string node_json(const Node& node) const;

  bool operator==(const Graph& other) const;

 private:
  ValueId add_value(Value v);
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<ValueId> inputs_;
  std::vector<ValueId> outputs_;
};

}  // namespace llmrt::core
