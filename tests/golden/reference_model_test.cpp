// Tests of the two halves of the golden setup: the synthetic model writer
// (src/runtime/synthetic_model.cpp) and the float64 reference forward pass (golden/reference_model.h).
#include "golden/reference_model.h"
#include "util/mapped_file.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <numbers>
#include <set>
#include <span>
#include <tuple>

#include "runtime/synthetic_model.h"
#include "store/gguf.h"
#include "store/safetensors.h"
#include "store/test_files.h"
#include "util/half.h"

namespace llmrt {
namespace {

namespace fs = std::filesystem;
using golden::ReferenceModel;
using nlohmann::json;
using testing_util::fails_with;
using testing_util::read_bytes;
using testing_util::TempDir;

using Logits = std::vector<std::vector<double>>;

SyntheticModelSpec spec_for(const std::string& arch, bool tied = false) {
  SyntheticModelSpec s;
  s.arch = arch;
  s.tie_word_embeddings = tied;
  return s;
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

void write_json(const fs::path& p, const json& j) { std::ofstream(p) << j.dump(2); }

std::map<std::string, Tensor> by_name(const TensorSet& set) {
  std::map<std::string, Tensor> out;
  for (const Tensor& t : set.tensors()) out.emplace(t.name, t);
  return out;
}

// Copies an HF folder, letting `edit` change its config.json.
void copy_folder(const fs::path& src, const fs::path& dst, const std::function<void(json&)>& edit) {
  fs::create_directories(dst);
  for (const auto& entry : fs::directory_iterator(src)) fs::copy(entry.path(), dst / entry.path().filename());
  json config = read_json(src / "config.json");
  edit(config);
  write_json(dst / "config.json", config);
}

double max_abs_diff(const Logits& a, const Logits& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t t = 0; t < std::min(a.size(), b.size()); ++t) {
    EXPECT_EQ(a[t].size(), b[t].size());
    for (size_t i = 0; i < std::min(a[t].size(), b[t].size()); ++i) m = std::max(m, std::abs(a[t][i] - b[t][i]));
  }
  return m;
}

std::vector<int32_t> some_tokens(size_t n, int32_t vocab, int32_t salt = 0) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((7 * i + 3 + static_cast<size_t>(salt) * 13) % static_cast<size_t>(vocab));
  return t;
}

// ---- what the files must hold, written out independently of the writer ---------------------

struct Expected {
  std::string hf, gguf;
  Shape shape;
};

std::vector<Expected> expected_tensors(const SyntheticModelSpec& s) {
  const int64_t h = s.hidden_size, hd = s.head_dim, q = s.num_heads * hd, kv = s.num_kv_heads * hd, f = s.intermediate_size;
  std::vector<Expected> e{{"model.embed_tokens.weight", "token_embd.weight", {s.vocab_size, h}},
                          {"model.norm.weight", "output_norm.weight", {h}}};
  if (!s.tie_word_embeddings) e.push_back({"lm_head.weight", "output.weight", {s.vocab_size, h}});
  for (int64_t l = 0; l < s.num_layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".", b = "blk." + std::to_string(l) + ".";
    e.push_back({p + "input_layernorm.weight", b + "attn_norm.weight", {h}});
    e.push_back({p + "post_attention_layernorm.weight", b + "ffn_norm.weight", {h}});
    e.push_back({p + "self_attn.o_proj.weight", b + "attn_output.weight", {h, q}});
    e.push_back({p + "mlp.down_proj.weight", b + "ffn_down.weight", {h, f}});
    if (s.arch == "phi3") {
      e.push_back({p + "self_attn.qkv_proj.weight", b + "attn_qkv.weight", {q + 2 * kv, h}});
      e.push_back({p + "mlp.gate_up_proj.weight", b + "ffn_up.weight", {2 * f, h}});
      continue;
    }
    e.push_back({p + "self_attn.q_proj.weight", b + "attn_q.weight", {q, h}});
    e.push_back({p + "self_attn.k_proj.weight", b + "attn_k.weight", {kv, h}});
    e.push_back({p + "self_attn.v_proj.weight", b + "attn_v.weight", {kv, h}});
    e.push_back({p + "mlp.gate_proj.weight", b + "ffn_gate.weight", {f, h}});
    e.push_back({p + "mlp.up_proj.weight", b + "ffn_up.weight", {f, h}});
    if (s.arch == "qwen2") {
      e.push_back({p + "self_attn.q_proj.bias", b + "attn_q.bias", {q}});
      e.push_back({p + "self_attn.k_proj.bias", b + "attn_k.bias", {kv}});
      e.push_back({p + "self_attn.v_proj.bias", b + "attn_v.bias", {kv}});
    }
  }
  return e;
}

bool is_llama_family(const std::string& arch) { return arch == "llama" || arch == "llama3" || arch == "mistral"; }

// llama.cpp stores q/k rows so that adjacent pairs (2i, 2i+1) of a head are HF's (i, i + hd/2):
// HF row h*hd + j*hd/2 + i lives at GGUF row h*hd + 2i + j.
std::vector<float> unpermute(const std::vector<float>& gguf_rows, int64_t rows, int64_t cols, int64_t heads) {
  const int64_t hd = rows / heads;
  std::vector<float> hf(gguf_rows.size());
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t head = r / hd, within = r % hd, j = within / (hd / 2), i = within % (hd / 2);
    const int64_t from = head * hd + 2 * i + j;
    for (int64_t c = 0; c < cols; ++c) hf[static_cast<size_t>(r * cols + c)] = gguf_rows[static_cast<size_t>(from * cols + c)];
  }
  return hf;
}

