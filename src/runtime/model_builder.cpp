#include "runtime/model_builder.h"

#include <cmath>
#include <cstring>

#include "core/passes.h"
#include "store/container.h"
#include "store/gguf.h"
#include "store/safetensors.h"
#include "util/error.h"
#include "util/log.h"
#include "util/mapped_file.h"

namespace llmrt {

using core::Attributes;
using core::DType;
using core::Graph;
using core::OpType;
using core::ValueId;

const Tensor& LoadedModel::weight(std::string_view name) const {
  if (const Tensor* t = extra.find(name)) return *t;
  return tensors.at(name);
}

std::shared_ptr<const LoadedModel> load_model(const std::filesystem::path& path) {
  auto m = std::make_shared<LoadedModel>();
  if (container::is_container(path)) {
    container::File f = container::File::read(path);
    const std::filesystem::path dir = container::container_dir(path);
    m->tensors = std::move(f.tensors);
    if (f.source_format == "gguf") {
      m->config = config_from_gguf(gguf::File::read(dir / container::kGgufMetadataFile), m->tensors);
    } else {
      m->config = config_from_hf(dir);
    }
    m->config.source = dir.string();
    m->config.container = true;
  } else if (std::filesystem::is_directory(path)) {
    if (!std::filesystem::exists(path / "config.json")) {
      fail(ErrorCode::kNotFound, "'{}' is a folder without config.json (not a Hugging Face model folder)", path.string());
    }
    m->config = config_from_hf(path);
    m->tensors = safetensors::read_model(path).tensors;
  } else {
    auto map = MappedFile::open(path);
    if (map->size() < 4 || std::memcmp(map->data(), "GGUF", 4) != 0) {
      fail(ErrorCode::kUnsupported, "'{}' is neither a GGUF file nor a Hugging Face folder", path.string());
    }
    gguf::File f = gguf::File::read(path);
    m->tensors = f.tensors();
    m->config = config_from_gguf(f, m->tensors);
  }
  const RopeConfig& rope = m->config.rope;
  auto add_factors = [&](const char* name, const std::vector<float>& v) {
    if (!v.empty()) m->extra.add(make_f32_tensor(name, {static_cast<int64_t>(v.size())}, v));
  };
  add_factors("rope.freq_factors", rope.freq_factors);
  add_factors("rope.long_factors", rope.long_factors);
  return m;
}

namespace {

class Builder {
 public:
  Builder(const LoadedModel& m, int64_t max_context, LogitRows logits)
      : m_(m), c_(m.config), names_(tensor_names(m.config.format)), max_context_(max_context), logit_rows_(logits) {}

  Graph build() {
    const int64_t nh = c_.num_heads, nkv = c_.num_kv_heads, hd = c_.head_dim, h = c_.hidden_size, f = c_.intermediate_size;
    ValueId ids = g_.add_input("input_ids", DType::kI32, {core::kDynamic});
    positions_ = g_.add_input("positions", DType::kI32, {core::kDynamic});
    const ValueId rows = logit_rows_ == LogitRows::kSelected ? g_.add_input("logit_rows", DType::kI32, {core::kDynamic}) : -1;
    ValueId x = g_.add_node(OpType::kGather, "embed", {weight(names_.embed, {c_.vocab_size, h}, "token embeddings"), ids});
    for (int64_t l = 0; l < c_.num_layers; ++l) {
      const std::string p = fmt::format("l{}.", l);
      ValueId hn = rms_norm(p + "attn_norm", x, names_.attn_norm(l), h);
      ValueId q, k, v;
      if (c_.fused_qkv) {
        ValueId qkv = linear(p + "qkv", hn, names_.qkv(l), (nh + 2 * nkv) * hd, h, "");
        q = slice(p + "q", qkv, 0, nh * hd);
        k = slice(p + "k", qkv, nh * hd, (nh + nkv) * hd);
        v = slice(p + "v", qkv, (nh + nkv) * hd, (nh + 2 * nkv) * hd);
      } else {
        q = linear(p + "q", hn, names_.q(l), nh * hd, h, c_.qkv_bias ? names_.q(l, true) : "");
        k = linear(p + "k", hn, names_.k(l), nkv * hd, h, c_.qkv_bias ? names_.k(l, true) : "");
        v = linear(p + "v", hn, names_.v(l), nkv * hd, h, c_.qkv_bias ? names_.v(l, true) : "");
      }
      q = rope(p + "q_rope", q, nh);
      k = rope(p + "k_rope", k, nkv);
      Attributes at;
      at.set("heads", nh);
      at.set("kv_heads", nkv);
      at.set("head_dim", hd);
      at.set("scale", 1.0 / std::sqrt(static_cast<double>(hd)));
      at.set("cache_slot", l);
      if (c_.sliding_window > 0) at.set("sliding_window", c_.sliding_window);
      ValueId attn = g_.add_node(OpType::kSDPA, p + "sdpa", {q, k, v}, at);
      ValueId o = linear(p + "o", attn, names_.o(l), h, nh * hd, "");
      x = g_.add_node(OpType::kAdd, p + "attn_residual", {x, o});
      ValueId hn2 = rms_norm(p + "ffn_norm", x, names_.ffn_norm(l), h);
      ValueId gate, up;
      if (c_.fused_gate_up) {
        ValueId gu = linear(p + "gate_up", hn2, names_.gate_up(l), 2 * f, h, "");
        gate = slice(p + "gate", gu, 0, f);
        up = slice(p + "up", gu, f, 2 * f);
      } else {
        gate = linear(p + "gate", hn2, names_.gate(l), f, h, "");
        up = linear(p + "up", hn2, names_.up(l), f, h, "");
      }
      ValueId act = g_.add_node(OpType::kMul, p + "swiglu", {g_.add_node(OpType::kSiLU, p + "silu", {gate}), up});
      ValueId down = linear(p + "down", act, names_.down(l), h, f, "");
      x = g_.add_node(OpType::kAdd, p + "ffn_residual", {x, down});
    }
    if (logit_rows_ == LogitRows::kLast) {
      Attributes a;
      a.set("axis", int64_t{0});
      a.set("last", int64_t{1});
      x = g_.add_node(OpType::kSlice, "last_token", {x}, a);
    } else if (logit_rows_ == LogitRows::kSelected) {
      x = g_.add_node(OpType::kGatherRows, "last_tokens", {x, rows});
    }
    ValueId y = rms_norm("final_norm", x, names_.final_norm, h);
    const std::string& head = c_.tie_word_embeddings ? names_.embed : names_.lm_head;
    ValueId logits = linear("logits", y, head, c_.vocab_size, h, "");
    g_.mark_output(logits);
    core::PassCounts counts = core::run_fusion_passes(g_);
    log::debug("graph: {} nodes after fusing {} fully connected, {} SwiGLU", g_.nodes().size(), counts.fully_connected, counts.swiglu);
    g_.validate();
    return std::move(g_);
  }

