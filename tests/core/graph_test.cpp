#include "core/graph.h"

#include <gtest/gtest.h>

#include "core/shape_inference.h"
#include "store/test_files.h"

namespace llmrt::core {
namespace {

using testing_util::fails_with;

Attributes attrs(std::initializer_list<std::pair<std::string, AttrValue>> kv) {
  Attributes a;
  for (auto& [k, v] : kv) a.set(k, v);
  return a;
}

// A small decoder block in primitive and fused ops, with a dynamic token dimension.
Graph block() {
  Graph g;
  ValueId ids = g.add_input("ids", DType::kI32, {kDynamic});
  ValueId pos = g.add_input("pos", DType::kI32, {kDynamic});
  ValueId x = g.add_node(OpType::kGather, "embed", {g.add_weight("emb", {10, 8}, StoredType::kF32), ids});
  ValueId n = g.add_node(OpType::kRMSNorm, "norm", {x, g.add_weight("nw", {8}, StoredType::kF32)}, attrs({{"eps", 1e-5}}));
  ValueId q = g.add_node(OpType::kFullyConnected, "q", {n, g.add_weight("wq", {8, 8}, StoredType::kInt4Sym)});
  q = g.add_node(OpType::kRoPE, "rope", {q, pos},
                 attrs({{"heads", int64_t{2}}, {"head_dim", int64_t{4}}, {"theta", 10000.0}, {"style", std::string("rotate_half")}}));
  ValueId a = g.add_node(OpType::kSDPA, "attn", {q, q, q},
                         attrs({{"heads", int64_t{2}}, {"kv_heads", int64_t{1}}, {"head_dim", int64_t{4}}, {"scale", 0.5},
                                {"cache_slot", int64_t{0}}}));
  ValueId y = g.add_node(OpType::kAdd, "res", {x, a});
  g.mark_output(y);
  return g;
}

TEST(Graph, InfersDynamicShapesAndValidates) {
  // SDPA reads q for k and v here only to keep the block small: widths must then agree.
  EXPECT_TRUE(fails_with([] { block(); }, ErrorCode::kInvalidArgument, {"'attn'", "k width"}));
  Graph g;
  ValueId ids = g.add_input("ids", DType::kI32, {kDynamic});
  ValueId x = g.add_node(OpType::kGather, "embed", {g.add_weight("emb", {10, 8}, StoredType::kF32), ids});
  EXPECT_EQ(g.value(x).shape, (Shape{kDynamic, 8}));
  ValueId y = g.add_node(OpType::kFullyConnected, "fc", {x, g.add_weight("w", {6, 8}, StoredType::kQ4_K)});
  EXPECT_EQ(g.value(y).shape, (Shape{kDynamic, 6}));
  ValueId r = g.add_node(OpType::kReshape, "r", {y}, attrs({{"shape", std::vector<int64_t>{-1, 2, 3}}}));
  EXPECT_EQ(g.value(r).shape, (Shape{kDynamic, 2, 3}));
  ValueId t = g.add_node(OpType::kTranspose, "t", {r}, attrs({{"perm", std::vector<int64_t>{1, 0, 2}}}));
  EXPECT_EQ(g.value(t).shape, (Shape{2, kDynamic, 3}));
  ValueId s = g.add_node(OpType::kSlice, "s", {t}, attrs({{"axis", int64_t{2}}, {"begin", int64_t{1}}, {"end", int64_t{3}}}));
  EXPECT_EQ(g.value(s).shape, (Shape{2, kDynamic, 2}));
  ValueId c = g.add_node(OpType::kConcat, "c", {s, s}, attrs({{"axis", int64_t{2}}}));
  EXPECT_EQ(g.value(c).shape, (Shape{2, kDynamic, 4}));
  ValueId m = g.add_node(OpType::kMul, "m", {c, g.add_weight("scale", {1, 1, 4}, StoredType::kF32)});
  EXPECT_EQ(g.value(m).shape, (Shape{2, kDynamic, 4}));
  g.mark_output(m);
  EXPECT_NO_THROW(g.validate());
}

TEST(Graph, ShapeErrorsNameTheNodeAndTheShapes) {
  Graph g;
  ValueId x = g.add_input("x", DType::kF32, {3, 8});
  ValueId w = g.add_weight("w", {4, 7}, StoredType::kF32);
  EXPECT_TRUE(fails_with([&] { g.add_node(OpType::kFullyConnected, "proj", {x, w}); }, ErrorCode::kInvalidArgument,
                         {"'proj'", "FullyConnected", "8", "7"}));
  EXPECT_TRUE(fails_with([&] { g.add_node(OpType::kAdd, "add", {x, g.add_input("y", DType::kF32, {5})}); },
                         ErrorCode::kInvalidArgument, {"'add'", "[3, 8]", "[5]"}));
  EXPECT_TRUE(fails_with([&] { g.add_node(OpType::kReshape, "r", {x}, attrs({{"shape", std::vector<int64_t>{5, -1}}})); },
                         ErrorCode::kInvalidArgument, {"cannot reshape"}));
  EXPECT_TRUE(fails_with([&] { g.add_node(OpType::kGather, "g", {x, x}); }, ErrorCode::kInvalidArgument, {"must be a weight"}));
  EXPECT_TRUE(fails_with([&] { g.add_node(OpType::kSiLU, "s", {x}, {}); g.add_node(OpType::kNeg, "n", {x, x}); },
                         ErrorCode::kInvalidArgument, {"takes 1 inputs"}));
  EXPECT_TRUE(fails_with([&] { g.add_node(OpType::kRMSNorm, "norm", {x, g.add_weight("nw", {8}, StoredType::kF32)}); },
                         ErrorCode::kInvalidArgument, {"attribute 'eps' is missing"}));
  EXPECT_TRUE(fails_with([&] { g.add_node(OpType::kAdd, "bad", {x, 42}); }, ErrorCode::kInvalidArgument, {"42"}));
}

TEST(Graph, ValidateCatchesBrokenGraphs) {
  Graph g;
  ValueId x = g.add_input("x", DType::kF32, {2, 4});
  ValueId y = g.add_node(OpType::kSiLU, "act", {x});
  EXPECT_TRUE(fails_with([&] { g.validate(); }, ErrorCode::kBadFormat, {"no outputs"}));
  g.mark_output(y);
  g.validate();
  // A node reading a value computed after it.
  g.add_node(OpType::kNeg, "neg", {x});
  g.mutable_nodes()[0].inputs[0] = g.nodes()[1].outputs[0];
  EXPECT_TRUE(fails_with([&] { g.validate(); }, ErrorCode::kBadFormat, {"'act'", "before it is computed"}));
}

TEST(Graph, SerialisationRoundTrips) {
  Graph g;
  ValueId ids = g.add_input("ids", DType::kI32, {kDynamic});
  ValueId x = g.add_node(OpType::kGather, "embed", {g.add_weight("emb", {10, 8}, StoredType::kQ8_0), ids});
  ValueId y = g.add_node(OpType::kRoPE, "rope", {x, ids},
                         attrs({{"heads", int64_t{2}}, {"head_dim", int64_t{4}}, {"theta", 500000.0}, {"style", std::string("adjacent")},
                                {"attention_factor", 1.25}}));
  ValueId z = g.add_node(OpType::kMatMul, "mm", {y, g.add_weight("w", {3, 8}, StoredType::kMxfp4)},
                         attrs({{"transpose_b", int64_t{1}}, {"alpha", 0.5}}));
  g.mark_output(z);
  std::string text = g.serialize();
  Graph back = Graph::deserialize(text);
  EXPECT_TRUE(back == g);
  EXPECT_EQ(back.serialize(), text);
  EXPECT_EQ(back.value(*back.find_value("w")).stored, StoredType::kMxfp4);
  std::string dump = g.dump();
  EXPECT_NE(dump.find("%mm [-1, 3] = MatMul(%rope, @w:mxfp4) {alpha=0.5, transpose_b=1}"), std::string::npos) << dump;
  EXPECT_NE(dump.find("input  %ids i32 [-1]"), std::string::npos) << dump;
}

TEST(Graph, DeserialiseRejectsHostileJson) {
  Graph g;
  ValueId x = g.add_input("x", DType::kF32, {2});
  g.mark_output(g.add_node(OpType::kSiLU, "s", {x}));
  std::string good = g.serialize();
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  EXPECT_TRUE(fails_with([&] { Graph::deserialize("{"); }, ErrorCode::kBadFormat, {"does not parse"}));
  EXPECT_TRUE(fails_with([&] { Graph::deserialize("[]"); }, ErrorCode::kBadFormat, {"format"}));
  EXPECT_TRUE(fails_with([&] { Graph::deserialize(with("\"SiLU\"", "\"Mamba\"")); }, ErrorCode::kUnsupported, {"Mamba"}));
  EXPECT_TRUE(fails_with([&] { Graph::deserialize(with("\"version\":1", "\"version\":7")); }, ErrorCode::kVersionMismatch, {"7"}));
  EXPECT_TRUE(fails_with([&] { Graph::deserialize(with("\"inputs\":[0]", "\"inputs\":[99]")); }, ErrorCode::kBadFormat, {"99"}));
  EXPECT_TRUE(fails_with([&] { Graph::deserialize(with("\"shape\":[2]", "\"shape\":[3]")); }, ErrorCode::kBadFormat, {"infers to"}));
  EXPECT_TRUE(fails_with([&] { Graph::deserialize(with("\"dtype\":\"f32\"", "\"dtype\":\"q7\"")); }, ErrorCode::kBadFormat, {"q7"}));
}

TEST(Graph, ReplaceUsesAndCompact) {
  Graph g;
  ValueId x = g.add_input("x", DType::kF32, {4});
  ValueId a = g.add_node(OpType::kNeg, "a", {x});
  ValueId b = g.add_node(OpType::kNeg, "b", {a});
  ValueId c = g.add_node(OpType::kSiLU, "c", {b});
  g.mark_output(c);
  // Drop the double negation.
  g.replace_uses(b, x);
  g.mutable_nodes()[0].removed = true;
  g.mutable_nodes()[1].removed = true;
  g.compact();
  g.validate();
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0].name, "c");
  EXPECT_EQ(g.value(g.nodes()[0].inputs[0]).name, "x");
  EXPECT_EQ(g.values().size(), 2u);
}

}  // namespace
}  // namespace llmrt::core