// llama3 rule, written from the Llama 3.1 reference code: divisor of the unscaled frequency.
double llama3_divisor(const SyntheticModelSpec& s, int64_t i) {
  const double freq = 1.0 / std::pow(s.rope_theta, static_cast<double>(2 * i) / static_cast<double>(s.head_dim));
  const double wavelen = 2 * std::numbers::pi / freq;
  const double orig = static_cast<double>(s.original_max_position_embeddings);
  if (wavelen < orig / s.high_freq_factor) return 1.0;
  if (wavelen > orig / s.low_freq_factor) return s.rope_factor;
  const double smooth = (orig / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  const double scaled = (1 - smooth) * freq / s.rope_factor + smooth * freq;
  return freq / scaled;
}

// ---- synthetic writer: per-architecture checks ---------------------------------------------

struct ArchCase {
  std::string arch;
  bool tied;
};

void PrintTo(const ArchCase& c, std::ostream* os) { *os << c.arch << (c.tied ? " (tied)" : ""); }

class SyntheticArch : public ::testing::TestWithParam<ArchCase> {};

TEST_P(SyntheticArch, HfFolderHasTransformersNamesShapesAndConfig) {
  const SyntheticModelSpec s = spec_for(GetParam().arch, GetParam().tied);
  TempDir dir;
  write_synthetic_hf(s, dir.path());

  const json c = read_json(dir / "config.json");
  const std::map<std::string, std::string> classes{{"llama", "LlamaForCausalLM"}, {"llama3", "LlamaForCausalLM"},
                                                   {"mistral", "MistralForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"},
                                                   {"phi3", "Phi3ForCausalLM"}};
  EXPECT_EQ(c["architectures"], json::array({classes.at(s.arch)}));
  EXPECT_EQ(c["model_type"], s.arch == "llama3" ? "llama" : s.arch);
  EXPECT_EQ(c["hidden_size"], 64);
  EXPECT_EQ(c["intermediate_size"], 96);
  EXPECT_EQ(c["num_hidden_layers"], 2);
  EXPECT_EQ(c["num_attention_heads"], 4);
  EXPECT_EQ(c["num_key_value_heads"], 2);
  EXPECT_EQ(c["head_dim"], 16);
  EXPECT_EQ(c["rms_norm_eps"], 1e-5);
  EXPECT_EQ(c["rope_theta"], 10000.0);
  EXPECT_EQ(c["max_position_embeddings"], 128);
  EXPECT_EQ(c["vocab_size"], 96);
  EXPECT_EQ(c["tie_word_embeddings"], s.tie_word_embeddings);
  EXPECT_EQ(c["bos_token_id"], 1);
  EXPECT_EQ(c["eos_token_id"], 2);
  EXPECT_EQ(c["torch_dtype"], "float32");
  EXPECT_EQ(c["hidden_act"], "silu");
  if (s.arch == "llama") {
    EXPECT_TRUE(c.contains("rope_scaling") && c["rope_scaling"].is_null());
    EXPECT_EQ(c["attention_bias"], false);
  } else if (s.arch == "llama3") {
    EXPECT_EQ(c["rope_scaling"], (json{{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 32}}));
  } else if (s.arch == "mistral") {
    EXPECT_TRUE(c.contains("sliding_window") && c["sliding_window"].is_null());
  } else if (s.arch == "phi3") {
    EXPECT_EQ(c["rope_scaling"]["type"], "longrope");
    EXPECT_EQ(c["rope_scaling"]["long_factor"].size(), 8u);
    EXPECT_EQ(c["rope_scaling"]["short_factor"].size(), 8u);
    EXPECT_EQ(c["original_max_position_embeddings"], 32);
  }

  const safetensors::File f = safetensors::read_model(dir.path());
  const auto expected = expected_tensors(s);
  EXPECT_EQ(f.tensors.size(), expected.size());
  for (const Expected& e : expected) {
    const Tensor* t = f.tensors.find(e.hf);
    ASSERT_NE(t, nullptr) << e.hf;
    EXPECT_EQ(t->shape, e.shape) << e.hf;
    EXPECT_EQ(t->type, StoredType::kF32) << e.hf;
  }
}

TEST_P(SyntheticArch, GgufHasLlamaCppNamesShapesAndMetadata) {
  const SyntheticModelSpec s = spec_for(GetParam().arch, GetParam().tied);
  TempDir dir;
  write_synthetic_gguf(s, dir / "m.gguf");
  const gguf::File f = gguf::File::read(dir / "m.gguf");

  const std::string a = is_llama_family(s.arch) ? "llama" : s.arch;
  auto as_int = [&](const std::string& key) { return f.at(key).as_int(key); };
  auto as_float = [&](const std::string& key) { return f.at(key).as_float(key); };
  EXPECT_EQ(f.at("general.architecture").as_string("arch"), a);
  EXPECT_FALSE(f.at("general.name").as_string("name").empty());
  EXPECT_EQ(as_int(a + ".context_length"), 128);
  EXPECT_EQ(as_int(a + ".embedding_length"), 64);
  EXPECT_EQ(as_int(a + ".block_count"), 2);
  EXPECT_EQ(as_int(a + ".feed_forward_length"), 96);
  EXPECT_EQ(as_int(a + ".attention.head_count"), 4);
  EXPECT_EQ(as_int(a + ".attention.head_count_kv"), 2);
  EXPECT_EQ(as_float(a + ".attention.layer_norm_rms_epsilon"), static_cast<double>(1e-5f));
  EXPECT_EQ(as_float(a + ".rope.freq_base"), 10000.0);
  EXPECT_EQ(as_int(a + ".rope.dimension_count"), 16);
  EXPECT_EQ(as_int(a + ".attention.key_length"), 16);
  EXPECT_EQ(as_int(a + ".attention.value_length"), 16);
  EXPECT_EQ(as_int(a + ".vocab_size"), 96);
  EXPECT_EQ(f.at("tokenizer.ggml.model").as_string("model"), "llama");
  const gguf::Array& tokens = f.at("tokenizer.ggml.tokens").as_array("tokens");
  ASSERT_EQ(tokens.strings.size(), 96u);
  EXPECT_EQ(tokens.strings[0], "<unk>");
  EXPECT_EQ(tokens.strings[1], "<s>");
  EXPECT_EQ(tokens.strings[2], "</s>");
  EXPECT_EQ(tokens.strings[3], "\xE2\x96\x81") << "SentencePiece's word-start piece comes first";
  EXPECT_EQ(tokens.strings[4], "a");
  EXPECT_TRUE(f.find("tokenizer.chat_template") != nullptr);
  EXPECT_EQ(f.at("tokenizer.ggml.scores").as_array("scores").count, 96u);
  const gguf::Array& types = f.at("tokenizer.ggml.token_type").as_array("token_type");
  ASSERT_EQ(types.count, 96u);
  EXPECT_EQ(types.integer(0), 2);  // UNKNOWN
  EXPECT_EQ(types.integer(1), 3);  // CONTROL
  EXPECT_EQ(types.integer(50), 1);  // NORMAL
  EXPECT_EQ(as_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(as_int("tokenizer.ggml.eos_token_id"), 2);
  if (s.arch == "phi3") {
    EXPECT_EQ(as_int("phi3.rope.scaling.original_context_length"), 32);
    EXPECT_FLOAT_EQ(as_float("phi3.rope.scaling.attn_factor"), std::sqrt(1 + std::log(4.0) / std::log(32.0)));
  }

  std::set<std::string> want;
  const TensorSet tensors = f.tensors();
  for (const Expected& e : expected_tensors(s)) {
    want.insert(e.gguf);
    const Tensor* t = tensors.find(e.gguf);
    ASSERT_NE(t, nullptr) << e.gguf;
    EXPECT_EQ(t->shape, e.shape) << e.gguf;
    EXPECT_EQ(t->type, StoredType::kF32) << e.gguf;
  }
  if (s.arch == "llama3") want.insert("rope_freqs.weight");
  if (s.arch == "phi3") want.insert({"rope_factors_long.weight", "rope_factors_short.weight"});
  std::set<std::string> have;
  for (const Tensor& t : tensors.tensors()) have.insert(t.name);
  EXPECT_EQ(have, want);
  for (const char* rope : {"rope_freqs.weight", "rope_factors_long.weight", "rope_factors_short.weight"}) {
    if (const Tensor* t = tensors.find(rope)) {
      EXPECT_EQ(t->shape, Shape{8}) << rope;
    }
  }
}

TEST_P(SyntheticArch, BothFormsHoldTheSameWeights) {
  const SyntheticModelSpec s = spec_for(GetParam().arch, GetParam().tied);
  TempDir dir;
  write_synthetic_hf(s, dir / "hf");
  write_synthetic_gguf(s, dir / "m.gguf");
  const auto hf = by_name(safetensors::read_model(dir / "hf").tensors);
  const auto gg = by_name(gguf::File::read(dir / "m.gguf").tensors());
  for (const Expected& e : expected_tensors(s)) {
    std::vector<float> want = hf.at(e.hf).to_f32();
    std::vector<float> got = gg.at(e.gguf).to_f32();
    const bool permuted = is_llama_family(s.arch) && (e.hf.ends_with("q_proj.weight") || e.hf.ends_with("k_proj.weight"));
    if (permuted) {
      const int64_t heads = e.hf.ends_with("q_proj.weight") ? s.num_heads : s.num_kv_heads;
      EXPECT_NE(got, want) << e.gguf << " should be stored permuted";
      got = unpermute(got, e.shape[0], e.shape[1], heads);
    }
    EXPECT_EQ(got, want) << e.gguf;
  }
}

TEST_P(SyntheticArch, StreamedGgufIsByteIdenticalToTheStoreWriter) {
  const SyntheticModelSpec s = spec_for(GetParam().arch, GetParam().tied);
  TempDir dir;
  write_synthetic_gguf(s, dir / "m.gguf");
  const gguf::File f = gguf::File::read(dir / "m.gguf");
  gguf::Writer w;
  for (const auto& [key, value] : f.metadata) w.add(key, value);
  const TensorSet tensors = f.tensors();
  for (const Tensor& t : tensors.tensors()) w.add_tensor(t);
  EXPECT_EQ(w.bytes(), read_bytes(dir / "m.gguf"));
}

INSTANTIATE_TEST_SUITE_P(Archs, SyntheticArch,
                         ::testing::Values(ArchCase{"llama", false}, ArchCase{"llama3", false}, ArchCase{"mistral", false},
                                           ArchCase{"qwen2", false}, ArchCase{"phi3", false}, ArchCase{"qwen2", true}),
                         [](const auto& test) { return test.param.arch + (test.param.tied ? "_tied" : ""); });

// ---- synthetic writer: RoPE tables, determinism, shards, dtypes ------------------------------

TEST(SyntheticModel, Llama3RopeFreqsFollowTheLlama3Rule) {
  const SyntheticModelSpec s = spec_for("llama3");
  TempDir dir;
  write_synthetic_gguf(s, dir / "m.gguf");
  std::vector<float> got = gguf::File::read(dir / "m.gguf").tensors().at("rope_freqs.weight").to_f32();
  ASSERT_EQ(got.size(), 8u);
  int unchanged = 0, scaled = 0, smoothed = 0;
  for (int64_t i = 0; i < 8; ++i) {
    const double want = llama3_divisor(s, i);
    EXPECT_FLOAT_EQ(got[static_cast<size_t>(i)], static_cast<float>(want)) << i;
    if (want == 1.0) {
      ++unchanged;
    } else if (want == s.rope_factor) {
      ++scaled;
    } else {
      ++smoothed;
      EXPECT_GT(want, 1.0);
      EXPECT_LT(want, s.rope_factor);
    }
  }
  // The default spec (head_dim 16, theta 1e4, original 32) exercises all three regions.
  EXPECT_GT(unchanged, 0);
  EXPECT_GT(scaled, 0);
  EXPECT_GT(smoothed, 0);
}

TEST(SyntheticModel, Phi3FactorsAreTheSameInBothForms) {
  const SyntheticModelSpec s = spec_for("phi3");
  TempDir dir;
  write_synthetic_hf(s, dir / "hf");
  write_synthetic_gguf(s, dir / "m.gguf");
  const json rs = read_json(dir / "hf" / "config.json")["rope_scaling"];
  const TensorSet t = gguf::File::read(dir / "m.gguf").tensors();
  for (auto [key, tensor, lo, hi] : {std::tuple{"long_factor", "rope_factors_long.weight", 1.0, 4.0},
                                     std::tuple{"short_factor", "rope_factors_short.weight", 1.0, 1.5}}) {
    std::vector<double> json_values = rs[key].get<std::vector<double>>();
    std::vector<float> gguf_values = t.at(tensor).to_f32();
    ASSERT_EQ(json_values.size(), gguf_values.size());
    std::set<double> distinct;
    for (size_t i = 0; i < json_values.size(); ++i) {
      EXPECT_EQ(json_values[i], static_cast<double>(gguf_values[i])) << key << " " << i;
      EXPECT_GE(json_values[i], lo);
      EXPECT_LE(json_values[i], hi);
      distinct.insert(json_values[i]);
    }
    EXPECT_GT(distinct.size(), 4u) << key << " should be random";
  }
}

TEST(SyntheticModel, SameSeedGivesSameBytesAndAnotherSeedOtherWeights) {
  for (const std::string arch : {"llama", "phi3"}) {
    SyntheticModelSpec s = spec_for(arch);
    TempDir dir;
    write_synthetic_hf(s, dir / "a");
    write_synthetic_hf(s, dir / "b");
    write_synthetic_gguf(s, dir / "a.gguf");
    write_synthetic_gguf(s, dir / "b.gguf");
    EXPECT_EQ(read_bytes(dir / "a" / "model.safetensors"), read_bytes(dir / "b" / "model.safetensors"));
    EXPECT_EQ(read_bytes(dir / "a" / "config.json"), read_bytes(dir / "b" / "config.json"));
    EXPECT_EQ(read_bytes(dir / "a.gguf"), read_bytes(dir / "b.gguf"));

    s.seed = 2;
    write_synthetic_hf(s, dir / "c");
    const auto a = by_name(safetensors::read_model(dir / "a").tensors);
    const auto c = by_name(safetensors::read_model(dir / "c").tensors);
    ASSERT_EQ(a.size(), c.size());
    for (const auto& [name, t] : a) EXPECT_NE(t.to_f32(), c.at(name).to_f32()) << name;
  }
}

TEST(SyntheticModel, TensorsDoNotDependOnTheRestOfTheModel) {
  SyntheticModelSpec two = spec_for("llama"), three = two;
  three.num_layers = 3;
  TempDir dir;
  write_synthetic_hf(two, dir / "two");
  write_synthetic_hf(three, dir / "three");
  const auto a = by_name(safetensors::read_model(dir / "two").tensors);
  const auto b = by_name(safetensors::read_model(dir / "three").tensors);
  for (const auto& [name, t] : a) EXPECT_EQ(t.to_f32(), b.at(name).to_f32()) << name;
  // Different tensors of the same shape get different values.
  EXPECT_NE(a.at("model.layers.0.self_attn.q_proj.weight").to_f32(), a.at("model.layers.1.self_attn.q_proj.weight").to_f32());
}

TEST(SyntheticModel, ShardedFolderHoldsTheSameTensors) {
  SyntheticModelSpec s = spec_for("qwen2");
  TempDir dir;
  write_synthetic_hf(s, dir / "one");
  s.shards = 3;
  write_synthetic_hf(s, dir / "three");
  EXPECT_TRUE(fs::exists(dir / "three" / "model.safetensors.index.json"));
  for (int k = 1; k <= 3; ++k) {
    EXPECT_TRUE(fs::exists(dir / "three" / ("model-0000" + std::to_string(k) + "-of-00003.safetensors")));
  }
  EXPECT_FALSE(fs::exists(dir / "three" / "model.safetensors"));
  const json index = read_json(dir / "three" / "model.safetensors.index.json");
  // A layer stays in one shard.
  const auto& map = index["weight_map"];
  EXPECT_EQ(map["model.layers.1.self_attn.q_proj.weight"], map["model.layers.1.mlp.down_proj.weight"]);
  EXPECT_NE(map["model.embed_tokens.weight"], map["lm_head.weight"]);

  const auto a = by_name(safetensors::read_model(dir / "one").tensors);
  const auto b = by_name(safetensors::read_model(dir / "three").tensors);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_EQ(t.to_f32(), b.at(name).to_f32()) << name;

  s.shards = static_cast<int>(s.num_layers) + 3;
  EXPECT_TRUE(fails_with([&] { write_synthetic_hf(s, dir / "bad"); }, ErrorCode::kInvalidArgument, {"shards"}));
}

TEST(SyntheticModel, HalfPrecisionHfValuesEqualTheGgufFloats) {
  for (StoredType type : {StoredType::kF16, StoredType::kBF16}) {
    SyntheticModelSpec s = spec_for("llama");
    s.hf_dtype = type;
    TempDir dir;
    write_synthetic_hf(s, dir / "hf");
    write_synthetic_gguf(s, dir / "m.gguf");
    EXPECT_EQ(read_json(dir / "hf" / "config.json")["torch_dtype"], type == StoredType::kF16 ? "float16" : "bfloat16");
    const auto hf = by_name(safetensors::read_model(dir / "hf").tensors);
    const auto gg = by_name(gguf::File::read(dir / "m.gguf").tensors());
    for (const Expected& e : expected_tensors(s)) {
      const Tensor& t = hf.at(e.hf);
      EXPECT_EQ(t.type, type) << e.hf;
      std::vector<float> got = gg.at(e.gguf).to_f32();
      if (e.hf.ends_with("q_proj.weight")) got = unpermute(got, e.shape[0], e.shape[1], s.num_heads);
      if (e.hf.ends_with("k_proj.weight")) got = unpermute(got, e.shape[0], e.shape[1], s.num_kv_heads);
      EXPECT_EQ(got, t.to_f32()) << e.gguf;
    }
    // The rounding is real: f32 weights of the same seed are not all representable in the half type.
    SyntheticModelSpec f32 = s;
    f32.hf_dtype = StoredType::kF32;
    write_synthetic_hf(f32, dir / "f32");
    const std::vector<float> full = safetensors::read_model(dir / "f32").tensors.at("lm_head.weight").to_f32();
    const std::vector<float> half = hf.at("lm_head.weight").to_f32();
    EXPECT_NE(full, half);
    for (size_t i = 0; i < full.size(); ++i) {
      const float rounded = type == StoredType::kF16 ? f16_to_f32(f32_to_f16(full[i])) : bf16_to_f32(f32_to_bf16(full[i]));
      ASSERT_EQ(rounded, half[i]) << i;
    }
  }
}

TEST(SyntheticModel, WeightStatisticsFollowTheSpec) {
  SyntheticModelSpec s = spec_for("qwen2");
  s.hidden_size = 128;
  s.intermediate_size = 256;
  s.init_std = 0.02f;
  TempDir dir;
  write_synthetic_hf(s, dir.path());
  const safetensors::File f = safetensors::read_model(dir.path());
  auto moments = [&](const std::string& name) {
    std::vector<float> v = f.tensors.at(name).to_f32();
    double sum = 0, sq = 0;
    for (float x : v) sum += x;
    const double mean = sum / static_cast<double>(v.size());
    for (float x : v) sq += (x - mean) * (x - mean);
    return std::pair{mean, std::sqrt(sq / static_cast<double>(v.size()))};
  };
  auto [w_mean, w_std] = moments("model.layers.0.mlp.gate_proj.weight");  // 32768 values
  EXPECT_NEAR(w_mean, 0.0, 0.001);
  EXPECT_NEAR(w_std, 0.02, 0.001);
  auto [n_mean, n_std] = moments("model.layers.1.input_layernorm.weight");  // 128 values
  EXPECT_NEAR(n_mean, 1.0, 0.04);
  EXPECT_NEAR(n_std, 0.1, 0.025);
  auto [b_mean, b_std] = moments("model.layers.0.self_attn.q_proj.bias");  // 64 values
  EXPECT_NEAR(b_mean, 0.0, 0.025);
  EXPECT_NEAR(b_std, 0.05, 0.015);
}

TEST(SyntheticModel, RejectsInconsistentSpecs) {
  TempDir dir;
  auto expect_invalid = [&](SyntheticModelSpec s, const std::string& needle) {
    EXPECT_TRUE(fails_with([&] { write_synthetic_hf(s, dir / "hf"); }, ErrorCode::kInvalidArgument, {needle}));
    EXPECT_TRUE(fails_with([&] { write_synthetic_gguf(s, dir / "m.gguf"); }, ErrorCode::kInvalidArgument, {needle}));
  };
  SyntheticModelSpec s = spec_for("gpt2");
  expect_invalid(s, "gpt2");
  s = spec_for("llama");
  s.num_kv_heads = 3;
  expect_invalid(s, "num_kv_heads");
  s = spec_for("llama");
  s.head_dim = 15;
  expect_invalid(s, "head_dim");
  s = spec_for("llama");
  s.hf_dtype = StoredType::kInt8Sym;
  expect_invalid(s, "hf_dtype");
  s = spec_for("phi3");
  s.hidden_size = 48;
  expect_invalid(s, "phi3");
}

// ---- reference forward pass --------------------------------------------------------------

class ReferenceArch : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceArch, PromptAtOnceEqualsTokenByToken) {
  TempDir dir;
  write_synthetic_hf(spec_for(GetParam()), dir.path());
  ReferenceModel m = ReferenceModel::load_hf(dir.path());
  EXPECT_EQ(m.vocab_size(), 96);
  const std::vector<int32_t> tokens = some_tokens(12, 96);  // within phi3's original context (32)
  const Logits at_once = m.forward(tokens);
  EXPECT_EQ(m.n_past(), 12);
  m.reset();
  EXPECT_EQ(m.n_past(), 0);
  Logits one_by_one;
  for (int32_t t : tokens) one_by_one.push_back(m.forward({t})[0]);
  EXPECT_LT(max_abs_diff(at_once, one_by_one), 1e-9);
  // Chunks of different sizes through the cache agree too.
  m.reset();
  Logits chunks = m.forward({tokens.begin(), tokens.begin() + 5});
  for (auto& row : m.forward({tokens.begin() + 5, tokens.end()})) chunks.push_back(row);
  EXPECT_LT(max_abs_diff(at_once, chunks), 1e-9);
  // The logits are not degenerate: tokens differ, and so do positions.
  EXPECT_GT(max_abs_diff({at_once[0]}, {at_once[1]}), 1e-3);
}

TEST_P(ReferenceArch, LaterTokensDoNotChangeEarlierLogits) {
  TempDir dir;
  write_synthetic_hf(spec_for(GetParam()), dir.path());
  ReferenceModel m = ReferenceModel::load_hf(dir.path());
  std::vector<int32_t> a = some_tokens(10, 96), b = a;
  b[6] = (b[6] + 1) % 96;
  b[9] = (b[9] + 5) % 96;
  const Logits la = m.forward(a);
  m.reset();
  const Logits lb = m.forward(b);
  for (size_t t = 0; t < 6; ++t) EXPECT_EQ(la[t], lb[t]) << t;
  for (size_t t = 6; t < 10; ++t) EXPECT_GT(max_abs_diff({la[t]}, {lb[t]}), 1e-6) << t;
}

INSTANTIATE_TEST_SUITE_P(Archs, ReferenceArch, ::testing::Values("llama", "llama3", "mistral", "qwen2", "phi3"));

// GQA: a model whose kv heads are duplicated into num_heads heads computes the same function.
TEST(ReferenceModel, GqaEqualsDuplicatedKvHeads) {
  for (const std::string arch : {"llama", "qwen2", "phi3"}) {
    const SyntheticModelSpec s = spec_for(arch);
    TempDir dir;
    write_synthetic_hf(s, dir / "gqa");
    const int64_t hd = s.head_dim, hidden = s.hidden_size, group = s.num_heads / s.num_kv_heads;
    const int64_t q_rows = s.num_heads * hd, kv_rows = s.num_kv_heads * hd;
    // Head h of the new model is kv head h / group of the old one.
    auto tile = [&](const std::vector<float>& kv, int64_t cols) {
      std::vector<float> out;
      for (int64_t h = 0; h < s.num_heads; ++h) {
        const auto first = kv.begin() + (h / group) * hd * cols;
        out.insert(out.end(), first, first + hd * cols);
      }
      return out;
    };
    std::vector<std::pair<std::string, std::pair<Shape, std::vector<float>>>> tensors;
    const safetensors::File gqa_file = safetensors::read_model(dir / "gqa");
    for (const Tensor& t : gqa_file.tensors.tensors()) {
      std::vector<float> v = t.to_f32();
      Shape shape = t.shape;
      const bool fused = t.name.ends_with("qkv_proj.weight");  // also ends with "v_proj.weight"
      if (!fused && (t.name.ends_with("k_proj.weight") || t.name.ends_with("v_proj.weight"))) {
        v = tile(v, hidden);
        shape = {q_rows, hidden};
      } else if (t.name.ends_with("k_proj.bias") || t.name.ends_with("v_proj.bias")) {
        v = tile(v, 1);
        shape = {q_rows};
      } else if (fused) {
        std::vector<float> q(v.begin(), v.begin() + q_rows * hidden);
        std::vector<float> k(v.begin() + q_rows * hidden, v.begin() + (q_rows + kv_rows) * hidden);
        std::vector<float> vv(v.begin() + (q_rows + kv_rows) * hidden, v.end());
        std::vector<float> k_tiled = tile(k, hidden), v_tiled = tile(vv, hidden);
        v = q;
        v.insert(v.end(), k_tiled.begin(), k_tiled.end());
        v.insert(v.end(), v_tiled.begin(), v_tiled.end());
        shape = {3 * q_rows, hidden};
      }
      tensors.push_back({t.name, {shape, std::move(v)}});
    }
    ASSERT_GT(tensors.size(), 0u);
    fs::create_directories(dir / "mha");
    std::vector<safetensors::WriteTensor> out;
    for (const auto& [name, sv] : tensors) out.push_back({name, StoredType::kF32, sv.first, std::as_bytes(std::span(sv.second))});
    safetensors::write(dir / "mha" / "model.safetensors", out);
    json config = read_json(dir / "gqa" / "config.json");
    config["num_key_value_heads"] = s.num_heads;
    write_json(dir / "mha" / "config.json", config);

    ReferenceModel gqa = ReferenceModel::load_hf(dir / "gqa");
    ReferenceModel mha = ReferenceModel::load_hf(dir / "mha");
    const std::vector<int32_t> tokens = some_tokens(9, 96, 1);
    EXPECT_LT(max_abs_diff(gqa.forward(tokens), mha.forward(tokens)), 1e-12) << arch;
  }
}

// A 1-layer model small enough to follow by hand: hidden 4, one head of dim 4, ffn 1, eps 0.
//   embed: token 0 = [1, 1, 1, 1], token 1 = [1, 1, 1, -1] (both have rms 1, so rmsnorm leaves them)
//   q = [h2, 0, 0, 0], k = [0, 0, h2, 0] (h2 = 1 for both tokens), v = diag(1, 2, 3, 4) h, o = identity
//   post-attention norm weight [0.5, 1, 1, 1]; gate = h[0], up = h[1], down adds [m, 0, 0, -m]
//   final norm weight 1; lm_head picks components 0, 1 and 3.
class HandModel : public ::testing::Test {
 protected:
  void SetUp() override {
    json config = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 4},
                   {"intermediate_size", 1}, {"num_hidden_layers", 1}, {"num_attention_heads", 1},
                   {"num_key_value_heads", 1}, {"head_dim", 4}, {"rms_norm_eps", 0.0}, {"rope_theta", 10000.0},
                   {"max_position_embeddings", 16}, {"vocab_size", 3}, {"tie_word_embeddings", false},
                   {"hidden_act", "silu"}, {"rope_scaling", nullptr}};
    write_json(dir_ / "config.json", config);
    std::vector<std::pair<std::string, std::pair<Shape, std::vector<float>>>> w{
        {"model.embed_tokens.weight", {{3, 4}, {1, 1, 1, 1, 1, 1, 1, -1, 2, 0, 0, 0}}},
        {"model.layers.0.input_layernorm.weight", {{4}, {1, 1, 1, 1}}},
        {"model.layers.0.self_attn.q_proj.weight", {{4, 4}, {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}},
        {"model.layers.0.self_attn.k_proj.weight", {{4, 4}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0}}},
        {"model.layers.0.self_attn.v_proj.weight", {{4, 4}, {1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4}}},
        {"model.layers.0.self_attn.o_proj.weight", {{4, 4}, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}}},
        {"model.layers.0.post_attention_layernorm.weight", {{4}, {0.5f, 1, 1, 1}}},
        {"model.layers.0.mlp.gate_proj.weight", {{1, 4}, {1, 0, 0, 0}}},
        {"model.layers.0.mlp.up_proj.weight", {{1, 4}, {0, 1, 0, 0}}},
        {"model.layers.0.mlp.down_proj.weight", {{4, 1}, {1, 0, 0, -1}}},
        {"model.norm.weight", {{4}, {1, 1, 1, 1}}},
        {"lm_head.weight", {{3, 4}, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1}}},
    };
    std::vector<safetensors::WriteTensor> out;
    for (const auto& [name, sv] : w) out.push_back({name, StoredType::kF32, sv.first, std::as_bytes(std::span(sv.second))});
    safetensors::write(dir_ / "model.safetensors", out);
  }

  // The rest of the layer and the head for a residual x1 after attention, by hand.
  static std::vector<double> logits_after_attention(const std::array<double, 4>& x1) {
    const double r = 1.0 / std::sqrt((x1[0] * x1[0] + x1[1] * x1[1] + x1[2] * x1[2] + x1[3] * x1[3]) / 4);
    const double gate = 0.5 * x1[0] * r, up = x1[1] * r;
    const double m = gate / (1 + std::exp(-gate)) * up;
    const std::array<double, 4> x2{x1[0] + m, x1[1], x1[2], x1[3] - m};
    const double r2 = 1.0 / std::sqrt((x2[0] * x2[0] + x2[1] * x2[1] + x2[2] * x2[2] + x2[3] * x2[3]) / 4);
    return {x2[0] * r2, x2[1] * r2, x2[3] * r2};
  }

  TempDir dir_;
};