 private:
  ValueId weight(const std::string& name, const Shape& want, std::string_view role) {
    const Tensor* t = m_.extra.find(name);
    if (!t) t = m_.tensors.find(name);
    if (!t) fail(ErrorCode::kNotFound, "'{}' ({}): missing tensor '{}' ({})", c_.source, to_string(c_.arch), name, role);
    if (t->shape != want) {
      fail(ErrorCode::kBadFormat, "'{}': tensor '{}' ({}) has shape {}, but the config implies {}", c_.source, name, role,
           shape_to_string(t->shape), shape_to_string(want));
    }
    return g_.add_weight(*t);
  }

  ValueId rms_norm(const std::string& node, ValueId x, const std::string& w, int64_t h) {
    Attributes a;
    a.set("eps", c_.rms_norm_eps);
    return g_.add_node(OpType::kRMSNorm, node, {x, weight(w, {h}, "RMSNorm weight")}, a);
  }

  ValueId linear(const std::string& node, ValueId x, const std::string& w, int64_t out, int64_t in, const std::string& bias) {
    Attributes a;
    a.set("transpose_b", int64_t{1});
    ValueId y = g_.add_node(OpType::kMatMul, node, {x, weight(w, {out, in}, "projection")}, a);
    if (!bias.empty()) y = g_.add_node(OpType::kAdd, node + "_bias", {y, weight(bias, {out}, "bias")});
    return y;
  }

  ValueId slice(const std::string& node, ValueId x, int64_t begin, int64_t end) {
    Attributes a;
    a.set("axis", int64_t{1});
    a.set("begin", begin);
    a.set("end", end);
    return g_.add_node(OpType::kSlice, node, {x}, a);
  }

  ValueId rope(const std::string& node, ValueId x, int64_t heads) {
    const RopeConfig& r = c_.rope;
    Attributes a;
    a.set("heads", heads);
    a.set("head_dim", c_.head_dim);
    a.set("rotary_dim", r.rotary_dim);
    a.set("theta", r.theta);
    a.set("style", std::string(r.adjacent_pairs ? "adjacent" : "rotate_half"));
    std::vector<ValueId> in = {x, positions_};
    if (r.scaling == "longrope") {
      a.set("attention_factor", r.attention_factor);
      if (r.long_by_context) {
        // llama.cpp: one factor set for the whole context, chosen by its size.
        bool use_long = max_context_ > r.original_max_positions;
        in.push_back(weight(use_long ? "rope.long_factors" : "rope.freq_factors", {r.rotary_dim / 2}, "RoPE factors"));
      } else {
        in.push_back(weight("rope.freq_factors", {r.rotary_dim / 2}, "RoPE short factors"));
        in.push_back(weight("rope.long_factors", {r.rotary_dim / 2}, "RoPE long factors"));
        a.set("original_max_positions", r.original_max_positions);
      }
    } else if (!r.freq_factors.empty()) {
      in.push_back(weight("rope.freq_factors", {r.rotary_dim / 2}, "RoPE factors"));
    }
    return g_.add_node(OpType::kRoPE, node, in, a);
  }

  const LoadedModel& m_;
  const ModelConfig& c_;
  TensorNames names_;
  int64_t max_context_;
  LogitRows logit_rows_;
  Graph g_;
  ValueId positions_ = -1;
};

}  // namespace

Graph build_graph(const LoadedModel& model, int64_t max_context, LogitRows logits) {
  return Builder(model, max_context, logits).build();
}

}  // namespace llmrt
