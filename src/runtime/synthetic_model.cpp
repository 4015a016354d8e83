// Synthetic decoder models: random weights written as a Hugging Face folder and as a GGUF file.
//
// Every tensor is described once, under its Hugging Face name (WeightDesc), and its values are
// generated from that name alone, so both writers produce the same numbers and a tensor does not
// depend on which other tensors exist or in which order they are written.
//
// Random numbers: std::mt19937_64 seeded with fnv1a64(name) + seed * 0x9E3779B97F4A7C15, and our
// own Box-Muller transform (std::normal_distribution is not specified portably). The transform
// uses std::log/cos/sin in double; libms may differ in the last bit of a double, which after
// rounding to float changes a weight only in rare ties, so weights are the same on every machine
// for all practical purposes and bit-identical on one machine.
//
// RoPE rules (what the two forms encode; the reference forward pass in tests/golden applies them):
//   inv_freq_i = theta^(-2i/hd), i < hd/2, applied rotate-half: (x_i, x_{i+hd/2}) rotated by pos*inv_freq_i.
//   llama3:   wavelen_i = 2 pi / inv_freq_i; low_wl = orig / low_freq_factor, high_wl = orig / high_freq_factor;
//             wavelen < high_wl: unchanged; wavelen > low_wl: inv_freq / factor;
//             else smooth = (orig / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor),
//                  inv = (1 - smooth) * inv / factor + smooth * inv.
//             GGUF stores the divisors f_i = inv_freq_i / scaled_inv_i as rope_freqs.weight.
//   longrope: inv_freq_i = 1 / (ext_i * theta^(2i/hd)), ext = long_factor when (largest position id of the
//             forward call + 1) > original_max, else short_factor; cos and sin are multiplied by
//             attention_factor = sqrt(1 + ln(s) / ln(original_max)), s = max_position_embeddings / original_max
//             (1 when s <= 1).
//
// GGUF conventions follow llama.cpp's convert_hf_to_gguf.py: for the llama architecture (llama,
// llama3, mistral) attn_q / attn_k rows are permuted per head so that ggml's adjacent-pair RoPE
// equals the rotate-half RoPE of transformers: new row h*hd + 2i + j = HF row h*hd + j*hd/2 + i.
// qwen2 and phi3 use rotate-half (NEOX) RoPE in llama.cpp too and are not permuted.
//
// GGUF weight types (SyntheticModelSpec::gguf_recipe; gguf_weight_type below has the rules):
// f32/f16/bf16 store every matrix in that type; q8_0, q4_0 and q4_k_m follow llama.cpp's
// llama-quantize for those file types. The values quantized are the same floats the f32 file
// holds; ggml::quantize_row (our round-to-nearest reference encoders) encodes them, rows in
// parallel, so the file is still a pure function of (spec, seed).
//
// Memory: the HF form holds the model once (safetensors::write takes every tensor at once); the
// GGUF form is streamed through gguf::Writer::add_deferred_tensor, one tensor in memory at a
// time (its floats, and its encoded bytes while they are written).
#include "runtime/synthetic_model.h"

#include "runtime/synthetic_tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numbers>
#include <random>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "store/ggml_quants.h"
#include "store/gguf.h"
#include "store/safetensors.h"
#include "util/error.h"
#include "util/half.h"
#include "util/threads.h"

