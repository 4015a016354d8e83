#include "core/graph.h"

#include <nlohmann/json.hpp>

#include <set>

#include "core/shape_inference.h"
#include "util/error.h"

namespace llmrt::core {

std::string_view to_string(DType t) { return t == DType::kF32 ? "f32" : "i32"; }

namespace {
template <class T>
const T& get_attr(const std::map<std::string, AttrValue, std::less<>>& values, std::string_view key, const char* type) {
  auto it = values.find(key);
  if (it == values.end()) fail(ErrorCode::kInvalidArgument, "attribute '{}' is missing", key);
  if (auto* v = std::get_if<T>(&it->second)) return *v;
  fail(ErrorCode::kInvalidArgument, "attribute '{}' is not {}", key, type);
}
}  // namespace

int64_t Attributes::i(std::string_view key) const { return get_attr<int64_t>(values_, key, "an integer"); }
double Attributes::f(std::string_view key) const {
  auto it = values_.find(key);
  if (it != values_.end()) {
    if (auto* v = std::get_if<int64_t>(&it->second)) return static_cast<double>(*v);
  }
  return get_attr<double>(values_, key, "a number");
}
const std::string& Attributes::s(std::string_view key) const { return get_attr<std::string>(values_, key, "a string"); }
const std::vector<int64_t>& Attributes::ints(std::string_view key) const {
  return get_attr<std::vector<int64_t>>(values_, key, "a list of integers");
}
const std::vector<double>& Attributes::floats(std::string_view key) const {
  return get_attr<std::vector<double>>(values_, key, "a list of numbers");
}

ValueId Graph::add_value(Value v) {
  values_.push_back(std::move(v));
  return static_cast<ValueId>(values_.size() - 1);
}

ValueId Graph::add_input(std::string name, DType dtype, Shape shape) {
  ValueId id = add_value({std::move(name), ValueKind::kInput, dtype, std::move(shape), -1, StoredType::kF32});
  inputs_.push_back(id);
  return id;
}

ValueId Graph::add_weight(const Tensor& tensor) { return add_weight(tensor.name, tensor.shape, tensor.type); }

ValueId Graph::add_weight(std::string name, Shape shape, StoredType stored) {
  if (auto existing = find_value(name)) {
    const Value& v = value(*existing);
    if (v.kind == ValueKind::kWeight && v.shape == shape && v.stored == stored) return *existing;  // shared (tied) weight
    fail(ErrorCode::kInvalidArgument, "value '{}' already exists", name);
  }
  return add_value({std::move(name), ValueKind::kWeight, DType::kF32, std::move(shape), -1, stored});
}

ValueId Graph::add_node(OpType op, std::string name, std::vector<ValueId> inputs, Attributes attrs) {
  std::vector<ValueType> outs = infer_outputs(*this, op, inputs, attrs, name);
  Node n{name, op, std::move(inputs), {}, std::move(attrs), false};
  NodeId id = static_cast<NodeId>(nodes_.size());
  for (size_t i = 0; i < outs.size(); ++i) {
    std::string out_name = outs.size() == 1 ? name : fmt::format("{}:{}", name, i);
    n.outputs.push_back(add_value({out_name, ValueKind::kNodeOutput, outs[i].dtype, outs[i].shape, id, StoredType::kF32}));
  }
  nodes_.push_back(std::move(n));
  return nodes_.back().outputs.front();
}

void Graph::mark_output(ValueId v) {
  value(v);
  outputs_.push_back(v);
}

const Value& Graph::value(ValueId id) const {
  if (id < 0 || static_cast<size_t>(id) >= values_.size()) fail(ErrorCode::kInvalidArgument, "value id {} does not exist", id);
  return values_[static_cast<size_t>(id)];
}

const Node& Graph::node(NodeId id) const {
  if (id < 0 || static_cast<size_t>(id) >= nodes_.size()) fail(ErrorCode::kInvalidArgument, "node id {} does not exist", id);
  return nodes_[static_cast<size_t>(id)];
}

std::optional<ValueId> Graph::find_value(std::string_view name) const {
  for (size_t i = 0; i < values_.size(); ++i) {
    if (values_[i].name == name) return static_cast<ValueId>(i);
  }
  return std::nullopt;
}

std::vector<NodeId> Graph::consumers(ValueId v) const {
  std::vector<NodeId> out;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (nodes_[n].removed) continue;
    for (ValueId in : nodes_[n].inputs) {
      if (in == v) {
        out.push_back(static_cast<NodeId>(n));
        break;
      }
    }
  }
  return out;
}

void Graph::replace_uses(ValueId from, ValueId to) {
  for (Node& n : nodes_) {
    if (n.removed) continue;
    for (ValueId& in : n.inputs) {
      if (in == from) in = to;
    }
  }
  for (ValueId& o : outputs_) {
    if (o == from) o = to;
  }
}

