#include "golden/reference_model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <fstream>
#include <numbers>

#include "store/safetensors.h"
#include "util/error.h"

namespace llmrt::golden {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// y = W x (+ b), W row-major [rows][cols].
std::vector<double> matvec(const std::vector<double>& w, const std::vector<double>& x, int64_t rows,
                           const std::vector<double>& bias = {}) {
  const auto cols = static_cast<int64_t>(x.size());
  std::vector<double> y(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    double sum = bias.empty() ? 0.0 : bias[static_cast<size_t>(r)];
    const double* row = w.data() + r * cols;
    for (int64_t c = 0; c < cols; ++c) sum += row[c] * x[static_cast<size_t>(c)];
    y[static_cast<size_t>(r)] = sum;
  }
  return y;
}

std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<double>& w, double eps) {
  double mean_square = 0;
  for (double v : x) mean_square += v * v;
  mean_square /= static_cast<double>(x.size());
  const double inv_rms = 1.0 / std::sqrt(mean_square + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv_rms * w[i];
  return y;
}

double silu(double x) { return x / (1.0 + std::exp(-x)); }

// Rotate-half RoPE on `heads` heads of `vec`: the pair (x_i, x_{i+hd/2}) turns by pos * inv_freq_i;
// cos and sin carry `scale` (longrope's attention factor, 1 otherwise).
void apply_rope(std::vector<double>& vec, int64_t heads, int64_t head_dim, int64_t pos,
                const std::vector<double>& inv_freq, double scale) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    double* x = vec.data() + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(pos) * inv_freq[static_cast<size_t>(i)];
      const double c = std::cos(angle) * scale, s = std::sin(angle) * scale;
      const double x1 = x[i], x2 = x[i + half];
      x[i] = x1 * c - x2 * s;
      x[i + half] = x2 * c + x1 * s;
    }
  }
}

std::vector<double> rows_of(const std::vector<double>& w, int64_t first_row, int64_t rows, int64_t cols) {
  return {w.begin() + first_row * cols, w.begin() + (first_row + rows) * cols};
}

class Config {
 public:
  Config(json j, std::string file) : j_(std::move(j)), file_(std::move(file)) {}
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  const json& at(const char* key) const {
    if (!has(key)) fail(ErrorCode::kBadFormat, "'{}': field '{}' is missing", file_, key);
    return j_[key];
  }
  int64_t integer(const char* key) const {
    const json& v = at(key);
    if (!v.is_number_integer() || v.get<int64_t>() <= 0) {
      fail(ErrorCode::kBadFormat, "'{}': field '{}' is not a positive integer", file_, key);
    }
    return v.get<int64_t>();
  }
  double number(const char* key) const {
    const json& v = at(key);
    if (!v.is_number()) fail(ErrorCode::kBadFormat, "'{}': field '{}' is not a number", file_, key);
    return v.get<double>();
  }
  std::string string(const char* key) const {
    const json& v = at(key);
    if (!v.is_string()) fail(ErrorCode::kBadFormat, "'{}': field '{}' is not a string", file_, key);
    return v.get<std::string>();
  }
  const std::string& file() const { return file_; }

 private:
  json j_;
  std::string file_;
};

std::vector<double> factor_list(const json& rope_scaling, const char* key, int64_t expected, const std::string& file) {
  if (!rope_scaling.contains(key) || !rope_scaling[key].is_array() ||
      static_cast<int64_t>(rope_scaling[key].size()) != expected) {
    fail(ErrorCode::kBadFormat, "'{}': rope_scaling.{} must be a list of {} numbers", file, key, expected);
  }
  return rope_scaling[key].get<std::vector<double>>();
}

}  // namespace