namespace llmrt {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

enum class Arch { kLlama, kLlama3, kMistral, kQwen2, kPhi3 };

Arch parse_arch(const std::string& name) {
  if (name == "llama") return Arch::kLlama;
  if (name == "llama3") return Arch::kLlama3;
  if (name == "mistral") return Arch::kMistral;
  if (name == "qwen2") return Arch::kQwen2;
  if (name == "phi3") return Arch::kPhi3;
  fail(ErrorCode::kInvalidArgument, "synthetic model: unknown arch '{}' (llama, llama3, mistral, qwen2, phi3)", name);
}

bool is_llama_arch(Arch a) { return a == Arch::kLlama || a == Arch::kLlama3 || a == Arch::kMistral; }

Arch validate(const SyntheticModelSpec& s) {
  Arch arch = parse_arch(s.arch);
  auto require = [&](bool ok, std::string_view what) {
    if (!ok) fail(ErrorCode::kInvalidArgument, "synthetic model ({}): {}", s.arch, what);
  };
  require(s.vocab_size >= 3, "vocab_size must be at least 3 (<unk>, <s>, </s>)");
  require(s.hidden_size > 0 && s.num_layers > 0 && s.intermediate_size > 0, "sizes must be positive");
  require(s.num_heads > 0 && s.num_kv_heads > 0 && s.num_heads % s.num_kv_heads == 0,
          "num_heads must be a positive multiple of num_kv_heads");
  require(s.head_dim > 0 && s.head_dim % 2 == 0, "head_dim must be positive and even");
  require(s.max_position_embeddings > 0, "max_position_embeddings must be positive");
  require(std::isfinite(s.init_std) && s.init_std >= 0, "init_std must be finite and not negative");
  require(s.rope_theta > 0 && s.rms_norm_eps >= 0, "rope_theta must be positive and rms_norm_eps not negative");
  require(s.hf_dtype == StoredType::kF32 || s.hf_dtype == StoredType::kF16 || s.hf_dtype == StoredType::kBF16,
          "hf_dtype must be f32, f16 or bf16");
  require(s.shards >= 1 && s.shards <= s.num_layers + 2, "shards must be in [1, num_layers + 2]");
  if (arch == Arch::kLlama3 || arch == Arch::kPhi3) {
    require(s.original_max_position_embeddings > 0, "original_max_position_embeddings must be positive");
  }
  if (arch == Arch::kLlama3) {
    require(s.rope_factor > 0 && s.low_freq_factor > 0 && s.high_freq_factor > s.low_freq_factor,
            "llama3 scaling needs factor > 0 and high_freq_factor > low_freq_factor > 0");
  }
  if (arch == Arch::kPhi3) {
    // transformers' Phi3Config and llama.cpp's converter both derive the rotary size from
    // hidden_size / num_heads, so a Phi-3 file with another head_dim would not load there.
    require(s.hidden_size == s.num_heads * s.head_dim, "phi3 needs hidden_size == num_heads * head_dim");
  }
  return arch;
}

// ---- random numbers -------------------------------------------------------------------------

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// One independent stream per tensor name. The seed is multiplied by the golden-ratio constant
// so that seeds 1 and 2 do not give streams that a nearby name hash could also give.
class RandomStream {
 public:
  RandomStream(uint32_t seed, std::string_view name) : rng_(fnv1a64(name) + uint64_t{seed} * 0x9E3779B97F4A7C15ull) {}

  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1p-53; }  // [0, 1)

  // Box-Muller: two draws give two independent N(0, 1) values, elements 2p and 2p + 1.
  std::pair<double, double> normal_pair() {
    const double u1 = static_cast<double>((rng_() >> 11) + 1) * 0x1p-53;  // (0, 1]: log is finite
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    return {r * std::cos(angle), r * std::sin(angle)};
  }
  // Every pair takes exactly two draws, so pair p can be reached without computing the ones before.
  void skip_pairs(int64_t pairs) { rng_.discard(2 * static_cast<unsigned long long>(pairs)); }

 private:
  std::mt19937_64 rng_;
};

// ---- the tensors --------------------------------------------------------------------------

enum class Init { kLinear, kNorm, kBias };

struct WeightDesc {
  std::string hf_name, gguf_name;
  Shape shape;  // [out_features, in_features] for matrices, as HF; the GGUF writer reverses it
  Init init;
  int64_t permute_heads = 0;  // > 0: GGUF rows are permuted for adjacent-pair RoPE over this many heads
  int64_t layer = -1;         // the block index for blk.N tensors
};

