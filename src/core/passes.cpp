#include "core/passes.h"

#include <algorithm>

#include "util/log.h"

namespace llmrt::core {
namespace {

// The live node producing v with op `op`, or nullptr.
Node* producer(Graph& g, ValueId v, OpType op) {
  const Value& val = g.value(v);
  if (val.kind != ValueKind::kNodeOutput) return nullptr;
  Node& n = g.mutable_nodes()[static_cast<size_t>(val.producer)];
  return (!n.removed && n.op == op) ? &n : nullptr;
}

bool is_graph_output(const Graph& g, ValueId v) {
  return std::find(g.outputs().begin(), g.outputs().end(), v) != g.outputs().end();
}

// v is read by exactly one live node and is not a graph output: a pattern may swallow it.
bool private_value(const Graph& g, ValueId v) { return g.consumers(v).size() == 1 && !is_graph_output(g, v); }

bool is_weight(const Graph& g, ValueId v) { return g.value(v).kind == ValueKind::kWeight; }

void finish(Graph& g, int count, const char* pass) {
  if (count == 0) return;
  g.compact();
  g.validate();
  log::debug("pass {}: {} rewrites", pass, count);
}

}  // namespace

int fuse_fully_connected(Graph& g) {
  int count = 0;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    Node& mm = g.mutable_nodes()[i];
    if (mm.removed || mm.op != OpType::kMatMul) continue;
    if (mm.attrs.i("transpose_b", 0) == 0 || mm.attrs.f("alpha", 1.0) != 1.0) continue;
    ValueId w = mm.inputs[1];
    if (!is_weight(g, w) || g.value(w).shape.size() != 2) continue;
    const int64_t n_out = g.value(w).shape[0];
    ValueId out = mm.outputs[0];
    std::vector<ValueId> inputs = {mm.inputs[0], w};
    // An Add of a 1-D bias weight right after it joins the FullyConnected.
    if (private_value(g, out)) {
      Node& add = g.mutable_nodes()[static_cast<size_t>(g.consumers(out)[0])];
      if (add.op == OpType::kAdd) {
        ValueId other = add.inputs[0] == out ? add.inputs[1] : add.inputs[0];
        if (is_weight(g, other) && g.value(other).shape == Shape{n_out}) {
          inputs.push_back(other);
          add.removed = true;
          g.replace_uses(add.outputs[0], out);
        }
      }
    }
    mm.op = OpType::kFullyConnected;
    mm.inputs = inputs;
    mm.attrs = {};
    ++count;
  }
  finish(g, count, "fuse_fully_connected");
  return count;
}

int fuse_swiglu(Graph& g) {
  int count = 0;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    Node& mul = g.mutable_nodes()[i];
    if (mul.removed || mul.op != OpType::kMul) continue;
    for (int side = 0; side < 2; ++side) {
      ValueId gate = mul.inputs[static_cast<size_t>(side)];
      ValueId up = mul.inputs[static_cast<size_t>(1 - side)];
      Node* silu = producer(g, gate, OpType::kSiLU);
      if (!silu || !private_value(g, gate)) continue;
      if (g.value(silu->inputs[0]).shape != g.value(up).shape) continue;  // SwiGLU does not broadcast
      mul.op = OpType::kSwiGLU;
      mul.inputs = {silu->inputs[0], up};
      silu->removed = true;
      ++count;
      break;
    }
  }
  finish(g, count, "fuse_swiglu");
  return count;
}

namespace {

// cos or sin = Reshape(Gather(table, positions), [T, 1, hd]); returns the table and positions.
bool match_table(Graph& g, ValueId v, int64_t hd, ValueId* table, ValueId* positions, std::vector<Node*>* used) {
  Node* reshape = producer(g, v, OpType::kReshape);
  if (!reshape || !private_value(g, v)) return false;
  const Shape& s = g.value(v).shape;
  if (s.size() != 3 || s[1] != 1 || s[2] != hd) return false;
  ValueId gathered = reshape->inputs[0];
  Node* gather = producer(g, gathered, OpType::kGather);
  if (!gather || !private_value(g, gathered)) return false;
  if (g.value(gather->inputs[0]).shape.size() != 2 || g.value(gather->inputs[0]).shape[1] != hd) return false;
  *table = gather->inputs[0];
  *positions = gather->inputs[1];
  used->push_back(reshape);
  used->push_back(gather);
  return true;
}

// rotate_half(x) = Concat(Neg(Slice(x, hd/2..hd)), Slice(x, 0..hd/2)) along axis 2.
bool match_rotate_half(Graph& g, ValueId v, ValueId x, int64_t hd, std::vector<Node*>* used) {
  Node* concat = producer(g, v, OpType::kConcat);
  if (!concat || !private_value(g, v) || concat->inputs.size() != 2 || concat->attrs.i("axis") != 2) return false;
  Node* neg = producer(g, concat->inputs[0], OpType::kNeg);
  if (!neg || !private_value(g, concat->inputs[0])) return false;
  Node* hi = producer(g, neg->inputs[0], OpType::kSlice);
  Node* lo = producer(g, concat->inputs[1], OpType::kSlice);
  if (!hi || !lo || !private_value(g, neg->inputs[0]) || !private_value(g, concat->inputs[1])) return false;
  auto is_slice = [&](Node* s, int64_t b, int64_t e) {
    return s->inputs[0] == x && s->attrs.i("axis") == 2 && s->attrs.i("begin") == b && s->attrs.i("end") == e;
  };
  if (!is_slice(hi, hd / 2, hd) || !is_slice(lo, 0, hd / 2)) return false;
  used->insert(used->end(), {concat, neg, hi, lo});
  return true;
}

}  // namespace