void Graph::compact() {
  // Values still referenced: graph inputs and outputs, and inputs/outputs of live nodes.
  std::vector<bool> live(values_.size(), false);
  for (ValueId v : inputs_) live[static_cast<size_t>(v)] = true;
  for (ValueId v : outputs_) live[static_cast<size_t>(v)] = true;
  for (const Node& n : nodes_) {
    if (n.removed) continue;
    for (ValueId v : n.inputs) live[static_cast<size_t>(v)] = true;
    for (ValueId v : n.outputs) live[static_cast<size_t>(v)] = true;
  }
  std::vector<ValueId> remap(values_.size(), -1);
  std::vector<Value> values;
  for (size_t i = 0; i < values_.size(); ++i) {
    if (!live[i]) continue;
    remap[i] = static_cast<ValueId>(values.size());
    values.push_back(std::move(values_[i]));
  }
  std::vector<Node> nodes;
  for (Node& n : nodes_) {
    if (n.removed) continue;
    for (ValueId& v : n.inputs) v = remap[static_cast<size_t>(v)];
    for (ValueId& v : n.outputs) v = remap[static_cast<size_t>(v)];
    nodes.push_back(std::move(n));
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (ValueId v : nodes[n].outputs) values[static_cast<size_t>(v)].producer = static_cast<NodeId>(n);
  }
  for (ValueId& v : inputs_) v = remap[static_cast<size_t>(v)];
  for (ValueId& v : outputs_) v = remap[static_cast<size_t>(v)];
  values_ = std::move(values);
  nodes_ = std::move(nodes);
}

void Graph::validate() const {
  std::set<std::string, std::less<>> value_names, node_names;
  for (const Value& v : values_) {
    if (!value_names.insert(v.name).second) fail(ErrorCode::kBadFormat, "graph: two values are named '{}'", v.name);
  }
  std::vector<bool> defined(values_.size(), false);
  for (size_t i = 0; i < values_.size(); ++i) defined[i] = values_[i].kind != ValueKind::kNodeOutput;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    if (node.removed) fail(ErrorCode::kBadFormat, "graph: node '{}' is marked removed (compact() not called)", node.name);
    if (!node_names.insert(node.name).second) fail(ErrorCode::kBadFormat, "graph: two nodes are named '{}'", node.name);
    for (ValueId in : node.inputs) {
      if (in < 0 || static_cast<size_t>(in) >= values_.size()) {
        fail(ErrorCode::kBadFormat, "graph: node '{}' reads value id {}, which does not exist", node.name, in);
      }
      if (!defined[static_cast<size_t>(in)]) {
        fail(ErrorCode::kBadFormat, "graph: node '{}' reads '{}' before it is computed", node.name, values_[static_cast<size_t>(in)].name);
      }
    }
    std::vector<ValueType> want;
    try {
      want = infer_outputs(*this, node.op, node.inputs, node.attrs, node.name);
    } catch (const Error& e) {
      fail(ErrorCode::kBadFormat, "graph: {}", e.what());
    }
    if (want.size() != node.outputs.size()) {
      fail(ErrorCode::kBadFormat, "graph: node '{}' has {} outputs, its op gives {}", node.name, node.outputs.size(), want.size());
    }
    for (size_t i = 0; i < want.size(); ++i) {
      ValueId out = node.outputs[i];
      if (out < 0 || static_cast<size_t>(out) >= values_.size()) fail(ErrorCode::kBadFormat, "graph: node '{}' output id {} does not exist", node.name, out);
      const Value& v = values_[static_cast<size_t>(out)];
      if (v.kind != ValueKind::kNodeOutput || v.producer != static_cast<NodeId>(n) || defined[static_cast<size_t>(out)]) {
        fail(ErrorCode::kBadFormat, "graph: value '{}' is not produced by node '{}' alone", v.name, node.name);
      }
      if (v.dtype != want[i].dtype || v.shape != want[i].shape) {
        fail(ErrorCode::kBadFormat, "graph: node '{}' output '{}' is recorded as {} {} but infers to {} {}", node.name,
             v.name, to_string(v.dtype), shape_to_string(v.shape), to_string(want[i].dtype), shape_to_string(want[i].shape));
      }
      defined[static_cast<size_t>(out)] = true;
    }
  }
  for (ValueId in : inputs_) {
    if (in < 0 || static_cast<size_t>(in) >= values_.size() || values_[static_cast<size_t>(in)].kind != ValueKind::kInput) {
      fail(ErrorCode::kBadFormat, "graph: input id {} is not an input value", in);
    }
  }
  if (outputs_.empty()) fail(ErrorCode::kBadFormat, "graph has no outputs");
  for (ValueId out : outputs_) {
    if (out < 0 || static_cast<size_t>(out) >= values_.size() || !defined[static_cast<size_t>(out)]) {
      fail(ErrorCode::kBadFormat, "graph: output id {} is never computed", out);
    }
  }
}

