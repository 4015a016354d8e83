// Each fusion pass on its own: the primitive pattern is rewritten into its fused op, the
// rewritten graph validates, and the CPU plugin computes the same numbers from both graphs.
#include "core/passes.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "plugins/cpu/executor.h"
#include "runtime/abi_weights.h"
#include "store/tensor_set.h"

namespace llmrt::core {
namespace {

using llmrt::TensorSet;

Attributes attrs(std::initializer_list<std::pair<std::string, AttrValue>> kv) {
  Attributes a;
  for (auto& [k, v] : kv) a.set(k, v);
  return a;
}

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

int count_op(const Graph& g, OpType op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op == op;
  return n;
}

struct Input {
  std::vector<float> f32;
  std::vector<int32_t> i32;
  Shape shape;
};

// Runs g on the CPU plugin's executor and returns its first output.
std::vector<float> run(const Graph& g, const TensorSet& weights, const std::vector<Input>& inputs, int64_t n_tokens) {
  AbiWeights w = abi_weights(g, [&](std::string_view name) -> const Tensor& { return weights.at(name); });
  cpu::CompiledGraph compiled(Graph::deserialize(g.serialize()), w.entries.data(), static_cast<uint32_t>(w.entries.size()), 64);
  auto req = compiled.create_request();
  std::vector<llmrt_tensor> ins(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    bool ints = !in.i32.empty();
    ins[i].dtype = ints ? LLMRT_DTYPE_I32 : LLMRT_DTYPE_F32;
    ins[i].rank = static_cast<uint32_t>(in.shape.size());
    std::copy(in.shape.begin(), in.shape.end(), ins[i].shape);
    ins[i].data = ints ? static_cast<void*>(const_cast<int32_t*>(in.i32.data())) : const_cast<float*>(in.f32.data());
    ins[i].bytes = (ints ? in.i32.size() : in.f32.size()) * 4;
  }
  llmrt_tensor out{};
  req->execute(n_tokens, ins.data(), static_cast<uint32_t>(ins.size()), &out, 1);
  const float* p = static_cast<const float*>(out.data);
  return std::vector<float>(p, p + out.bytes / 4);
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], tol) << "element " << i;
}

TEST(Passes, FullyConnectedWithAndWithoutBias) {
  TensorSet w;
  w.add(make_f32_tensor("w1", {6, 8}, randn(48, 1)));
  w.add(make_f32_tensor("b1", {6}, randn(6, 2)));
  w.add(make_f32_tensor("w2", {5, 6}, randn(30, 3)));
  Graph g;
  ValueId x = g.add_input("x", DType::kF32, {kDynamic, 8});
  ValueId h = g.add_node(OpType::kMatMul, "h", {x, g.add_weight(w.at("w1"))}, attrs({{"transpose_b", int64_t{1}}}));
  h = g.add_node(OpType::kAdd, "h_bias", {h, g.add_weight(w.at("b1"))});
  ValueId y = g.add_node(OpType::kMatMul, "y", {h, g.add_weight(w.at("w2"))}, attrs({{"transpose_b", int64_t{1}}}));
  g.mark_output(y);
  std::vector<Input> in = {{randn(3 * 8, 4), {}, {3, 8}}};
  auto before = run(g, w, in, 3);
  EXPECT_EQ(fuse_fully_connected(g), 2);
  EXPECT_EQ(count_op(g, OpType::kFullyConnected), 2);
  EXPECT_EQ(count_op(g, OpType::kAdd), 0) << "the bias joined the FullyConnected";
  EXPECT_EQ(g.nodes()[0].inputs.size(), 3u);
  expect_close(run(g, w, in, 3), before, 1e-5);
  EXPECT_EQ(fuse_fully_connected(g), 0) << "a second run finds nothing";

  // Not fusable: a weight used as [K, N] (no transpose_b) is not FullyConnected's layout.
  Graph plain;
  TensorSet kn;
  kn.add(make_f32_tensor("kn", {8, 5}, randn(40, 13)));
  ValueId px = plain.add_input("x", DType::kF32, {3, 8});
  plain.mark_output(plain.add_node(OpType::kMatMul, "mm", {px, plain.add_weight(kn.at("kn"))}));
  EXPECT_EQ(fuse_fully_connected(plain), 0);
  EXPECT_EQ(plain.nodes()[0].op, OpType::kMatMul);
}