int fuse_rope(Graph& g) {
  int count = 0;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    Node& add = g.mutable_nodes()[i];
    if (add.removed || add.op != OpType::kAdd) continue;
    for (int side = 0; side < 2; ++side) {
      ValueId cos_term = add.inputs[static_cast<size_t>(side)], sin_term = add.inputs[static_cast<size_t>(1 - side)];
      Node* mul_cos = producer(g, cos_term, OpType::kMul);
      Node* mul_sin = producer(g, sin_term, OpType::kMul);
      if (!mul_cos || !mul_sin || !private_value(g, cos_term) || !private_value(g, sin_term)) continue;
      bool matched = false;
      for (int a = 0; a < 2 && !matched; ++a) {
        ValueId x = mul_cos->inputs[static_cast<size_t>(a)], cos_v = mul_cos->inputs[static_cast<size_t>(1 - a)];
        const Shape& xs = g.value(x).shape;
        if (xs.size() != 3 || xs[1] == kDynamic || xs[2] == kDynamic || xs[2] % 2 != 0) continue;
        if (g.value(add.outputs[0]).shape != xs) continue;
        const int64_t hd = xs[2];
        for (int b = 0; b < 2 && !matched; ++b) {
          ValueId rot = mul_sin->inputs[static_cast<size_t>(b)], sin_v = mul_sin->inputs[static_cast<size_t>(1 - b)];
          std::vector<Node*> used;
          ValueId cos_table, sin_table, pos_c, pos_s;
          if (!match_rotate_half(g, rot, x, hd, &used) || !match_table(g, cos_v, hd, &cos_table, &pos_c, &used) ||
              !match_table(g, sin_v, hd, &sin_table, &pos_s, &used) || pos_c != pos_s) {
            continue;
          }
          for (Node* n : used) n->removed = true;
          mul_cos->removed = true;
          mul_sin->removed = true;
          add.op = OpType::kRoPE;
          add.inputs = {x, pos_c, cos_table, sin_table};
          add.attrs = {};
          add.attrs.set("mode", std::string("table"));
          add.attrs.set("heads", xs[1]);
          add.attrs.set("head_dim", hd);
          add.attrs.set("style", std::string("rotate_half"));
          matched = true;
        }
      }
      if (matched) {
        ++count;
        break;
      }
    }
  }
  finish(g, count, "fuse_rope");
  return count;
}

int fuse_sdpa(Graph& g) {
  int count = 0;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    Node& pv = g.mutable_nodes()[i];
    if (pv.removed || pv.op != OpType::kMatMul || pv.attrs.i("transpose_b", 0) != 0 || pv.attrs.f("alpha", 1.0) != 1.0) continue;
    ValueId probs = pv.inputs[0], v = pv.inputs[1];
    Node* softmax = producer(g, probs, OpType::kSoftmax);
    if (!softmax || !private_value(g, probs)) continue;
    Node* mask = producer(g, softmax->inputs[0], OpType::kCausalMask);
    if (!mask || !private_value(g, softmax->inputs[0])) continue;
    Node* qk = producer(g, mask->inputs[0], OpType::kMatMul);
    if (!qk || !private_value(g, mask->inputs[0]) || qk->attrs.i("transpose_b", 0) == 0) continue;
    ValueId q = qk->inputs[0], k = qk->inputs[1];
    const Shape &qs = g.value(q).shape, &ks = g.value(k).shape, &vs = g.value(v).shape;
    if (qs.size() != 3 || ks.size() != 3 || vs.size() != 3 || qs[0] == kDynamic || qs[2] == kDynamic) continue;
    if (ks[0] != qs[0] || vs[0] != qs[0] || ks[2] != qs[2] || vs[2] != qs[2]) continue;
    double scale = qk->attrs.f("alpha", 1.0);
    if (!(scale > 0)) continue;
    qk->removed = mask->removed = softmax->removed = true;
    pv.op = OpType::kSDPA;
    pv.inputs = {q, k, v};
    pv.attrs = {};
    pv.attrs.set("heads", qs[0]);
    pv.attrs.set("kv_heads", qs[0]);
    pv.attrs.set("head_dim", qs[2]);
    pv.attrs.set("scale", scale);
    pv.attrs.set("layout", std::string("heads"));
    pv.attrs.set("cache_slot", int64_t{-1});
    ++count;
  }
  finish(g, count, "fuse_sdpa");
  return count;
}

PassCounts run_fusion_passes(Graph& g) {
  PassCounts c;
  c.rope = fuse_rope(g);
  c.sdpa = fuse_sdpa(g);
  c.fully_connected = fuse_fully_connected(g);
  c.swiglu = fuse_swiglu(g);
  return c;
}

}  // namespace llmrt::core
