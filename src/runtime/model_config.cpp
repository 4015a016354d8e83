#include "runtime/model_config.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>

#include "util/error.h"
#include "util/mapped_file.h"

namespace llmrt {

std::string_view to_string(Architecture a) {
  switch (a) {
    case Architecture::kLlama: return "llama";
    case Architecture::kMistral: return "mistral";
    case Architecture::kQwen2: return "qwen2";
    case Architecture::kPhi3: return "phi3";
  }
  return "?";
}

namespace {

using nlohmann::json;

// HF's llama3 rule, as divisors of inv_freq.
std::vector<float> llama3_factors(double theta, int64_t dim, double factor, double low, double high, double original) {
  std::vector<float> out;
  const double low_wavelen = original / low, high_wavelen = original / high;
  for (int64_t i = 0; i < dim / 2; ++i) {
    const double inv = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(dim));
    const double wavelen = 2 * std::numbers::pi / inv;
    double scaled;
    if (wavelen < high_wavelen) {
      scaled = inv;
    } else if (wavelen > low_wavelen) {
      scaled = inv / factor;
    } else {
      const double smooth = (original / wavelen - low) / (high - low);
      scaled = (1 - smooth) * inv / factor + smooth * inv;
    }
    out.push_back(static_cast<float>(inv / scaled));
  }
  return out;
}

struct HfConfig {
  const json& j;
  const std::string& file;
  int64_t integer(const char* key) const {
    if (!j.contains(key) || !j[key].is_number_integer()) fail(ErrorCode::kNotFound, "'{}': \"{}\" is missing or not an integer", file, key);
    int64_t v = j[key].get<int64_t>();
    if (v <= 0 || v > (int64_t{1} << 31)) fail(ErrorCode::kBadFormat, "'{}': \"{}\" = {} is out of range", file, key, v);
    return v;
  }
  int64_t integer(const char* key, int64_t fallback) const {
    return j.contains(key) && !j[key].is_null() ? integer(key) : fallback;
  }
  double number(const char* key, double fallback) const {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_number()) fail(ErrorCode::kBadFormat, "'{}': \"{}\" is not a number", file, key);
    return j[key].get<double>();
  }
};

std::vector<float> float_list(const json& j, const char* key, int64_t want, const std::string& file) {
  if (!j.contains(key) || !j[key].is_array()) fail(ErrorCode::kNotFound, "'{}': rope_scaling.{} is missing", file, key);
  std::vector<float> out;
  for (const json& v : j[key]) {
    if (!v.is_number()) fail(ErrorCode::kBadFormat, "'{}': rope_scaling.{} holds a non-number", file, key);
    out.push_back(v.get<float>());
  }
  if (static_cast<int64_t>(out.size()) != want) {
    fail(ErrorCode::kBadFormat, "'{}': rope_scaling.{} has {} entries, expected rotary_dim/2 = {}", file, key, out.size(), want);
  }
  return out;
}

void check_dims(ModelConfig& c) {
  if (c.num_heads % c.num_kv_heads != 0) {
    fail(ErrorCode::kBadFormat, "'{}': {} attention heads are not a multiple of {} key/value heads", c.source, c.num_heads, c.num_kv_heads);
  }
  if (c.head_dim % 2 != 0) fail(ErrorCode::kBadFormat, "'{}': head_dim {} is odd", c.source, c.head_dim);
  if (c.rope.rotary_dim == 0) c.rope.rotary_dim = c.head_dim;
}

}  // namespace