TEST(Passes, FullyConnectedLeavesSharedIntermediatesAlone) {
  TensorSet w;
  w.add(make_f32_tensor("w", {4, 4}, randn(16, 5)));
  w.add(make_f32_tensor("b", {4}, randn(4, 6)));
  Graph g;
  ValueId x = g.add_input("x", DType::kF32, {2, 4});
  ValueId m = g.add_node(OpType::kMatMul, "m", {x, g.add_weight(w.at("w"))}, attrs({{"transpose_b", int64_t{1}}}));
  ValueId a = g.add_node(OpType::kAdd, "a", {m, g.add_weight(w.at("b"))});
  g.mark_output(a);
  g.mark_output(m);  // the un-biased product is needed too: the Add must stay
  EXPECT_EQ(fuse_fully_connected(g), 1);
  EXPECT_EQ(count_op(g, OpType::kAdd), 1);
  EXPECT_EQ(g.nodes()[0].inputs.size(), 2u);
}

TEST(Passes, SwiGLUEitherOperandOrder) {
  Graph g;
  ValueId gate = g.add_input("gate", DType::kF32, {3, 6});
  ValueId up = g.add_input("up", DType::kF32, {3, 6});
  ValueId a = g.add_node(OpType::kMul, "a", {g.add_node(OpType::kSiLU, "s1", {gate}), up});
  ValueId b = g.add_node(OpType::kMul, "b", {up, g.add_node(OpType::kSiLU, "s2", {gate})});
  ValueId sum = g.add_node(OpType::kAdd, "sum", {a, b});
  g.mark_output(sum);
  std::vector<Input> in = {{randn(18, 7), {}, {3, 6}}, {randn(18, 8), {}, {3, 6}}};
  TensorSet none;
  auto before = run(g, none, in, 3);
  EXPECT_EQ(fuse_swiglu(g), 2);
  EXPECT_EQ(count_op(g, OpType::kSwiGLU), 2);
  EXPECT_EQ(count_op(g, OpType::kSiLU), 0);
  expect_close(run(g, none, in, 3), before, 1e-6);
}

