// llmrt-convert: model conversion. Today only --synthetic is implemented: it writes a model of a
// named shape with random weights and a working tokenizer, so demos, tests and benchmarks need
// no download. Converting a real model (-m ... --group-size/--ratio/--all-layers) is not built yet.
//
//   llmrt-convert --synthetic PRESET -o OUT [--arch ARCH] [--gguf] [--weights MODE] [--seed S]
//     PRESET: tiny (hidden 64, 2 layers), small (hidden 512, 8 layers), llama-3.2-1b (real shape)
//     ARCH:   llama (default; llama3 RoPE for llama-3.2-1b), llama3, mistral, qwen2, phi3
//     OUT:    a folder (Hugging Face layout), or with --gguf a .gguf file
//     MODE:   f32 | f16 | bf16 (the safetensors dtype, or every GGUF matrix), or with --gguf
//             llama-quantize's recipes q8_0 (alias int8) | q4_0 (alias int4) | q4_k_m
//             (runtime/synthetic_model.cpp lists which tensor gets which type). Without
//             --weights: the preset's dtype for the HF folder (bf16 for llama-3.2-1b), f32 GGUF.
// At the end it prints the bytes written and the bytes per weight.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "llmrt/error.hpp"
#include "runtime/synthetic_model.h"

namespace {

namespace fs = std::filesystem;

constexpr const char* kModes = "f32, f16, bf16, q8_0, q4_0, q4_k_m, int8 (= q8_0), int4 (= q4_0)";

int usage(const char* why = nullptr) {
  if (why) std::fprintf(stderr, "llmrt-convert: %s\n", why);
  std::fprintf(stderr,
               "usage: llmrt-convert --synthetic PRESET -o OUT [--arch ARCH] [--gguf] [--weights MODE] [--seed S]\n"
               "  PRESET: tiny | small | llama-3.2-1b;  ARCH: llama | llama3 | mistral | qwen2 | phi3\n"
               "  MODE:   f32 | f16 | bf16, or with --gguf q8_0 | q4_0 | q4_k_m (int8 = q8_0, int4 = q4_0)\n"
               "  (converting real models with -m MODEL is not implemented yet)\n");
  return 2;
}

bool preset(const std::string& name, llmrt::SyntheticModelSpec* s) {
  if (name == "tiny") {
    s->vocab_size = 512;
    s->hidden_size = 64;
    s->num_layers = 2;
    s->num_heads = 4;
    s->num_kv_heads = 2;
    s->head_dim = 16;
    s->intermediate_size = 128;
    s->max_position_embeddings = 512;
  } else if (name == "small") {
    s->vocab_size = 4096;
    s->hidden_size = 512;
    s->num_layers = 8;
    s->num_heads = 8;
    s->num_kv_heads = 4;
    s->head_dim = 64;
    s->intermediate_size = 1536;
    s->max_position_embeddings = 2048;
  } else if (name == "llama-3.2-1b") {
    s->arch = "llama3";
    s->vocab_size = 128256;
    s->hidden_size = 2048;
    s->num_layers = 16;
    s->num_heads = 32;
    s->num_kv_heads = 8;
    s->head_dim = 64;
    s->intermediate_size = 8192;
    s->max_position_embeddings = 131072;
    s->rope_theta = 500000.0;
    s->original_max_position_embeddings = 8192;
    s->rope_factor = 32.0;
    s->tie_word_embeddings = true;
    s->hf_dtype = llmrt::StoredType::kBF16;
    s->init_std = 0.02f;
  } else {
    return false;
  }
  s->original_max_position_embeddings = std::min(s->original_max_position_embeddings, s->max_position_embeddings);
  return true;
}

// Bytes of a file, or of every file under a folder.
uintmax_t bytes_written(const fs::path& out) {
  if (!fs::is_directory(out)) return fs::file_size(out);
  uintmax_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(out)) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset_name, out, arch, weights;
  bool gguf = false;
  llmrt::SyntheticModelSpec spec;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (k == "--synthetic") {
      const char* v = value();
      if (!v) return usage("--synthetic needs a preset");
      preset_name = v;
    } else if (k == "-o") {
      const char* v = value();
      if (!v) return usage("-o needs a path");
      out = v;
    } else if (k == "--arch") {
      const char* v = value();
      if (!v) return usage("--arch needs a name");
      arch = v;
    } else if (k == "--seed") {
      const char* v = value();
      if (!v) return usage("--seed needs a number");
      spec.seed = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (k == "--gguf") {
      gguf = true;
    } else if (k == "--weights") {
      const char* v = value();
      if (!v) return usage((std::string("--weights needs a mode (") + kModes + ")").c_str());
      weights = v;
    } else if (k == "-m" || k == "--group-size" || k == "--ratio" || k == "--all-layers") {
      std::fprintf(stderr, "llmrt-convert: %s: converting real models is not implemented yet; only --synthetic works today\n",
                   k.c_str());
      return 1;
    } else {
      return usage(("unknown option " + k).c_str());
    }
  }
  if (preset_name.empty() || out.empty()) return usage("--synthetic PRESET and -o OUT are required");
  if (!preset(preset_name, &spec)) return usage(("unknown preset '" + preset_name + "'").c_str());
  if (!arch.empty()) spec.arch = arch;
  if (!weights.empty()) {
    const std::optional<llmrt::GgufRecipe> recipe = llmrt::parse_gguf_recipe(weights);
    if (!recipe) return usage(("unknown --weights mode '" + weights + "' (valid: " + kModes + ")").c_str());
    if (gguf) {
      spec.gguf_recipe = *recipe;
    } else if (llmrt::is_quantized(*recipe)) {
      return usage(("--weights " + weights +
                    ": quantized synthetic weights need --gguf (the HF safetensors form holds f32/f16/bf16 only; "
                    "our compressed container is not built yet)")
                       .c_str());
    } else {
      spec.hf_dtype = *recipe == llmrt::GgufRecipe::kF16    ? llmrt::StoredType::kF16
                      : *recipe == llmrt::GgufRecipe::kBF16 ? llmrt::StoredType::kBF16
                                                            : llmrt::StoredType::kF32;
    }
  }
  try {
    const auto start = std::chrono::steady_clock::now();
    if (gguf) llmrt::write_synthetic_gguf(spec, out);
    else llmrt::write_synthetic_hf(spec, out);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const uintmax_t bytes = bytes_written(out);
    const int64_t weight_count = llmrt::synthetic_parameter_count(spec);
    const std::string form = gguf ? "GGUF " + std::string(llmrt::to_string(spec.gguf_recipe))
                                  : "HF " + std::string(llmrt::to_string(spec.hf_dtype));
    std::fprintf(stderr, "wrote a synthetic %s model (%s, random weights, %s) to %s in %.1f s\n", spec.arch.c_str(),
                 preset_name.c_str(), form.c_str(), out.c_str(), seconds);
    std::fprintf(stderr, "%ju bytes (%.3f GB), %lld weights, %.3f bytes per weight\n", bytes, static_cast<double>(bytes) / 1e9,
                 static_cast<long long>(weight_count), static_cast<double>(bytes) / static_cast<double>(weight_count));
  } catch (const llmrt::Error& e) {
    std::fprintf(stderr, "llmrt-convert: %s\n", e.what());
    return 1;
  } catch (const fs::filesystem_error& e) {
    std::fprintf(stderr, "llmrt-convert: %s\n", e.what());
    return 1;
  }
  return 0;
}