// The model as units that stay together in one shard: the embedding, each layer, the head.
std::vector<std::vector<WeightDesc>> describe(const SyntheticModelSpec& s, Arch arch) {
  const int64_t hidden = s.hidden_size, hd = s.head_dim, ffn = s.intermediate_size;
  const int64_t q_rows = s.num_heads * hd, kv_rows = s.num_kv_heads * hd;
  const bool permute = is_llama_arch(arch);
  std::vector<std::vector<WeightDesc>> units;
  units.push_back({{"model.embed_tokens.weight", "token_embd.weight", {s.vocab_size, hidden}, Init::kLinear}});
  for (int64_t l = 0; l < s.num_layers; ++l) {
    const std::string hf = "model.layers." + std::to_string(l) + ".";
    const std::string gg = "blk." + std::to_string(l) + ".";
    std::vector<WeightDesc> u;
    u.push_back({hf + "input_layernorm.weight", gg + "attn_norm.weight", {hidden}, Init::kNorm});
    if (arch == Arch::kPhi3) {
      u.push_back({hf + "self_attn.qkv_proj.weight", gg + "attn_qkv.weight", {q_rows + 2 * kv_rows, hidden}, Init::kLinear});
    } else {
      u.push_back({hf + "self_attn.q_proj.weight", gg + "attn_q.weight", {q_rows, hidden}, Init::kLinear,
                   permute ? s.num_heads : 0});
      u.push_back({hf + "self_attn.k_proj.weight", gg + "attn_k.weight", {kv_rows, hidden}, Init::kLinear,
                   permute ? s.num_kv_heads : 0});
      u.push_back({hf + "self_attn.v_proj.weight", gg + "attn_v.weight", {kv_rows, hidden}, Init::kLinear});
      if (arch == Arch::kQwen2) {
        u.push_back({hf + "self_attn.q_proj.bias", gg + "attn_q.bias", {q_rows}, Init::kBias});
        u.push_back({hf + "self_attn.k_proj.bias", gg + "attn_k.bias", {kv_rows}, Init::kBias});
        u.push_back({hf + "self_attn.v_proj.bias", gg + "attn_v.bias", {kv_rows}, Init::kBias});
      }
    }
    u.push_back({hf + "self_attn.o_proj.weight", gg + "attn_output.weight", {hidden, q_rows}, Init::kLinear});
    u.push_back({hf + "post_attention_layernorm.weight", gg + "ffn_norm.weight", {hidden}, Init::kNorm});
    if (arch == Arch::kPhi3) {
      // llama.cpp keeps Phi-3's fused gate_up as ffn_up (gate rows first) and has no ffn_gate.
      u.push_back({hf + "mlp.gate_up_proj.weight", gg + "ffn_up.weight", {2 * ffn, hidden}, Init::kLinear});
    } else {
      u.push_back({hf + "mlp.gate_proj.weight", gg + "ffn_gate.weight", {ffn, hidden}, Init::kLinear});
      u.push_back({hf + "mlp.up_proj.weight", gg + "ffn_up.weight", {ffn, hidden}, Init::kLinear});
    }
    u.push_back({hf + "mlp.down_proj.weight", gg + "ffn_down.weight", {hidden, ffn}, Init::kLinear});
    for (WeightDesc& d : u) d.layer = l;
    units.push_back(std::move(u));
  }
  std::vector<WeightDesc> head{{"model.norm.weight", "output_norm.weight", {hidden}, Init::kNorm}};
  if (!s.tie_word_embeddings) head.push_back({"lm_head.weight", "output.weight", {s.vocab_size, hidden}, Init::kLinear});
  units.push_back(std::move(head));
  return units;
}

float round_to(StoredType type, float v) {
  switch (type) {
    case StoredType::kF16: return f16_to_f32(f32_to_f16(v));
    case StoredType::kBF16: return bf16_to_f32(f32_to_bf16(v));
    default: return v;
  }
}