// HF's rotate-half RoPE written out in primitive ops on x [T, H, hd].
TEST(Passes, RoPEFromPrimitiveRotateHalf) {
  const int64_t t = 5, heads = 2, hd = 8, max_pos = 16;
  TensorSet w;
  std::vector<float> cos_t(static_cast<size_t>(max_pos * hd)), sin_t(cos_t.size());
  for (int64_t p = 0; p < max_pos; ++p) {
    for (int64_t j = 0; j < hd; ++j) {
      double inv = std::pow(10000.0, -2.0 * static_cast<double>(j % (hd / 2)) / static_cast<double>(hd));
      cos_t[static_cast<size_t>(p * hd + j)] = static_cast<float>(std::cos(static_cast<double>(p) * inv));
      sin_t[static_cast<size_t>(p * hd + j)] = static_cast<float>(std::sin(static_cast<double>(p) * inv));
    }
  }
  w.add(make_f32_tensor("cos", {max_pos, hd}, cos_t));
  w.add(make_f32_tensor("sin", {max_pos, hd}, sin_t));
  Graph g;
  ValueId x = g.add_input("x", DType::kF32, {kDynamic, heads, hd});
  ValueId pos = g.add_input("pos", DType::kI32, {kDynamic});
  auto table = [&](const char* name) {
    ValueId rows = g.add_node(OpType::kGather, std::string(name) + "_rows", {g.add_weight(w.at(name)), pos});
    return g.add_node(OpType::kReshape, std::string(name) + "_b", {rows}, attrs({{"shape", std::vector<int64_t>{-1, 1, hd}}}));
  };
  ValueId c = table("cos"), s = table("sin");
  ValueId x1 = g.add_node(OpType::kSlice, "x1", {x}, attrs({{"axis", int64_t{2}}, {"begin", int64_t{0}}, {"end", hd / 2}}));
  ValueId x2 = g.add_node(OpType::kSlice, "x2", {x}, attrs({{"axis", int64_t{2}}, {"begin", hd / 2}, {"end", hd}}));
  ValueId rot = g.add_node(OpType::kConcat, "rot", {g.add_node(OpType::kNeg, "neg", {x2}), x1}, attrs({{"axis", int64_t{2}}}));
  ValueId y = g.add_node(OpType::kAdd, "rope", {g.add_node(OpType::kMul, "xc", {x, c}), g.add_node(OpType::kMul, "rs", {rot, s})});
  g.mark_output(y);
  std::vector<Input> in = {{randn(static_cast<size_t>(t * heads * hd), 9), {}, {t, heads, hd}}, {{}, {3, 4, 5, 6, 7}, {t}}};
  auto before = run(g, w, in, t);
  EXPECT_EQ(fuse_rope(g), 1);
  ASSERT_EQ(g.nodes().size(), 1u) << g.dump();
  EXPECT_EQ(g.nodes()[0].op, OpType::kRoPE);
  EXPECT_EQ(g.nodes()[0].attrs.s("mode"), "table");
  expect_close(run(g, w, in, t), before, 1e-5);

  // The same RoPE computed from theta (mode theta) agrees: the tables were made from it.
  Graph theta;
  ValueId tx = theta.add_input("x", DType::kF32, {kDynamic, heads, hd});
  ValueId tp = theta.add_input("pos", DType::kI32, {kDynamic});
  theta.mark_output(theta.add_node(OpType::kRoPE, "r", {tx, tp},
                                   attrs({{"heads", heads}, {"head_dim", hd}, {"theta", 10000.0}, {"style", std::string("rotate_half")}})));
  expect_close(run(theta, w, in, t), before, 1e-5);
}

TEST(Passes, SdpaFromPrimitiveAttention) {
  const int64_t heads = 3, t = 4, hd = 8;
  Graph g;
  ValueId q = g.add_input("q", DType::kF32, {heads, kDynamic, hd});
  ValueId k = g.add_input("k", DType::kF32, {heads, kDynamic, hd});
  ValueId v = g.add_input("v", DType::kF32, {heads, kDynamic, hd});
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  ValueId s = g.add_node(OpType::kMatMul, "qk", {q, k}, attrs({{"transpose_b", int64_t{1}}, {"alpha", scale}}));
  ValueId p = g.add_node(OpType::kSoftmax, "p", {g.add_node(OpType::kCausalMask, "mask", {s})});
  g.mark_output(g.add_node(OpType::kMatMul, "pv", {p, v}));
  std::vector<Input> in = {{randn(heads * t * hd, 10), {}, {heads, t, hd}},
                           {randn(heads * t * hd, 11), {}, {heads, t, hd}},
                           {randn(heads * t * hd, 12), {}, {heads, t, hd}}};
  TensorSet none;
  auto before = run(g, none, in, t);
  EXPECT_EQ(fuse_sdpa(g), 1);
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0].op, OpType::kSDPA);
  EXPECT_DOUBLE_EQ(g.nodes()[0].attrs.f("scale"), scale);
  expect_close(run(g, none, in, t), before, 1e-5);
}

TEST(Passes, SdpaNeedsTheCausalMask) {
  Graph g;
  ValueId q = g.add_input("q", DType::kF32, {2, 3, 4});
  ValueId s = g.add_node(OpType::kMatMul, "qk", {q, q}, attrs({{"transpose_b", int64_t{1}}}));
  g.mark_output(g.add_node(OpType::kMatMul, "pv", {g.add_node(OpType::kSoftmax, "p", {s}), q}));
  EXPECT_EQ(fuse_sdpa(g), 0) << "non-causal attention is not what SDPA computes";
  EXPECT_EQ(count_op(g, OpType::kMatMul), 2);
}

}  // namespace
}  // namespace llmrt::core