ModelConfig config_from_hf(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "config.json";
  const std::string file = path.string();
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    fail(ErrorCode::kBadFormat, "'{}' is not valid JSON: {}", file, e.what());
  }
  if (!j.is_object()) fail(ErrorCode::kBadFormat, "'{}' is not a JSON object", file);
  HfConfig h{j, file};
  ModelConfig c;
  c.format = ModelFormat::kHuggingFace;
  c.source = dir.string();
  const std::string model_type = j.value("model_type", "");
  if (model_type == "llama") c.arch = Architecture::kLlama;
  else if (model_type == "mistral") c.arch = Architecture::kMistral;
  else if (model_type == "qwen2") c.arch = Architecture::kQwen2;
  else if (model_type == "phi3") c.arch = Architecture::kPhi3;
  else fail(ErrorCode::kUnsupported, "'{}': model_type '{}' is not supported (llama, mistral, qwen2, phi3 are)", file, model_type);

  c.vocab_size = h.integer("vocab_size");
  c.hidden_size = h.integer("hidden_size");
  c.num_layers = h.integer("num_hidden_layers");
  c.num_heads = h.integer("num_attention_heads");
  c.num_kv_heads = h.integer("num_key_value_heads", c.num_heads);
  c.head_dim = h.integer("head_dim", c.hidden_size / c.num_heads);
  c.intermediate_size = h.integer("intermediate_size");
  c.max_position_embeddings = h.integer("max_position_embeddings", 4096);
  c.rms_norm_eps = h.number("rms_norm_eps", 1e-6);
  c.tie_word_embeddings = j.value("tie_word_embeddings", false);
  c.qkv_bias = c.arch == Architecture::kQwen2 || j.value("attention_bias", false);
  c.fused_qkv = c.fused_gate_up = c.arch == Architecture::kPhi3;
  c.bos_token_id = j.contains("bos_token_id") && j["bos_token_id"].is_number_integer() ? j["bos_token_id"].get<int64_t>() : -1;
  c.eos_token_id = j.contains("eos_token_id") && j["eos_token_id"].is_number_integer() ? j["eos_token_id"].get<int64_t>() : -1;
  // transformers applies "sliding_window" for mistral and phi3 (qwen2 only with
  // use_sliding_window, and then per layer: not supported here).
  if ((c.arch == Architecture::kMistral || c.arch == Architecture::kPhi3) && j.contains("sliding_window") &&
      !j["sliding_window"].is_null()) {
    c.sliding_window = h.integer("sliding_window");
  }
  if (c.arch == Architecture::kQwen2 && j.value("use_sliding_window", false)) {
    fail(ErrorCode::kUnsupported, "'{}': qwen2 use_sliding_window is not supported yet", file);
  }
  c.rope.theta = h.number("rope_theta", 10000.0);
  c.rope.rotary_dim = static_cast<int64_t>(static_cast<double>(c.head_dim) * h.number("partial_rotary_factor", 1.0));
  check_dims(c);

  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const json& rs = j["rope_scaling"];
    std::string type = rs.value("rope_type", rs.value("type", ""));
    const int64_t half = c.rope.rotary_dim / 2;
    if (type == "llama3") {
      c.rope.scaling = "llama3";
      c.rope.freq_factors = llama3_factors(c.rope.theta, c.rope.rotary_dim, rs.value("factor", 8.0), rs.value("low_freq_factor", 1.0),
                                           rs.value("high_freq_factor", 4.0), rs.value("original_max_position_embeddings", 8192.0));
    } else if (type == "linear") {
      c.rope.scaling = "linear";
      c.rope.freq_factors.assign(static_cast<size_t>(half), rs.value("factor", 1.0f));
    } else if (type == "longrope" || type == "su") {
      c.rope.scaling = "longrope";
      c.rope.freq_factors = float_list(rs, "short_factor", half, file);
      c.rope.long_factors = float_list(rs, "long_factor", half, file);
      c.rope.original_max_positions = h.integer("original_max_position_embeddings", c.max_position_embeddings);
      const double scale = static_cast<double>(c.max_position_embeddings) / static_cast<double>(c.rope.original_max_positions);
      c.rope.attention_factor = rs.contains("attention_factor") && rs["attention_factor"].is_number()
                                    ? rs["attention_factor"].get<double>()
                                    : (scale <= 1.0 ? 1.0 : std::sqrt(1 + std::log(scale) / std::log(static_cast<double>(c.rope.original_max_positions))));
    } else if (!type.empty() && type != "default") {
      fail(ErrorCode::kUnsupported, "'{}': rope_scaling type '{}' is not supported (llama3, linear, longrope are)", file, type);
    }
  }
  return c;
}