// The tensor's values in HF layout, already rounded to the HF dtype: offset + scale * N(0, 1).
// Threads take chunks of pairs and skip ahead in the tensor's stream, so the values do not
// depend on the thread count (and a 262M-value embedding does not run on one core).
std::vector<float> generate(const SyntheticModelSpec& s, const WeightDesc& d) {
  const int64_t n = checked_numel(d.shape, d.hf_name);
  const double offset = d.init == Init::kNorm ? 1.0 : 0.0;
  const double scale = d.init == Init::kLinear ? static_cast<double>(s.init_std) : d.init == Init::kNorm ? 0.1 : 0.05;
  std::vector<float> values(static_cast<size_t>(n));
  parallel_for((n + 1) / 2, int64_t{1} << 16, [&](int64_t begin, int64_t end) {
    RandomStream rng(s.seed, d.hf_name);
    rng.skip_pairs(begin);
    for (int64_t p = begin; p < end; ++p) {
      const auto [z0, z1] = rng.normal_pair();
      values[static_cast<size_t>(2 * p)] = round_to(s.hf_dtype, static_cast<float>(offset + scale * z0));
      if (2 * p + 1 < n) values[static_cast<size_t>(2 * p + 1)] = round_to(s.hf_dtype, static_cast<float>(offset + scale * z1));
    }
  });
  return values;
}

// llama.cpp's permute(): within each head, row 2i + j takes HF row j*hd/2 + i.
std::vector<float> permute_for_adjacent_pairs(const std::vector<float>& src, const Shape& shape, int64_t heads) {
  const int64_t rows = shape[0], cols = shape.size() > 1 ? shape[1] : 1;
  const int64_t hd = rows / heads, half = hd / 2;
  std::vector<float> dst(src.size());
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const float* from = src.data() + (h * hd + j * half + i) * cols;
        std::memcpy(dst.data() + (h * hd + 2 * i + j) * cols, from, static_cast<size_t>(cols) * sizeof(float));
      }
    }
  }
  return dst;
}

// Phi-3 longrope factors, rounded to float so the JSON and the F32 GGUF tensors hold the same numbers.
std::vector<float> longrope_factors(const SyntheticModelSpec& s, bool long_factors) {
  RandomStream rng(s.seed, long_factors ? "rope_scaling.long_factor" : "rope_scaling.short_factor");
  std::vector<float> f(static_cast<size_t>(s.head_dim / 2));
  for (float& v : f) v = static_cast<float>(long_factors ? 1.0 + 3.0 * rng.uniform() : 1.0 + 0.5 * rng.uniform());
  return f;
}

double longrope_attention_factor(const SyntheticModelSpec& s) {
  double scale = static_cast<double>(s.max_position_embeddings) / static_cast<double>(s.original_max_position_embeddings);
  if (scale <= 1.0) return 1.0;
  return std::sqrt(1.0 + std::log(scale) / std::log(static_cast<double>(s.original_max_position_embeddings)));
}