TEST_F(HandModel, OneTokenAttendsOnlyToItself) {
  ReferenceModel m = ReferenceModel::load_hf(dir_.path());
  // Token 0 at position 0: h = [1, 1, 1, 1], attention returns v = [1, 2, 3, 4], x1 = x + v.
  const Logits got = m.forward({0});
  const std::vector<double> want = logits_after_attention({2, 3, 4, 5});
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(got[0][i], want[i], 1e-14) << i;
}

TEST_F(HandModel, SecondTokenSeesRotateHalfRope) {
  ReferenceModel m = ReferenceModel::load_hf(dir_.path());
  const Logits got = m.forward({0, 1});
  // Position 1 turns the pair (0, 2) by 1 radian (inv_freq_0 = 1): q1 = [cos 1, 0, sin 1, 0];
  // the key of position 0 is [0, 0, 1, 0], the key of position 1 is [-sin 1, 0, cos 1, 0].
  // Scores (scaled by 1/2): sin(1)/2 and 0. (Adjacent-pair RoPE would give 0 and 0.)
  const double s0 = std::sin(1.0) / 2, p0 = std::exp(s0) / (std::exp(s0) + 1), p1 = 1 - p0;
  // v0 = [1, 2, 3, 4], v1 = [1, 2, 3, -4]; x1 = embed(1) + p0 v0 + p1 v1.
  const std::vector<double> want = logits_after_attention({2, 3, 4, -1 + 4 * p0 - 4 * p1});
  ASSERT_EQ(got.size(), 2u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(got[1][i], want[i], 1e-14) << i;
  const std::vector<double> first = logits_after_attention({2, 3, 4, 5});
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(got[0][i], first[i], 1e-14) << i;
}

TEST(ReferenceModel, Phi3SwitchesToLongFactorsPastTheOriginalContext) {
  const SyntheticModelSpec s = spec_for("phi3");  // original 32, max 128
  TempDir dir;
  write_synthetic_hf(s, dir / "phi3");
  // Same weights, long factors replaced by the short ones.
  copy_folder(dir / "phi3", dir / "short_only", [](json& c) { c["rope_scaling"]["long_factor"] = c["rope_scaling"]["short_factor"]; });
  ReferenceModel real = ReferenceModel::load_hf(dir / "phi3");
  ReferenceModel short_only = ReferenceModel::load_hf(dir / "short_only");

  // Up to original_max positions (32 tokens: largest position id + 1 = 32) the long factors are unused.
  const std::vector<int32_t> within = some_tokens(32, 96);
  EXPECT_EQ(max_abs_diff(real.forward(within), short_only.forward(within)), 0.0);
  real.reset();
  short_only.reset();
  // 33 tokens switch every position of the call to the long factors.
  const std::vector<int32_t> beyond = some_tokens(33, 96);
  const Logits long_logits = real.forward(beyond), short_logits = short_only.forward(beyond);
  EXPECT_EQ(long_logits[0], short_logits[0]);  // position 0: no rotation, and the same attention factor
  EXPECT_GT(max_abs_diff({long_logits[1]}, {short_logits[1]}), 1e-6);
  EXPECT_GT(max_abs_diff({long_logits[32]}, {short_logits[32]}), 1e-6);

  // The choice is per call: 30 tokens (short factors, cached) then 3 more (long factors for
  // the new ones only) differs from 33 at once, as in transformers; with equal factor sets it cannot.
  real.reset();
  Logits split = real.forward({beyond.begin(), beyond.begin() + 30});
  for (auto& row : real.forward({beyond.begin() + 30, beyond.end()})) split.push_back(row);
  EXPECT_GT(max_abs_diff({split[32]}, {long_logits[32]}), 1e-6);
  EXPECT_LT(max_abs_diff({split.begin(), split.begin() + 30}, {short_logits.begin(), short_logits.begin() + 30}), 1e-9);
  short_only.reset();
  Logits split_short = short_only.forward({beyond.begin(), beyond.begin() + 30});
  for (auto& row : short_only.forward({beyond.begin() + 30, beyond.end()})) split_short.push_back(row);
  EXPECT_LT(max_abs_diff(split_short, short_logits), 1e-9);
}

TEST(ReferenceModel, Phi3AttentionFactorScalesCosAndSin) {
  // With max_position_embeddings == original the attention factor is 1; a larger max
  // position count makes it sqrt(1 + ln 4 / ln 32) and so scales every attention score.
  SyntheticModelSpec s = spec_for("phi3");
  TempDir dir;
  write_synthetic_hf(s, dir / "a");
  copy_folder(dir / "a", dir / "b", [](json& c) { c["max_position_embeddings"] = 32; });
  ReferenceModel a = ReferenceModel::load_hf(dir / "a"), b = ReferenceModel::load_hf(dir / "b");
  // One token attends only to itself, whatever the scores; from the second on the factor shows.
  const std::vector<int32_t> tokens{5, 9, 3};
  const Logits la = a.forward(tokens), lb = b.forward(tokens);
  EXPECT_EQ(la[0], lb[0]);
  EXPECT_GT(max_abs_diff({la[2]}, {lb[2]}), 1e-6);
  // An explicit attention_factor of 1 gives back the unscaled model.
  copy_folder(dir / "a", dir / "c", [](json& c) { c["rope_scaling"]["attention_factor"] = 1.0; });
  ReferenceModel c = ReferenceModel::load_hf(dir / "c");
  EXPECT_EQ(max_abs_diff(c.forward(tokens), lb), 0.0);
}

TEST(ReferenceModel, Llama3ScalingChangesOnlyLaterPositions) {
  TempDir dir;
  write_synthetic_hf(spec_for("llama3"), dir / "llama3");
  copy_folder(dir / "llama3", dir / "plain", [](json& c) { c["rope_scaling"] = nullptr; });
  ReferenceModel scaled = ReferenceModel::load_hf(dir / "llama3"), plain = ReferenceModel::load_hf(dir / "plain");
  const std::vector<int32_t> tokens = some_tokens(8, 96);
  const Logits a = scaled.forward(tokens), b = plain.forward(tokens);
  EXPECT_EQ(a[0], b[0]);  // position 0: RoPE is the identity either way
  EXPECT_GT(max_abs_diff({a[7]}, {b[7]}), 1e-6);
}

TEST(ReferenceModel, TiedEmbeddingsServeAsTheHead) {
  TempDir dir;
  write_synthetic_hf(spec_for("qwen2", /*tied=*/true), dir / "tied");
  EXPECT_EQ(safetensors::read_model(dir / "tied").tensors.find("lm_head.weight"), nullptr);
  // Untie by writing lm_head = embed_tokens: same logits.
  std::vector<Tensor> tensors = safetensors::read_model(dir / "tied").tensors.tensors();
  std::vector<safetensors::WriteTensor> out;
  for (const Tensor& t : tensors) out.push_back({t.name, t.type, t.shape, t.data});
  const Tensor& embed = *std::find_if(tensors.begin(), tensors.end(), [](const Tensor& t) { return t.name == "model.embed_tokens.weight"; });
  out.push_back({"lm_head.weight", embed.type, embed.shape, embed.data});
  fs::create_directories(dir / "untied");
  safetensors::write(dir / "untied" / "model.safetensors", out);
  json config = read_json(dir / "tied" / "config.json");
  config["tie_word_embeddings"] = false;
  write_json(dir / "untied" / "config.json", config);
  ReferenceModel a = ReferenceModel::load_hf(dir / "tied"), b = ReferenceModel::load_hf(dir / "untied");
  const std::vector<int32_t> tokens = some_tokens(5, 96);
  EXPECT_EQ(max_abs_diff(a.forward(tokens), b.forward(tokens)), 0.0);
}

TEST(ReferenceModel, RejectsWhatItCannotRun) {
  TempDir dir;
  write_synthetic_hf(spec_for("llama"), dir / "m");
  copy_folder(dir / "m", dir / "gpt2", [](json& c) { c["model_type"] = "gpt2"; });
  EXPECT_TRUE(fails_with([&] { ReferenceModel::load_hf(dir / "gpt2"); }, ErrorCode::kUnsupported, {"gpt2"}));
  copy_folder(dir / "m", dir / "wide", [](json& c) { c["hidden_size"] = 80; });
  EXPECT_TRUE(fails_with([&] { ReferenceModel::load_hf(dir / "wide"); }, ErrorCode::kBadFormat, {"model.embed_tokens.weight"}));
  ReferenceModel m = ReferenceModel::load_hf(dir / "m");
  EXPECT_TRUE(fails_with([&] { m.forward({96}); }, ErrorCode::kInvalidArgument, {"96"}));
}

}  // namespace
}  // namespace llmrt