ReferenceModel ReferenceModel::load_hf(const fs::path& dir) {
  const fs::path config_path = dir / "config.json";
  std::ifstream in(config_path);
  if (!in) fail(ErrorCode::kNotFound, "'{}' cannot be opened", config_path.string());
  json parsed;
  try {
    parsed = json::parse(in);
  } catch (const json::exception& e) {
    fail(ErrorCode::kBadFormat, "'{}' is not valid JSON: {}", config_path.string(), e.what());
  }
  const Config c(std::move(parsed), config_path.string());

  const std::string model_type = c.string("model_type");
  if (model_type != "llama" && model_type != "mistral" && model_type != "qwen2" && model_type != "phi3") {
    fail(ErrorCode::kUnsupported, "'{}': model_type '{}' (llama, mistral, qwen2, phi3 are supported)", c.file(), model_type);
  }
  if (c.has("hidden_act") && c.string("hidden_act") != "silu") {
    fail(ErrorCode::kUnsupported, "'{}': hidden_act '{}' (only silu)", c.file(), c.string("hidden_act"));
  }

  ReferenceModel m;
  m.vocab_ = c.integer("vocab_size");
  m.hidden_ = c.integer("hidden_size");
  const int64_t n_layers = c.integer("num_hidden_layers");
  m.n_heads_ = c.integer("num_attention_heads");
  m.n_kv_heads_ = c.has("num_key_value_heads") ? c.integer("num_key_value_heads") : m.n_heads_;
  m.head_dim_ = c.has("head_dim") ? c.integer("head_dim") : m.hidden_ / m.n_heads_;
  m.ffn_ = c.integer("intermediate_size");
  m.eps_ = c.number("rms_norm_eps");
  m.theta_ = c.has("rope_theta") ? c.number("rope_theta") : 10000.0;
  const int64_t max_pos = c.integer("max_position_embeddings");
  const bool tied = c.has("tie_word_embeddings") && c.at("tie_word_embeddings").get<bool>();
  // transformers masks key j for query i when j <= i - sliding_window (mistral, phi3).
  if ((model_type == "mistral" || model_type == "phi3") && c.has("sliding_window") && !c.at("sliding_window").is_null()) {
    m.sliding_window_ = c.integer("sliding_window");
  }
  if (model_type == "qwen2" && c.has("use_sliding_window") && c.at("use_sliding_window").get<bool>()) {
    fail(ErrorCode::kUnsupported, "'{}': qwen2 use_sliding_window is not supported by the reference", c.file());
  }
  if (m.n_heads_ % m.n_kv_heads_ != 0 || m.head_dim_ % 2 != 0) {
    fail(ErrorCode::kBadFormat, "'{}': heads {} / kv heads {} / head_dim {} are inconsistent", c.file(), m.n_heads_,
         m.n_kv_heads_, m.head_dim_);
  }

  if (c.has("rope_scaling")) {
    const json& rs = c.at("rope_scaling");
    if (!rs.is_object()) fail(ErrorCode::kBadFormat, "'{}': rope_scaling is not an object", c.file());
    const char* type_key = rs.contains("rope_type") ? "rope_type" : "type";
    if (!rs.contains(type_key) || !rs[type_key].is_string()) {
      fail(ErrorCode::kBadFormat, "'{}': rope_scaling has no rope_type (or type) string", c.file());
    }
    const std::string type = rs[type_key].get<std::string>();
    auto scaling_number = [&](const char* key) {
      if (!rs.contains(key) || !rs[key].is_number()) {
        fail(ErrorCode::kBadFormat, "'{}': rope_scaling.{} is missing or not a number", c.file(), key);
      }
      return rs[key].get<double>();
    };
    if (type == "llama3") {
      m.rope_ = Rope::kLlama3;
      m.llama3_factor_ = scaling_number("factor");
      m.low_freq_factor_ = scaling_number("low_freq_factor");
      m.high_freq_factor_ = scaling_number("high_freq_factor");
      m.original_max_ = static_cast<int64_t>(scaling_number("original_max_position_embeddings"));
    } else if (type == "longrope") {
      m.rope_ = Rope::kLongrope;
      m.long_factor_ = factor_list(rs, "long_factor", m.head_dim_ / 2, c.file());
      m.short_factor_ = factor_list(rs, "short_factor", m.head_dim_ / 2, c.file());
      // As transformers: with original_max_position_embeddings in the config, the scale is
      // max_position_embeddings / original; otherwise rope_scaling.factor.
      double factor = rs.contains("factor") && !rs["factor"].is_null() ? scaling_number("factor") : 1.0;
      m.original_max_ = max_pos;
      if (c.has("original_max_position_embeddings")) {
        m.original_max_ = c.integer("original_max_position_embeddings");
        factor = static_cast<double>(max_pos) / static_cast<double>(m.original_max_);
      }
      if (rs.contains("attention_factor") && !rs["attention_factor"].is_null()) {
        m.attention_factor_ = scaling_number("attention_factor");
      } else {
        m.attention_factor_ =
            factor <= 1.0 ? 1.0 : std::sqrt(1.0 + std::log(factor) / std::log(static_cast<double>(m.original_max_)));
      }
    } else if (type != "default") {
      fail(ErrorCode::kUnsupported, "'{}': rope_scaling type '{}' (llama3 and longrope are supported)", c.file(), type);
    }
  }

  const safetensors::File file = safetensors::read_model(dir);
  auto weight = [&](const std::string& name, const std::vector<int64_t>& shape) {
    const Tensor& t = file.tensors.at(name);
    if (t.shape != shape) {
      fail(ErrorCode::kBadFormat, "'{}': tensor '{}' has shape {}, config.json implies {}", dir.string(), name,
           shape_to_string(t.shape), shape_to_string(shape));
    }
    std::vector<float> f = t.to_f32();
    return std::vector<double>(f.begin(), f.end());
  };

  const int64_t hidden = m.hidden_, hd = m.head_dim_, q_rows = m.n_heads_ * hd, kv_rows = m.n_kv_heads_ * hd;
  m.embed_ = weight("model.embed_tokens.weight", {m.vocab_, hidden});
  for (int64_t l = 0; l < n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Layer layer;
    layer.attn_norm = weight(p + "input_layernorm.weight", {hidden});
    if (model_type == "phi3") {
      std::vector<double> qkv = weight(p + "self_attn.qkv_proj.weight", {q_rows + 2 * kv_rows, hidden});
      layer.wq = rows_of(qkv, 0, q_rows, hidden);
      layer.wk = rows_of(qkv, q_rows, kv_rows, hidden);
      layer.wv = rows_of(qkv, q_rows + kv_rows, kv_rows, hidden);
    } else {
      layer.wq = weight(p + "self_attn.q_proj.weight", {q_rows, hidden});
      layer.wk = weight(p + "self_attn.k_proj.weight", {kv_rows, hidden});
      layer.wv = weight(p + "self_attn.v_proj.weight", {kv_rows, hidden});
    }
    if (model_type == "qwen2") {
      layer.bq = weight(p + "self_attn.q_proj.bias", {q_rows});
      layer.bk = weight(p + "self_attn.k_proj.bias", {kv_rows});
      layer.bv = weight(p + "self_attn.v_proj.bias", {kv_rows});
    }
    layer.wo = weight(p + "self_attn.o_proj.weight", {hidden, q_rows});
    layer.mlp_norm = weight(p + "post_attention_layernorm.weight", {hidden});
    if (model_type == "phi3") {
      std::vector<double> gate_up = weight(p + "mlp.gate_up_proj.weight", {2 * m.ffn_, hidden});
      layer.w_gate = rows_of(gate_up, 0, m.ffn_, hidden);
      layer.w_up = rows_of(gate_up, m.ffn_, m.ffn_, hidden);
    } else {
      layer.w_gate = weight(p + "mlp.gate_proj.weight", {m.ffn_, hidden});
      layer.w_up = weight(p + "mlp.up_proj.weight", {m.ffn_, hidden});
    }
    layer.w_down = weight(p + "mlp.down_proj.weight", {hidden, m.ffn_});
    m.layers_.push_back(std::move(layer));
  }
  m.final_norm_ = weight("model.norm.weight", {hidden});
  if (!tied) m.lm_head_ = weight("lm_head.weight", {m.vocab_, hidden});
  return m;
}