namespace {
std::string attr_text(const AttrValue& a) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) return fmt::format("\"{}\"", x);
        else if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<double>>)
          return fmt::format("[{}]", fmt::join(x, ", "));
        else return fmt::format("{}", x);
      },
      a);
}
}  // namespace

std::string Graph::dump() const {
  std::string out = fmt::format("graph: {} inputs, {} weights, {} nodes\n", inputs_.size(),
                                std::count_if(values_.begin(), values_.end(), [](const Value& v) { return v.kind == ValueKind::kWeight; }),
                                nodes_.size());
  for (ValueId id : inputs_) {
    const Value& v = value(id);
    out += fmt::format("  input  %{} {} {}\n", v.name, to_string(v.dtype), shape_to_string(v.shape));
  }
  for (const Node& n : nodes_) {
    std::vector<std::string> ins, outs, attrs;
    for (ValueId i : n.inputs) {
      const Value& v = value(i);
      ins.push_back(v.kind == ValueKind::kWeight ? fmt::format("@{}:{}", v.name, llmrt::to_string(v.stored)) : "%" + v.name);
    }
    for (ValueId o : n.outputs) outs.push_back(fmt::format("%{} {}", value(o).name, shape_to_string(value(o).shape)));
    for (const auto& [k, a] : n.attrs.all()) attrs.push_back(fmt::format("{}={}", k, attr_text(a)));
    out += fmt::format("  {} = {}({}){}\n", fmt::join(outs, ", "), to_string(n.op), fmt::join(ins, ", "),
                       attrs.empty() ? "" : fmt::format(" {{{}}}", fmt::join(attrs, ", ")));
  }
  for (ValueId id : outputs_) out += fmt::format("  output %{}\n", value(id).name);
  return out;
}

namespace {
using nlohmann::json;

std::string_view kind_name(ValueKind k) {
  return k == ValueKind::kInput ? "input" : k == ValueKind::kWeight ? "weight" : "node";
}

json attr_json(const AttrValue& a) {
  return std::visit(
      [](const auto& x) -> json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t>) return {{"i", x}};
        else if constexpr (std::is_same_v<T, double>) return {{"f", x}};
        else if constexpr (std::is_same_v<T, std::string>) return {{"s", x}};
        else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return {{"ints", x}};
        else return {{"floats", x}};
      },
      a);
}

AttrValue attr_from_json(const json& j, std::string_view key) {
  if (!j.is_object() || j.size() != 1) fail(ErrorCode::kBadFormat, "graph JSON: attribute '{}' must be an object with one member", key);
  // (Not a structured binding to *j.items().begin(): that proxy is a temporary whose key()
  // would dangle.)
  const auto it = j.begin();
  const std::string type = it.key();
  const json& v = it.value();
  if (type == "i" && v.is_number_integer()) return v.get<int64_t>();
  if (type == "f" && v.is_number()) return v.get<double>();
  if (type == "s" && v.is_string()) return v.get<std::string>();
  if (type == "ints" && v.is_array()) return v.get<std::vector<int64_t>>();
  if (type == "floats" && v.is_array()) return v.get<std::vector<double>>();
  fail(ErrorCode::kBadFormat, "graph JSON: attribute '{}' has an unknown form '{}'", key, type);
}
}  // namespace

std::string Graph::serialize() const {
  json values = json::array();
  for (const Value& v : values_) {
    json jv = {{"name", v.name}, {"kind", kind_name(v.kind)}, {"dtype", to_string(v.dtype)}, {"shape", v.shape}};
    if (v.kind == ValueKind::kWeight) jv["stored"] = llmrt::to_string(v.stored);
    values.push_back(std::move(jv));
  }
  json nodes = json::array();
  for (const Node& n : nodes_) {
    json attrs = json::object();
    for (const auto& [k, a] : n.attrs.all()) attrs[k] = attr_json(a);
    nodes.push_back({{"name", n.name}, {"op", to_string(n.op)}, {"inputs", n.inputs}, {"outputs", n.outputs}, {"attrs", attrs}});
  }
  json g = {{"format", "llmrt-graph"}, {"version", 1}, {"values", values}, {"nodes", nodes}, {"inputs", inputs_}, {"outputs", outputs_}};
  return g.dump();
}

