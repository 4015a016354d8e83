#include "core/shape_inference.h"

#include <algorithm>
#include <numeric>

#include "util/error.h"

namespace llmrt::core {
namespace {

struct Ctx {
  const Graph& g;
  OpType op;
  const std::vector<ValueId>& in;
  const Attributes& attrs;
  std::string_view node;

  template <class... A>
  [[noreturn]] void bad(fmt::format_string<A...> f, A&&... args) const {
    fail(ErrorCode::kInvalidArgument, "node '{}' ({}): {}", node, to_string(op), fmt::format(f, std::forward<A>(args)...));
  }
  const Value& v(size_t i) const { return g.value(in[i]); }
  const Shape& s(size_t i) const { return v(i).shape; }
  void count(size_t lo, size_t hi) const {
    if (in.size() < lo || in.size() > hi) {
      if (lo == hi) bad("takes {} inputs, got {}", lo, in.size());
      bad("takes {} to {} inputs, got {}", lo, hi, in.size());
    }
  }
  void rank_at_least(size_t i, size_t r) const {
    if (s(i).size() < r) bad("input {} ('{}') has rank {}, needs at least {}", i, v(i).name, s(i).size(), r);
  }
  void dtype(size_t i, DType want) const {
    if (v(i).dtype != want) bad("input {} ('{}') is {}, expected {}", i, v(i).name, to_string(v(i).dtype), to_string(want));
  }
  void weight(size_t i) const {
    if (v(i).kind != ValueKind::kWeight) bad("input {} ('{}') must be a weight", i, v(i).name);
  }
  // Two dims that must agree; -1 matches anything. Returns the merged dim.
  int64_t same(int64_t a, int64_t b, std::string_view what) const {
    if (a != kDynamic && b != kDynamic && a != b) bad("{}: {} vs {}", what, a, b);
    return a == kDynamic ? b : a;
  }
};

int64_t positive_attr(const Ctx& c, std::string_view key) {
  int64_t v = c.attrs.i(key);
  if (v <= 0) c.bad("attribute {} must be positive, is {}", key, v);
  return v;
}

// NumPy broadcasting: shapes aligned at the last dimension; a dimension of 1 stretches.
Shape broadcast(const Ctx& c) {
  const Shape& a = c.s(0);
  const Shape& b = c.s(1);
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t k = 0; k < out.size(); ++k) {
    int64_t da = k < a.size() ? a[a.size() - 1 - k] : 1;
    int64_t db = k < b.size() ? b[b.size() - 1 - k] : 1;
    int64_t& d = out[out.size() - 1 - k];
    if (da == 1) d = db;
    else if (db == 1) d = da;
    else d = c.same(da, db, fmt::format("broadcasting {} with {}", shape_to_string(a), shape_to_string(b)));
  }
  return out;
}

}  // namespace