std::vector<double> ReferenceModel::inv_freq_for_call(int64_t total_len) const {
  const int64_t half = head_dim_ / 2;
  std::vector<double> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const double exponent = 2.0 * static_cast<double>(i) / static_cast<double>(head_dim_);
    double f = 1.0 / std::pow(theta_, exponent);
    if (rope_ == Rope::kLlama3) {
      const double orig = static_cast<double>(original_max_);
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > orig / low_freq_factor_) {
        f = f / llama3_factor_;
      } else if (wavelen >= orig / high_freq_factor_) {
        const double smooth = (orig / wavelen - low_freq_factor_) / (high_freq_factor_ - low_freq_factor_);
        f = (1.0 - smooth) * f / llama3_factor_ + smooth * f;
      }
    } else if (rope_ == Rope::kLongrope) {
      const auto& ext = total_len > original_max_ ? long_factor_ : short_factor_;
      f = 1.0 / (ext[static_cast<size_t>(i)] * std::pow(theta_, exponent));
    }
    inv[static_cast<size_t>(i)] = f;
  }
  return inv;
}

std::vector<std::vector<double>> ReferenceModel::forward(const std::vector<int32_t>& tokens) {
  const auto T = static_cast<int64_t>(tokens.size());
  const int64_t hd = head_dim_, kv_dim = n_kv_heads_ * hd, group = n_heads_ / n_kv_heads_;
  for (int32_t t : tokens) {
    if (t < 0 || t >= vocab_) fail(ErrorCode::kInvalidArgument, "token {} is outside the vocabulary [0, {})", t, vocab_);
  }
  // RoPE tables for this call (longrope picks its factors from the largest position + 1).
  const std::vector<double> inv_freq = inv_freq_for_call(n_past_ + T);
  const double rope_scale = rope_ == Rope::kLongrope ? attention_factor_ : 1.0;

  // x[t]: the residual stream of token t.
  std::vector<std::vector<double>> x(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    const auto row = static_cast<int64_t>(tokens[static_cast<size_t>(t)]);
    x[static_cast<size_t>(t)] = rows_of(embed_, row, 1, hidden_);
  }

  for (Layer& layer : layers_) {
    // Attention: q/k/v for every new token, keys rotated and appended to the cache first.
    std::vector<std::vector<double>> q(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) {
      const std::vector<double> h = rmsnorm(x[static_cast<size_t>(t)], layer.attn_norm, eps_);
      q[static_cast<size_t>(t)] = matvec(layer.wq, h, n_heads_ * hd, layer.bq);
      std::vector<double> k = matvec(layer.wk, h, kv_dim, layer.bk);
      std::vector<double> v = matvec(layer.wv, h, kv_dim, layer.bv);
      apply_rope(q[static_cast<size_t>(t)], n_heads_, hd, n_past_ + t, inv_freq, rope_scale);
      apply_rope(k, n_kv_heads_, hd, n_past_ + t, inv_freq, rope_scale);
      layer.k_cache.insert(layer.k_cache.end(), k.begin(), k.end());
      layer.v_cache.insert(layer.v_cache.end(), v.begin(), v.end());
    }
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    for (int64_t t = 0; t < T; ++t) {
      const int64_t n_visible = n_past_ + t + 1;  // causal: positions 0 .. n_past + t
      const int64_t first = sliding_window_ > 0 ? std::max<int64_t>(0, n_visible - sliding_window_) : 0;
      std::vector<double> attn(static_cast<size_t>(n_heads_ * hd), 0.0);
      for (int64_t h = 0; h < n_heads_; ++h) {
        const int64_t kvh = h / group;
        const double* qh = q[static_cast<size_t>(t)].data() + h * hd;
        std::vector<double> scores(static_cast<size_t>(n_visible), -std::numeric_limits<double>::infinity());
        for (int64_t j = first; j < n_visible; ++j) {
          const double* kj = layer.k_cache.data() + j * kv_dim + kvh * hd;
          double dot = 0;
          for (int64_t d = 0; d < hd; ++d) dot += qh[d] * kj[d];
          scores[static_cast<size_t>(j)] = dot * scale;
        }
        const double max_score = *std::max_element(scores.begin(), scores.end());
        double sum = 0;
        for (double& s : scores) sum += (s = std::exp(s - max_score));
        for (int64_t j = first; j < n_visible; ++j) {
          const double p = scores[static_cast<size_t>(j)] / sum;
          const double* vj = layer.v_cache.data() + j * kv_dim + kvh * hd;
          for (int64_t d = 0; d < hd; ++d) attn[static_cast<size_t>(h * hd + d)] += p * vj[d];
        }
      }
      const std::vector<double> o = matvec(layer.wo, attn, hidden_);
      for (int64_t i = 0; i < hidden_; ++i) x[static_cast<size_t>(t)][static_cast<size_t>(i)] += o[static_cast<size_t>(i)];
    }
    // MLP: x += down(silu(gate(h)) * up(h)).
    for (int64_t t = 0; t < T; ++t) {
      const std::vector<double> h = rmsnorm(x[static_cast<size_t>(t)], layer.mlp_norm, eps_);
      const std::vector<double> gate = matvec(layer.w_gate, h, ffn_);
      std::vector<double> act = matvec(layer.w_up, h, ffn_);
      for (int64_t i = 0; i < ffn_; ++i) act[static_cast<size_t>(i)] *= silu(gate[static_cast<size_t>(i)]);
      const std::vector<double> down = matvec(layer.w_down, act, hidden_);
      for (int64_t i = 0; i < hidden_; ++i) x[static_cast<size_t>(t)][static_cast<size_t>(i)] += down[static_cast<size_t>(i)];
    }
  }

  std::vector<std::vector<double>> logits(static_cast<size_t>(T));
  const std::vector<double>& head = lm_head_.empty() ? embed_ : lm_head_;
  for (int64_t t = 0; t < T; ++t) {
    logits[static_cast<size_t>(t)] = matvec(head, rmsnorm(x[static_cast<size_t>(t)], final_norm_, eps_), vocab_);
  }
  n_past_ += T;
  return logits;
}

void ReferenceModel::reset() {
  for (Layer& layer : layers_) {
    layer.k_cache.clear();
    layer.v_cache.clear();
  }
  n_past_ = 0;
}

}  // namespace llmrt::golden