std::string Graph::node_json(const Node& n) const {
  json attrs = json::object();
  for (const auto& [k, a] : n.attrs.all()) attrs[k] = attr_json(a);
  json inputs = json::array();
  for (ValueId id : n.inputs) {
    const Value& v = value(id);
    json jv = {{"kind", kind_name(v.kind)}, {"dtype", to_string(v.dtype)}, {"shape", v.shape}};
    if (v.kind == ValueKind::kWeight) jv["stored"] = llmrt::to_string(v.stored);
    inputs.push_back(std::move(jv));
  }
  return json{{"op", to_string(n.op)}, {"name", n.name}, {"attrs", attrs}, {"inputs", inputs}}.dump();
}

Graph Graph::deserialize(std::string_view text) {
  json g;
  try {
    g = json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorCode::kBadFormat, "graph JSON does not parse: {}", e.what());
  }
  try {
    if (!g.is_object()) fail(ErrorCode::kBadFormat, "graph JSON is not an object with \"format\": \"llmrt-graph\"");
    if (g.value("format", "") != "llmrt-graph") fail(ErrorCode::kBadFormat, "graph JSON: \"format\" is not \"llmrt-graph\"");
    if (g.value("version", 0) != 1) fail(ErrorCode::kVersionMismatch, "graph JSON: version {} is not 1", g.value("version", 0));
    Graph out;
    for (const json& jv : g.at("values")) {
      Value v;
      v.name = jv.at("name").get<std::string>();
      std::string kind = jv.at("kind").get<std::string>();
      v.kind = kind == "input" ? ValueKind::kInput : kind == "weight" ? ValueKind::kWeight : ValueKind::kNodeOutput;
      if (kind != "input" && kind != "weight" && kind != "node") fail(ErrorCode::kBadFormat, "graph JSON: value '{}' has kind '{}'", v.name, kind);
      std::string dtype = jv.at("dtype").get<std::string>();
      if (dtype != "f32" && dtype != "i32") fail(ErrorCode::kBadFormat, "graph JSON: value '{}' has dtype '{}'", v.name, dtype);
      v.dtype = dtype == "f32" ? DType::kF32 : DType::kI32;
      v.shape = jv.at("shape").get<Shape>();
      if (v.kind == ValueKind::kWeight) {
        auto stored = parse_stored_type(jv.at("stored").get<std::string>());
        if (!stored) fail(ErrorCode::kBadFormat, "graph JSON: weight '{}' has an unknown stored type", v.name);
        v.stored = *stored;
      }
      out.values_.push_back(std::move(v));
    }
    for (const json& jn : g.at("nodes")) {
      Node n;
      n.name = jn.at("name").get<std::string>();
      auto op = parse_op(jn.at("op").get<std::string>());
      if (!op) fail(ErrorCode::kUnsupported, "graph JSON: node '{}' has unknown op '{}'", n.name, jn.at("op").get<std::string>());
      n.op = *op;
      n.inputs = jn.at("inputs").get<std::vector<ValueId>>();
      n.outputs = jn.at("outputs").get<std::vector<ValueId>>();
      for (auto& [k, a] : jn.at("attrs").items()) n.attrs.set(k, attr_from_json(a, k));
      NodeId id = static_cast<NodeId>(out.nodes_.size());
      for (ValueId o : n.outputs) {
        if (o < 0 || static_cast<size_t>(o) >= out.values_.size()) fail(ErrorCode::kBadFormat, "graph JSON: node '{}' output {} does not exist", n.name, o);
        out.values_[static_cast<size_t>(o)].producer = id;
      }
      out.nodes_.push_back(std::move(n));
    }
    out.inputs_ = g.at("inputs").get<std::vector<ValueId>>();
    out.outputs_ = g.at("outputs").get<std::vector<ValueId>>();
    out.validate();
    return out;
  } catch (const json::exception& e) {
    fail(ErrorCode::kBadFormat, "graph JSON: {}", e.what());
  }
}

bool Graph::operator==(const Graph& o) const {
  if (values_.size() != o.values_.size() || nodes_.size() != o.nodes_.size() || inputs_ != o.inputs_ || outputs_ != o.outputs_) return false;
  for (size_t i = 0; i < values_.size(); ++i) {
    const Value& a = values_[i];
    const Value& b = o.values_[i];
    if (a.name != b.name || a.kind != b.kind || a.dtype != b.dtype || a.shape != b.shape || a.producer != b.producer ||
        (a.kind == ValueKind::kWeight && a.stored != b.stored)) {
      return false;
    }
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& a = nodes_[i];
    const Node& b = o.nodes_[i];
    if (a.name != b.name || a.op != b.op || a.inputs != b.inputs || a.outputs != b.outputs || !(a.attrs == b.attrs)) return false;
  }
  return true;
}

}  // namespace llmrt::core