ModelConfig config_from_gguf(const gguf::File& f, const TensorSet& tensors) {
  const std::string file = f.path().string();
  const std::string arch = f.at("general.architecture").as_string("general.architecture");
  ModelConfig c;
  c.format = ModelFormat::kGguf;
  c.source = file;
  if (arch == "llama") c.arch = Architecture::kLlama;
  else if (arch == "qwen2") c.arch = Architecture::kQwen2;
  else if (arch == "phi3") c.arch = Architecture::kPhi3;
  else fail(ErrorCode::kUnsupported, "'{}': architecture '{}' is not supported (llama, qwen2, phi3 are)", file, arch);
  auto integer = [&](const std::string& key) -> int64_t {
    const std::string full = arch + "." + key;
    int64_t v = f.at(full).as_int(full);
    if (v <= 0 || v > (int64_t{1} << 31)) fail(ErrorCode::kBadFormat, "'{}': {} = {} is out of range", file, full, v);
    return v;
  };
  auto integer_or = [&](const std::string& key, int64_t fallback) {
    return f.find(arch + "." + key) ? integer(key) : fallback;
  };
  auto number_or = [&](const std::string& key, double fallback) {
    const gguf::Value* v = f.find(arch + "." + key);
    return v ? v->as_float(arch + "." + key) : fallback;
  };
  c.hidden_size = integer("embedding_length");
  c.num_layers = integer("block_count");
  c.intermediate_size = integer("feed_forward_length");
  c.num_heads = integer("attention.head_count");
  c.num_kv_heads = integer_or("attention.head_count_kv", c.num_heads);
  c.head_dim = integer_or("attention.key_length", c.hidden_size / c.num_heads);
  c.max_position_embeddings = integer_or("context_length", 4096);
  c.rms_norm_eps = number_or("attention.layer_norm_rms_epsilon", 1e-5);
  c.rope.theta = number_or("rope.freq_base", 10000.0);
  c.rope.rotary_dim = integer_or("rope.dimension_count", c.head_dim);
  const Tensor& embed = tensors.at("token_embd.weight");
  c.vocab_size = integer_or("vocab_size", embed.shape.empty() ? 0 : embed.shape[0]);
  c.tie_word_embeddings = tensors.find("output.weight") == nullptr;
  c.qkv_bias = tensors.find("blk.0.attn_q.bias") != nullptr;
  c.fused_qkv = tensors.find("blk.0.attn_qkv.weight") != nullptr;
  c.fused_gate_up = c.arch == Architecture::kPhi3;
  // llama.cpp's rope modes: NORM (adjacent pairs) for llama, whose converter permutes the Q/K
  // rows; NEOX (rotate-half) for qwen2 and phi3.
  c.rope.adjacent_pairs = c.arch == Architecture::kLlama;
  // llama.cpp applies a sliding window for phi3 (0 = none) and none for the llama arch.
  if (c.arch == Architecture::kPhi3) {
    if (const gguf::Value* v = f.find("phi3.attention.sliding_window")) {
      c.sliding_window = v->as_int("phi3.attention.sliding_window");
      if (c.sliding_window < 0) fail(ErrorCode::kBadFormat, "'{}': phi3.attention.sliding_window is negative", file);
    }
  }
  if (const gguf::Value* v = f.find("tokenizer.ggml.bos_token_id")) c.bos_token_id = v->as_int("tokenizer.ggml.bos_token_id");
  if (const gguf::Value* v = f.find("tokenizer.ggml.eos_token_id")) c.eos_token_id = v->as_int("tokenizer.ggml.eos_token_id");
  check_dims(c);
  auto factors = [&](const char* name) {
    const Tensor& t = tensors.at(name);
    if (t.shape != Shape{c.rope.rotary_dim / 2}) {
      fail(ErrorCode::kBadFormat, "'{}': tensor '{}' is {}, expected [{}]", file, name, shape_to_string(t.shape), c.rope.rotary_dim / 2);
    }
    return t.to_f32();
  };
  if (tensors.find("rope_freqs.weight")) {
    c.rope.scaling = "llama3";
    c.rope.freq_factors = factors("rope_freqs.weight");
  }
  if (tensors.find("rope_factors_long.weight")) {
    c.rope.scaling = "longrope";
    c.rope.freq_factors = factors("rope_factors_short.weight");
    c.rope.long_factors = factors("rope_factors_long.weight");
    c.rope.original_max_positions = integer_or("rope.scaling.original_context_length", c.max_position_embeddings);
    c.rope.attention_factor = number_or("rope.scaling.attn_factor", 1.0);
    c.rope.long_by_context = true;
  }
  return c;
}