// llama3 rule as divisors of the unscaled inv_freq (llama.cpp's rope_freqs.weight).
std::vector<float> llama3_rope_divisors(const SyntheticModelSpec& s) {
  const double orig = static_cast<double>(s.original_max_position_embeddings);
  const double low_wavelen = orig / s.low_freq_factor, high_wavelen = orig / s.high_freq_factor;
  std::vector<float> f(static_cast<size_t>(s.head_dim / 2));
  for (size_t i = 0; i < f.size(); ++i) {
    double inv_freq = std::pow(s.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(s.head_dim));
    double wavelen = 2.0 * std::numbers::pi / inv_freq;
    double divisor;
    if (wavelen < high_wavelen) {
      divisor = 1.0;
    } else if (wavelen > low_wavelen) {
      divisor = s.rope_factor;
    } else {
      double smooth = (orig / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      divisor = 1.0 / ((1.0 - smooth) / s.rope_factor + smooth);
    }
    f[i] = static_cast<float>(divisor);
  }
  return f;
}

// ---- Hugging Face form -----------------------------------------------------------------------

std::string torch_dtype(StoredType t) {
  return t == StoredType::kF16 ? "float16" : t == StoredType::kBF16 ? "bfloat16" : "float32";
}

ordered_json hf_config(const SyntheticModelSpec& s, Arch arch) {
  static constexpr const char* kClasses[] = {"LlamaForCausalLM", "LlamaForCausalLM", "MistralForCausalLM",
                                             "Qwen2ForCausalLM", "Phi3ForCausalLM"};
  static constexpr const char* kModelTypes[] = {"llama", "llama", "mistral", "qwen2", "phi3"};
  const auto a = static_cast<size_t>(arch);
  ordered_json c;
  c["architectures"] = ordered_json::array({kClasses[a]});
  c["model_type"] = kModelTypes[a];
  c["hidden_size"] = s.hidden_size;
  c["intermediate_size"] = s.intermediate_size;
  c["num_hidden_layers"] = s.num_layers;
  c["num_attention_heads"] = s.num_heads;
  c["num_key_value_heads"] = s.num_kv_heads;
  c["head_dim"] = s.head_dim;
  c["rms_norm_eps"] = s.rms_norm_eps;
  c["rope_theta"] = s.rope_theta;
  c["max_position_embeddings"] = s.max_position_embeddings;
  c["vocab_size"] = s.vocab_size;
  c["tie_word_embeddings"] = s.tie_word_embeddings;
  c["bos_token_id"] = 1;
  c["eos_token_id"] = 2;
  c["torch_dtype"] = torch_dtype(s.hf_dtype);
  c["hidden_act"] = "silu";
  switch (arch) {
    case Arch::kLlama:
      c["rope_scaling"] = nullptr;
      c["attention_bias"] = false;
      break;
    case Arch::kLlama3:
      c["rope_scaling"] = {{"rope_type", "llama3"},
                           {"factor", s.rope_factor},
                           {"low_freq_factor", s.low_freq_factor},
                           {"high_freq_factor", s.high_freq_factor},
                           {"original_max_position_embeddings", s.original_max_position_embeddings}};
      c["attention_bias"] = false;
      break;
    case Arch::kMistral:
      c["sliding_window"] = s.sliding_window > 0 ? nlohmann::json(s.sliding_window) : nlohmann::json(nullptr);
      break;
    case Arch::kQwen2:
      c["use_sliding_window"] = false;
      break;
    case Arch::kPhi3: {
      std::vector<float> long_f = longrope_factors(s, true), short_f = longrope_factors(s, false);
      c["rope_scaling"] = {{"type", "longrope"},
                           {"long_factor", std::vector<double>(long_f.begin(), long_f.end())},
                           {"short_factor", std::vector<double>(short_f.begin(), short_f.end())}};
      c["original_max_position_embeddings"] = s.original_max_position_embeddings;
      c["sliding_window"] = s.sliding_window > 0 ? nlohmann::json(s.sliding_window) : nlohmann::json(nullptr);
      break;
    }
  }
  return c;
}

// A generated tensor's bytes in the HF dtype.
struct HfBuffer {
  std::vector<float> f32;
  std::vector<uint16_t> half;
  std::span<const std::byte> bytes() const {
    return f32.empty() ? std::as_bytes(std::span(half)) : std::as_bytes(std::span(f32));
  }
};

HfBuffer hf_bytes(const SyntheticModelSpec& s, const WeightDesc& d) {
  HfBuffer b;
  std::vector<float> v = generate(s, d);
  if (s.hf_dtype == StoredType::kF32) {
    b.f32 = std::move(v);
  } else {
    b.half.resize(v.size());
    const bool f16 = s.hf_dtype == StoredType::kF16;
    parallel_for(static_cast<int64_t>(v.size()), int64_t{1} << 16, [&](int64_t begin, int64_t end) {
      for (auto i = static_cast<size_t>(begin); i < static_cast<size_t>(end); ++i) b.half[i] = f16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
    });
  }
  return b;
}

// ---- GGUF weight types (llama.cpp's llama-quantize recipes) ------------------------------

// llama.cpp's llama_ftype numbers, written as general.file_type.
uint32_t gguf_file_type(GgufRecipe r) {
  switch (r) {
    case GgufRecipe::kF32: return 0;      // ALL_F32
    case GgufRecipe::kF16: return 1;      // MOSTLY_F16
    case GgufRecipe::kQ4_0: return 2;     // MOSTLY_Q4_0
    case GgufRecipe::kQ8_0: return 7;     // MOSTLY_Q8_0
    case GgufRecipe::kQ4_K_M: return 15;  // MOSTLY_Q4_K_M
    case GgufRecipe::kBF16: return 32;    // MOSTLY_BF16
  }
  return 0;
}

bool fits(ggml::Type type, int64_t row_length) {
  return row_length % ggml::type_traits(static_cast<uint32_t>(type))->block_elements == 0;
}

// The type of one weight, as llama.cpp's llama_tensor_get_type (src/llama-quant.cpp) chooses it
// for these file types, with no importance matrix and no overrides:
//   - Vectors (norms, biases) stay F32; f32/f16/bf16 put every matrix in that type (llama.cpp
//     applies no per-tensor rule to unquantized file types).
//   - The default type is Q8_0, Q4_0 or Q4_K (q8_0, q4_0, q4_k_m).
//   - output.weight, or token_embd.weight when there is no output.weight (tied embeddings):
//     Q6_K, unless the default is Q8_0 (then Q8_0). An untied token_embd.weight keeps the
//     default type: llama.cpp's Q4_0 and Q4_K_M files have a Q4_0 / Q4_K token_embd and a Q6_K
//     output.
//   - q4_k_m only: attn_v.weight and ffn_down.weight of layer i of n are Q6_K where
//     use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2 (integer division; the
//     first and last eighth of the layers and every third layer between), Q4_K elsewhere;
//     phi3's fused attn_qkv.weight is Q5_K.
//   - A row length (innermost dimension) that is not a multiple of the chosen type's block
//     falls back as in llama.cpp: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0 (blocks of 32), and
//     to F16 when the row is not a multiple of 32 either (llama.cpp refuses such a row for
//     Q4_0/Q8_0; we store it in F16 instead).
ggml::Type gguf_weight_type(GgufRecipe recipe, const WeightDesc& d, int64_t num_layers, bool has_output) {
  if (d.shape.size() < 2) return ggml::Type::kF32;
  switch (recipe) {
    case GgufRecipe::kF32: return ggml::Type::kF32;
    case GgufRecipe::kF16: return ggml::Type::kF16;
    case GgufRecipe::kBF16: return ggml::Type::kBF16;
    default: break;
  }
  const ggml::Type base = recipe == GgufRecipe::kQ8_0 ? ggml::Type::kQ8_0
                          : recipe == GgufRecipe::kQ4_0 ? ggml::Type::kQ4_0
                                                        : ggml::Type::kQ4_K;
  auto use_more_bits = [](int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; };
  const std::string_view name = d.gguf_name;
  ggml::Type type = base;
  if (name == "output.weight" || (!has_output && name == "token_embd.weight")) {
    if (base != ggml::Type::kQ8_0) type = ggml::Type::kQ6_K;
  } else if (recipe == GgufRecipe::kQ4_K_M) {
    if ((name.ends_with(".attn_v.weight") || name.ends_with(".ffn_down.weight")) && use_more_bits(d.layer, num_layers)) {
      type = ggml::Type::kQ6_K;
    } else if (name.ends_with(".attn_qkv.weight")) {
      type = ggml::Type::kQ5_K;
    }
  }
  const int64_t row = d.shape.back();
  if (!fits(type, row)) {
    switch (type) {
      case ggml::Type::kQ4_K: type = ggml::Type::kQ5_0; break;
      case ggml::Type::kQ5_K: type = ggml::Type::kQ5_1; break;
      case ggml::Type::kQ6_K: type = ggml::Type::kQ8_0; break;
      default: break;
    }
    if (!fits(type, row)) type = ggml::Type::kF16;
  }
  return type;
}

// Encodes a row-major [rows, row_length] tensor, rows in parallel (the encoders are pure).
std::vector<std::byte> encode_rows(ggml::Type type, const std::vector<float>& values, int64_t row_length) {
  const int64_t rows = static_cast<int64_t>(values.size()) / row_length;
  const auto row_size = static_cast<size_t>(ggml::row_bytes(type, row_length));
  std::vector<std::byte> dst(static_cast<size_t>(rows) * row_size);
  parallel_for(rows, std::max<int64_t>(1, (int64_t{1} << 16) / row_length), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      ggml::quantize_row(type, values.data() + r * row_length, dst.data() + static_cast<size_t>(r) * row_size, row_length);
    }
  });
  return dst;
}