std::vector<ValueType> infer_outputs(const Graph& g, OpType op, const std::vector<ValueId>& inputs,
                                     const Attributes& attrs, std::string_view node_name) {
  for (ValueId id : inputs) {
    if (id < 0 || static_cast<size_t>(id) >= g.values().size()) {
      fail(ErrorCode::kInvalidArgument, "node '{}' ({}): input value id {} does not exist", node_name, to_string(op), id);
    }
  }
  Ctx c{g, op, inputs, attrs, node_name};
  switch (op) {
    case OpType::kGather: {
      c.count(2, 2);
      c.weight(0);
      if (c.s(0).size() != 2) c.bad("table must be [rows, cols], is {}", shape_to_string(c.s(0)));
      c.dtype(1, DType::kI32);
      Shape out = c.s(1);
      out.push_back(c.s(0)[1]);
      return {{DType::kF32, out}};
    }
    case OpType::kMatMul: {
      c.count(2, 2);
      c.rank_at_least(0, 2);
      c.rank_at_least(1, 2);
      const Shape& a = c.s(0);
      const Shape& b = c.s(1);
      bool tb = c.attrs.i("transpose_b", 0) != 0;
      int64_t k_b = tb ? b[b.size() - 1] : b[b.size() - 2];
      int64_t n = tb ? b[b.size() - 2] : b[b.size() - 1];
      c.same(a.back(), k_b, "inner dimensions");
      Shape out = a;
      out.back() = n;
      if (b.size() > 2) {
        if (b.size() != a.size()) c.bad("batched operands need equal rank, got {} and {}", a.size(), b.size());
        for (size_t i = 0; i + 2 < a.size(); ++i) out[i] = c.same(a[i], b[i], "batch dimensions");
      }
      return {{DType::kF32, out}};
    }
    case OpType::kAdd:
    case OpType::kMul:
      c.count(2, 2);
      c.dtype(0, DType::kF32);
      c.dtype(1, DType::kF32);
      return {{DType::kF32, broadcast(c)}};
    case OpType::kNeg:
    case OpType::kSiLU:
    case OpType::kSoftmax:
      c.count(1, 1);
      c.dtype(0, DType::kF32);
      return {{DType::kF32, c.s(0)}};
    case OpType::kCausalMask:
      c.count(1, 1);
      c.rank_at_least(0, 2);
      return {{DType::kF32, c.s(0)}};
    case OpType::kGatherRows: {
      c.count(2, 2);
      c.dtype(0, DType::kF32);
      c.dtype(1, DType::kI32);
      if (c.s(0).size() != 2) c.bad("x must be [rows, cols], is {}", shape_to_string(c.s(0)));
      if (c.s(1).size() != 1) c.bad("rows must be 1-D, is {}", shape_to_string(c.s(1)));
      return {{DType::kF32, {c.s(1)[0], c.s(0)[1]}}};
    }
    case OpType::kRMSNorm: {
      c.count(2, 2);
      c.rank_at_least(0, 1);
      if (c.s(1).size() != 1) c.bad("weight must be 1-D, is {}", shape_to_string(c.s(1)));
      c.same(c.s(0).back(), c.s(1)[0], "normalised dimension");
      if (!(c.attrs.f("eps") > 0)) c.bad("attribute eps must be positive");
      return {{DType::kF32, c.s(0)}};
    }
    case OpType::kReshape: {
      c.count(1, 1);
      const Shape& src = c.s(0);
      Shape out = c.attrs.ints("shape");
      int unknown = -1;
      for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == 0) {
          if (i >= src.size()) c.bad("shape entry {} is 0 but the input has rank {}", i, src.size());
          out[i] = src[i];
        } else if (out[i] == -1) {
          if (unknown >= 0) c.bad("shape {} has more than one -1", shape_to_string(c.attrs.ints("shape")));
          unknown = static_cast<int>(i);
        } else if (out[i] < 0) {
          c.bad("shape entry {} is negative", out[i]);
        }
      }
      bool src_known = std::none_of(src.begin(), src.end(), [](int64_t d) { return d == kDynamic; });
      bool out_known = std::none_of(out.begin(), out.end(), [](int64_t d) { return d == kDynamic; });
      if (src_known) {
        int64_t n = checked_numel(src, c.node);
        int64_t rest = 1;
        for (int64_t d : out) rest *= d == kDynamic ? 1 : d;
        if (unknown >= 0) {
          if (rest == 0 || n % rest != 0) c.bad("cannot reshape {} into {}", shape_to_string(src), shape_to_string(out));
          out[static_cast<size_t>(unknown)] = n / rest;
        } else if (rest != n) {
          c.bad("cannot reshape {} ({} elements) into {}", shape_to_string(src), n, shape_to_string(out));
        }
      } else if (out_known) {
        c.bad("a dynamic input {} cannot become the static shape {}", shape_to_string(src), shape_to_string(out));
      }
      return {{c.v(0).dtype, out}};
    }
    case OpType::kTranspose: {
      c.count(1, 1);
      const auto& perm = c.attrs.ints("perm");
      const Shape& src = c.s(0);
      if (perm.size() != src.size()) c.bad("perm has {} entries for rank {}", perm.size(), src.size());
      std::vector<int64_t> sorted = perm;
      std::sort(sorted.begin(), sorted.end());
      for (size_t i = 0; i < sorted.size(); ++i) {
        if (sorted[i] != static_cast<int64_t>(i)) c.bad("perm {} is not a permutation", shape_to_string(perm));
      }
      Shape out(src.size());
      for (size_t i = 0; i < perm.size(); ++i) out[i] = src[static_cast<size_t>(perm[i])];
      return {{c.v(0).dtype, out}};
    }
    case OpType::kConcat: {
      c.count(1, 64);
      int64_t axis = c.attrs.i("axis");
      Shape out = c.s(0);
      if (axis < 0 || axis >= static_cast<int64_t>(out.size())) c.bad("axis {} out of range for rank {}", axis, out.size());
      for (size_t i = 1; i < inputs.size(); ++i) {
        if (c.s(i).size() != out.size()) c.bad("input {} has rank {}, expected {}", i, c.s(i).size(), out.size());
        for (size_t d = 0; d < out.size(); ++d) {
          if (static_cast<int64_t>(d) == axis) {
            out[d] = (out[d] == kDynamic || c.s(i)[d] == kDynamic) ? kDynamic : out[d] + c.s(i)[d];
          } else {
            out[d] = c.same(out[d], c.s(i)[d], fmt::format("dimension {} of input {}", d, i));
          }
        }
      }
      return {{c.v(0).dtype, out}};
    }
    case OpType::kSlice: {
      c.count(1, 1);
      Shape out = c.s(0);
      const int64_t axis = c.attrs.i("axis");
      if (axis < 0 || axis >= static_cast<int64_t>(out.size())) c.bad("axis {} out of range for rank {}", axis, out.size());
      if (c.attrs.has("last")) {
        const int64_t last = c.attrs.i("last");
        int64_t& d = out[static_cast<size_t>(axis)];
        if (last < 1 || (d != kDynamic && last > d)) c.bad("the last {} elements of a dimension of {}", last, d);
        d = last;
        return {{c.v(0).dtype, out}};
      }
      int64_t begin = c.attrs.i("begin"), end = c.attrs.i("end");
      if (begin < 0 || end < begin) c.bad("slice [{}, {}) is not a forward range", begin, end);
      int64_t& d = out[static_cast<size_t>(axis)];
      if (d != kDynamic) {
        if (end > d) c.bad("slice [{}, {}) exceeds dimension {}", begin, end, d);
      }
      d = end - begin;
      return {{c.v(0).dtype, out}};
    }
    case OpType::kFullyConnected: {
      c.count(2, 3);
      c.dtype(0, DType::kF32);
      c.rank_at_least(0, 1);
      c.weight(1);
      if (c.s(1).size() != 2) c.bad("weight must be [out, in], is {}", shape_to_string(c.s(1)));
      c.same(c.s(0).back(), c.s(1)[1], fmt::format("input features of {} vs weight {}", shape_to_string(c.s(0)), shape_to_string(c.s(1))));
      if (inputs.size() == 3) {
        if (c.s(2).size() != 1) c.bad("bias must be 1-D, is {}", shape_to_string(c.s(2)));
        c.same(c.s(2)[0], c.s(1)[0], "bias length vs output features");
      }
      Shape out = c.s(0);
      out.back() = c.s(1)[0];
      return {{DType::kF32, out}};
    }
    case OpType::kRoPE: {
      c.count(2, 4);
      c.dtype(0, DType::kF32);
      c.dtype(1, DType::kI32);
      int64_t heads = positive_attr(c, "heads"), hd = positive_attr(c, "head_dim");
      int64_t rot = c.attrs.i("rotary_dim", hd);
      if (rot <= 0 || rot > hd || rot % 2 != 0) c.bad("rotary_dim {} must be even and in (0, head_dim {}]", rot, hd);
      const std::string& style = c.attrs.s("style");
      if (style != "rotate_half" && style != "adjacent") c.bad("style '{}' is not rotate_half or adjacent", style);
      const Shape& x = c.s(0);
      if (x.size() == 2) {
        c.same(x[1], heads * hd, "x width vs heads*head_dim");
      } else if (x.size() == 3) {
        c.same(x[1], heads, "x heads");
        c.same(x[2], hd, "x head_dim");
      } else {
        c.bad("x must be [tokens, heads*head_dim] or [tokens, heads, head_dim], is {}", shape_to_string(x));
      }
      if (c.s(1).size() != 1) c.bad("positions must be 1-D");
      c.same(x[0], c.s(1)[0], "tokens in x vs positions");
      const std::string mode = c.attrs.has("mode") ? c.attrs.s("mode") : "theta";
      if (mode == "table") {
        if (style != "rotate_half") c.bad("table mode computes rotate_half only, not style '{}'", style);
        // cos and sin tables [max_positions, rotary_dim], gathered by position.
        if (c.in.size() != 4) c.bad("table mode takes x, positions, cos table and sin table");
        for (size_t i = 2; i < 4; ++i) {
          c.weight(i);
          if (c.s(i).size() != 2 || c.s(i)[1] != rot) c.bad("table {} must be [positions, {}], is {}", i, rot, shape_to_string(c.s(i)));
        }
      } else if (mode == "theta") {
        if (!(c.attrs.f("theta") > 0)) c.bad("attribute theta must be positive");
        for (size_t i = 2; i < c.in.size(); ++i) {
          c.weight(i);
          if (c.s(i).size() != 1 || c.s(i)[0] != rot / 2) c.bad("frequency factors must be [{}], got {}", rot / 2, shape_to_string(c.s(i)));
        }
        if (c.in.size() == 4 && c.attrs.i("original_max_positions", 0) <= 0) c.bad("long_factors need attribute original_max_positions");
      } else {
        c.bad("mode '{}' is not theta or table", mode);
      }
      return {{DType::kF32, x}};
    }
    case OpType::kSDPA: {
      c.count(3, 3);
      int64_t heads = positive_attr(c, "heads"), kv = positive_attr(c, "kv_heads"), hd = positive_attr(c, "head_dim");
      if (heads % kv != 0) c.bad("heads {} is not a multiple of kv_heads {}", heads, kv);
      if (!(c.attrs.f("scale") > 0)) c.bad("attribute scale must be positive");
      if (c.attrs.i("sliding_window", 0) < 0) c.bad("attribute sliding_window must not be negative");
      for (size_t i = 0; i < 3; ++i) c.dtype(i, DType::kF32);
      const std::string layout = c.attrs.has("layout") ? c.attrs.s("layout") : "tokens";
      if (layout == "tokens") {  // [T, heads*hd]
        for (size_t i = 0; i < 3; ++i) {
          if (c.s(i).size() != 2) c.bad("input {} must be [tokens, width], is {}", i, shape_to_string(c.s(i)));
        }
        c.same(c.s(0)[1], heads * hd, "q width vs heads*head_dim");
        c.same(c.s(1)[1], kv * hd, "k width vs kv_heads*head_dim");
        c.same(c.s(2)[1], kv * hd, "v width vs kv_heads*head_dim");
        int64_t t = c.same(c.s(0)[0], c.s(1)[0], "tokens in q vs k");
        c.same(t, c.s(2)[0], "tokens in k vs v");
      } else if (layout == "heads") {  // [heads, T, hd], no cache
        if (c.attrs.i("cache_slot", -1) >= 0) c.bad("layout heads cannot use a KV cache");
        for (size_t i = 0; i < 3; ++i) {
          if (c.s(i).size() != 3) c.bad("input {} must be [heads, tokens, head_dim], is {}", i, shape_to_string(c.s(i)));
          c.same(c.s(i)[2], hd, "head_dim");
        }
        c.same(c.s(0)[0], heads, "q heads");
        c.same(c.s(1)[0], kv, "k heads");
        c.same(c.s(2)[0], kv, "v heads");
        int64_t t = c.same(c.s(0)[1], c.s(1)[1], "tokens in q vs k");
        c.same(t, c.s(2)[1], "tokens in k vs v");
      } else {
        c.bad("layout '{}' is not tokens or heads", layout);
      }
      return {{DType::kF32, c.s(0)}};
    }
    case OpType::kSwiGLU: {
      c.count(2, 2);
      c.dtype(0, DType::kF32);
      c.dtype(1, DType::kF32);
      if (c.s(0).size() != c.s(1).size()) c.bad("gate {} and up {} differ", shape_to_string(c.s(0)), shape_to_string(c.s(1)));
      Shape out = c.s(0);
      for (size_t i = 0; i < out.size(); ++i) out[i] = c.same(out[i], c.s(1)[i], "gate vs up");
      return {{DType::kF32, out}};
    }
  }
  c.bad("unknown op");
}

}  // namespace llmrt::core