std::string TensorNames::attn_norm(int64_t l) const {
  return format == ModelFormat::kGguf ? fmt::format("blk.{}.attn_norm.weight", l) : fmt::format("model.layers.{}.input_layernorm.weight", l);
}
std::string TensorNames::ffn_norm(int64_t l) const {
  return format == ModelFormat::kGguf ? fmt::format("blk.{}.ffn_norm.weight", l) : fmt::format("model.layers.{}.post_attention_layernorm.weight", l);
}
namespace {
std::string attn(ModelFormat f, int64_t l, const char* gguf, const char* hf, bool bias) {
  const char* suffix = bias ? "bias" : "weight";
  return f == ModelFormat::kGguf ? fmt::format("blk.{}.{}.{}", l, gguf, suffix) : fmt::format("model.layers.{}.self_attn.{}.{}", l, hf, suffix);
}
std::string mlp(ModelFormat f, int64_t l, const char* gguf, const char* hf) {
  return f == ModelFormat::kGguf ? fmt::format("blk.{}.{}.weight", l, gguf) : fmt::format("model.layers.{}.mlp.{}.weight", l, hf);
}
}  // namespace
std::string TensorNames::q(int64_t l, bool bias) const { return attn(format, l, "attn_q", "q_proj", bias); }
std::string TensorNames::k(int64_t l, bool bias) const { return attn(format, l, "attn_k", "k_proj", bias); }
std::string TensorNames::v(int64_t l, bool bias) const { return attn(format, l, "attn_v", "v_proj", bias); }
std::string TensorNames::qkv(int64_t l) const { return attn(format, l, "attn_qkv", "qkv_proj", false); }
std::string TensorNames::o(int64_t l) const { return attn(format, l, "attn_output", "o_proj", false); }
std::string TensorNames::gate(int64_t l) const { return mlp(format, l, "ffn_gate", "gate_proj"); }
std::string TensorNames::up(int64_t l) const { return mlp(format, l, "ffn_up", "up_proj"); }
std::string TensorNames::gate_up(int64_t l) const { return mlp(format, l, "ffn_up", "gate_up_proj"); }
std::string TensorNames::down(int64_t l) const { return mlp(format, l, "ffn_down", "down_proj"); }

TensorNames tensor_names(ModelFormat format) {
  TensorNames n;
  n.format = format;
  if (format == ModelFormat::kGguf) {
    n.embed = "token_embd.weight";
    n.final_norm = "output_norm.weight";
    n.lm_head = "output.weight";
  } else {
    n.embed = "model.embed_tokens.weight";
    n.final_norm = "model.norm.weight";
    n.lm_head = "lm_head.weight";
  }
  return n;
}

}  // namespace llmrt