constexpr std::pair<std::string_view, GgufRecipe> kRecipeNames[] = {
    {"f32", GgufRecipe::kF32},   {"f16", GgufRecipe::kF16},   {"bf16", GgufRecipe::kBF16},
    {"q8_0", GgufRecipe::kQ8_0}, {"q4_0", GgufRecipe::kQ4_0}, {"q4_k_m", GgufRecipe::kQ4_K_M},
};

// ---- GGUF form ---------------------------------------------------------------------------

struct GgufMetadata {
  std::vector<std::pair<std::string, gguf::Value>> entries;
  void add(std::string key, gguf::Value v) { entries.emplace_back(std::move(key), std::move(v)); }
  void add_u32(std::string key, int64_t v) { add(std::move(key), gguf::Value{static_cast<uint32_t>(v)}); }
  void add_f32(std::string key, double v) { add(std::move(key), gguf::Value{static_cast<float>(v)}); }
};

GgufMetadata gguf_metadata(const SyntheticModelSpec& s, Arch arch, const std::string& name) {
  GgufMetadata m;
  m.add("general.architecture", gguf::string_value(name));
  m.add("general.name", gguf::string_value("synthetic-" + s.arch));
  m.add_u32("general.file_type", gguf_file_type(s.gguf_recipe));
  if (is_quantized(s.gguf_recipe)) m.add_u32("general.quantization_version", 2);  // ggml's GGML_QNT_VERSION
  m.add_u32(name + ".context_length", s.max_position_embeddings);
  m.add_u32(name + ".embedding_length", s.hidden_size);
  m.add_u32(name + ".block_count", s.num_layers);
  m.add_u32(name + ".feed_forward_length", s.intermediate_size);
  m.add_u32(name + ".attention.head_count", s.num_heads);
  m.add_u32(name + ".attention.head_count_kv", s.num_kv_heads);
  m.add_f32(name + ".attention.layer_norm_rms_epsilon", s.rms_norm_eps);
  m.add_f32(name + ".rope.freq_base", s.rope_theta);
  m.add_u32(name + ".rope.dimension_count", s.head_dim);
  m.add_u32(name + ".attention.key_length", s.head_dim);
  m.add_u32(name + ".attention.value_length", s.head_dim);
  m.add_u32(name + ".vocab_size", s.vocab_size);
  if (arch == Arch::kPhi3) {
    m.add_u32(name + ".rope.scaling.original_context_length", s.original_max_position_embeddings);
    m.add_f32(name + ".rope.scaling.attn_factor", longrope_attention_factor(s));
    m.add_u32(name + ".attention.sliding_window", s.sliding_window);  // llama.cpp's converter writes 0 for "none"
  }
  return m;
}