namespace llmrt {
namespace {

// The synthetic tokenizer: learnt merges when there is room, the same vocabulary in
// tokenizer.json and in GGUF, byte fallback only when the 256 byte tokens fit.
TEST(SyntheticTokenizer, SameVocabularyInBothForms) {
  for (int64_t vocab : {96, 512, 2048, 32000}) {
    SCOPED_TRACE(vocab);
    SyntheticModelSpec s;
    s.vocab_size = vocab;
    TempDir dir;
    write_synthetic_hf(s, dir / "hf");
    write_synthetic_gguf(s, dir / "m.gguf");
    nlohmann::json tok = nlohmann::json::parse(read_text_file(dir / "hf" / "tokenizer.json"));
    nlohmann::json cfg = nlohmann::json::parse(read_text_file(dir / "hf" / "tokenizer_config.json"));
    const gguf::File f = gguf::File::read(dir / "m.gguf");
    const auto& tokens = f.at("tokenizer.ggml.tokens").as_array("tokens").strings;
    ASSERT_EQ(static_cast<int64_t>(tokens.size()), vocab);
    ASSERT_EQ(static_cast<int64_t>(tok["model"]["vocab"].size()), vocab) << "pieces are unique";
    for (size_t i = 0; i < tokens.size(); ++i) ASSERT_EQ(tok["model"]["vocab"][tokens[i]].get<size_t>(), i) << tokens[i];
    EXPECT_EQ(tok["model"]["byte_fallback"].get<bool>(), vocab >= 3 + 256 + 95);
    EXPECT_EQ(cfg["chat_template"].get<std::string>(), f.at("tokenizer.chat_template").as_string("t"));
    // Every merge joins two known pieces into a known piece, and ranks follow GGUF scores.
    const auto& scores = f.at("tokenizer.ggml.scores").as_array("scores");
    double last = 1e9;
    for (const auto& m : tok["model"]["merges"]) {
      std::string text = m.get<std::string>();
      size_t sp = text.find(' ');
      ASSERT_NE(sp, std::string::npos);
      std::string merged = text.substr(0, sp) + text.substr(sp + 1);
      ASSERT_TRUE(tok["model"]["vocab"].contains(merged)) << merged;
      double score = scores.number(tok["model"]["vocab"][merged].get<uint64_t>());
      EXPECT_LT(score, last) << merged;
      last = score;
    }
    if (vocab >= 512) {
      EXPECT_GT(tok["model"]["merges"].size(), 20u);
    }
  }
}

}  // namespace
}  // namespace llmrt