std::span<const std::byte> f32_bytes(const std::vector<float>& v) { return std::as_bytes(std::span(v)); }

}  // namespace

std::optional<GgufRecipe> parse_gguf_recipe(std::string_view name) {
  if (name == "int8") return GgufRecipe::kQ8_0;
  if (name == "int4") return GgufRecipe::kQ4_0;
  for (const auto& [n, r] : kRecipeNames) {
    if (n == name) return r;
  }
  return std::nullopt;
}

std::string_view to_string(GgufRecipe recipe) {
  for (const auto& [n, r] : kRecipeNames) {
    if (r == recipe) return n;
  }
  return "?";
}

bool is_quantized(GgufRecipe recipe) {
  return recipe == GgufRecipe::kQ8_0 || recipe == GgufRecipe::kQ4_0 || recipe == GgufRecipe::kQ4_K_M;
}

int64_t synthetic_parameter_count(const SyntheticModelSpec& spec) {
  int64_t n = 0;
  for (const auto& unit : describe(spec, validate(spec))) {
    for (const WeightDesc& d : unit) n += checked_numel(d.shape, d.gguf_name);
  }
  return n;
}

void write_synthetic_hf(const SyntheticModelSpec& spec, const fs::path& dir) {
  const Arch arch = validate(spec);
  if (is_quantized(spec.gguf_recipe)) {
    fail(ErrorCode::kInvalidArgument,
         "synthetic model: gguf_recipe {} is for the GGUF form; the HF safetensors form holds f32/f16/bf16 only (hf_dtype)",
         to_string(spec.gguf_recipe));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(ErrorCode::kIo, "cannot create '{}': {}", dir.string(), ec.message());
  {
    std::ofstream out(dir / "config.json", std::ios::trunc);
    out << hf_config(spec, arch).dump(2) << "\n";
    if (!out.flush()) fail(ErrorCode::kIo, "cannot write '{}'", (dir / "config.json").string());
  }

  write_synthetic_tokenizer_hf(synthetic_vocab(spec.vocab_size), dir);

  const std::vector<std::vector<WeightDesc>> units = describe(spec, arch);
  std::vector<const WeightDesc*> all;
  std::vector<size_t> shard_of;
  for (size_t u = 0; u < units.size(); ++u) {
    for (const WeightDesc& d : units[u]) {
      all.push_back(&d);
      shard_of.push_back(u * static_cast<size_t>(spec.shards) / units.size());
    }
  }
  std::vector<HfBuffer> buffers(all.size());
  for (size_t i = 0; i < all.size(); ++i) buffers[i] = hf_bytes(spec, *all[i]);

  std::vector<std::vector<safetensors::WriteTensor>> shards(static_cast<size_t>(spec.shards));
  for (size_t i = 0; i < all.size(); ++i) {
    shards[shard_of[i]].push_back({all[i]->hf_name, spec.hf_dtype, all[i]->shape, buffers[i].bytes()});
  }
  if (spec.shards == 1) {
    safetensors::write(dir / "model.safetensors", shards[0], {{"format", "pt"}});
  } else {
    safetensors::write_sharded(dir, shards);
  }
}

void write_synthetic_gguf(const SyntheticModelSpec& spec, const fs::path& file) {
  const Arch arch = validate(spec);
  if (file.has_parent_path()) {  // like the HF form, create the folder the file goes in
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    if (ec) fail(ErrorCode::kIo, "cannot create '{}': {}", file.parent_path().string(), ec.message());
  }
  const std::string arch_name = is_llama_arch(arch) ? "llama" : arch == Arch::kQwen2 ? "qwen2" : "phi3";
  const GgufMetadata metadata = gguf_metadata(spec, arch, arch_name);

  // Small tensors computed up front (RoPE tables), then the weights, one tensor at a time.
  std::vector<std::pair<std::string, std::vector<float>>> extra;
  if (arch == Arch::kLlama3) extra.emplace_back("rope_freqs.weight", llama3_rope_divisors(spec));
  if (arch == Arch::kPhi3) {
    extra.emplace_back("rope_factors_long.weight", longrope_factors(spec, true));
    extra.emplace_back("rope_factors_short.weight", longrope_factors(spec, false));
  }
  const std::vector<std::vector<WeightDesc>> units = describe(spec, arch);

  gguf::Writer writer(3, 32);
  for (const auto& [key, value] : metadata.entries) writer.add(key, value);
  add_synthetic_tokenizer_gguf(synthetic_vocab(spec.vocab_size), writer);
  for (const auto& [name, values] : extra) writer.add_tensor(name, ggml::Type::kF32, {static_cast<int64_t>(values.size())}, f32_bytes(values));
  // Weights are generated (and encoded) while the file is written, one tensor at a time.
  const bool has_output = !spec.tie_word_embeddings;
  for (const auto& u : units) {
    for (const WeightDesc& d : u) {
      const ggml::Type type = gguf_weight_type(spec.gguf_recipe, d, spec.num_layers, has_output);
      writer.add_deferred_tensor(d.gguf_name, type, d.shape, [&spec, d, type] {
        std::vector<float> v = generate(spec, d);
        if (d.permute_heads) v = permute_for_adjacent_pairs(v, d.shape, d.permute_heads);
        if (type == ggml::Type::kF32) {
          auto bytes = f32_bytes(v);
          return std::vector<std::byte>(bytes.begin(), bytes.end());
        }
        return encode_rows(type, v, d.shape.back());
      });
    }
  }
  writer.write(file);
}

}  // namespace llmrt
