// llmrt-convert: weight compression into our .llmrt container, and synthetic models.
//
//   llmrt-convert -m INPUT -o OUT --weights MODE [--group-size G] [--ratio R] [--all-layers] [--force]
//     INPUT: a Hugging Face folder, a .gguf file or an .llmrt container; OUT: the container
//            folder to write (docs/formats.md); MODE: f16 | bf16 | int8 | int8_asym | int4 |
//            int4_asym | mxfp4 (runtime/converter.h says which tensor gets which type).
//     A progress bar on a terminal (plain lines otherwise), a summary table at the end, and
//     OUT/conversion_report.tsv with every tensor's relative RMSE and SNR.
//
//   llmrt-convert --synthetic PRESET -o OUT [--arch ARCH] [--gguf] [--weights MODE] [--seed S]
//     PRESET: tiny (hidden 64, 2 layers), small (hidden 512, 8 layers), llama-3.2-1b (real shape)
//     ARCH:   llama (default; llama3 RoPE for llama-3.2-1b), llama3, mistral, qwen2, phi3
//     OUT:    a folder (Hugging Face layout), or with --gguf a .gguf file
//     MODE:   f32 | f16 | bf16 (the safetensors dtype, or every GGUF matrix); with --gguf
//             llama-quantize's recipes q8_0 | q4_0 | q4_k_m (runtime/synthetic_model.cpp lists
//             which tensor gets which type); without --gguf also the container modes above
//             (int8, int4, ...: the random model is written in HF form, then converted).
//             Without --weights: the preset's dtype for the HF folder (bf16 for llama-3.2-1b),
//             f32 GGUF.
// At the end it prints the bytes written and the bytes per weight.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include "llmrt/error.hpp"
#include "llmrt/version.h"
#include "runtime/converter.h"
#include "runtime/synthetic_model.h"

namespace {

namespace fs = std::filesystem;

constexpr const char* kSyntheticModes =
    "f32, f16, bf16; with --gguf q8_0, q4_0, q4_k_m (int8 = q8_0, int4 = q4_0); without --gguf also the container modes "
    "int8, int8_asym, int4, int4_asym, mxfp4";

int usage(const char* why = nullptr) {
  if (why) std::fprintf(stderr, "llmrt-convert: %s\n", why);
  std::fprintf(stderr,
               "usage: llmrt-convert -m INPUT -o OUT --weights MODE [--group-size G] [--ratio R] [--all-layers] [--force]\n"
               "         INPUT: Hugging Face folder, .gguf file or .llmrt container; OUT: container folder\n"
               "         MODE:  f16 | bf16 | int8 | int8_asym | int4 | int4_asym | mxfp4\n"
               "         G:     32 (default) | 64 | 128 | -1 (per output channel); R: share of eligible weights in 4 bits (1)\n"
               "       llmrt-convert --synthetic PRESET -o OUT [--arch ARCH] [--gguf] [--weights MODE] [--seed S]\n"
               "         PRESET: tiny | small | llama-3.2-1b;  ARCH: llama | llama3 | mistral | qwen2 | phi3\n"
               "         MODE:   f32 | f16 | bf16, with --gguf q8_0 | q4_0 | q4_k_m, else also a container mode\n");
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

// A bar on a terminal, plain lines otherwise (one per tensor, so logs stay readable).
class Progress {
 public:
  Progress() : tty_(::isatty(STDERR_FILENO) != 0) {}
  void operator()(size_t done, size_t total, std::string_view name) {
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = total ? static_cast<int>(kWidth * done / total) : kWidth;
      std::string line = fmt::format("\r[{}{}] {:>4}/{} {}", std::string(filled, '#'), std::string(kWidth - filled, '.'),
                                     done, total, name.substr(0, 60));
      std::fprintf(stderr, "%-110s", line.c_str());
      if (done == total && name.empty()) std::fprintf(stderr, "\n");
    } else if (!name.empty()) {
      std::fprintf(stderr, "[%zu/%zu] %.*s\n", done + 1, total, static_cast<int>(name.size()), name.data());
    }
    std::fflush(stderr);
  }

 private:
  bool tty_;
};

void print_summary(const llmrt::ConvertReport& r, const fs::path& out) {
  struct Row {
    int tensors = 0;
    int64_t weights = 0;
    uint64_t bytes = 0;
    double sig_weighted_mse = 0;  // sum over tensors of rel_mse * weights
    double min_snr = std::numeric_limits<double>::infinity();
  };
  std::map<std::string, Row> by_type;
  for (const auto& t : r.tensors) {
    Row& row = by_type[fmt::format("{}{}", llmrt::to_string(t.type), t.group_size > 0 ? fmt::format(" g{}", t.group_size) : "")];
    row.tensors++;
    row.weights += t.weights;
    row.bytes += t.bytes;
    row.sig_weighted_mse += t.rel_rmse * t.rel_rmse * static_cast<double>(t.weights);
    row.min_snr = std::min(row.min_snr, t.snr_db);
  }
  fmt::print("\n{:<16} {:>8} {:>14} {:>14} {:>9} {:>10} {:>12}\n", "type", "tensors", "weights", "bytes", "bits/w",
             "rel RMSE", "min SNR dB");
  for (const auto& [type, row] : by_type) {
    fmt::print("{:<16} {:>8} {:>14} {:>14} {:>9.3f} {:>10.4f} {:>12}\n", type, row.tensors, row.weights, row.bytes,
               8.0 * static_cast<double>(row.bytes) / static_cast<double>(std::max<int64_t>(row.weights, 1)),
               std::sqrt(row.sig_weighted_mse / static_cast<double>(std::max<int64_t>(row.weights, 1))),
               std::isinf(row.min_snr) ? std::string("exact") : fmt::format("{:.1f}", row.min_snr));
  }
  fmt::print("\n{} weights: {} -> {} tensor bytes ({:.3f} bits per weight, {:.2f}x smaller)", r.weights, r.input_bytes,
             r.output_bytes, 8.0 * static_cast<double>(r.output_bytes) / static_cast<double>(std::max<int64_t>(r.weights, 1)),
             static_cast<double>(r.input_bytes) / static_cast<double>(std::max<uint64_t>(r.output_bytes, 1)));
  if (r.four_bit_share > 0) fmt::print("; {:.1f}% of the eligible weights in 4 bits", 100 * r.four_bit_share);
  fmt::print("\nwrote {} in {:.1f} s; per-tensor errors in {}\n", out.string(), r.seconds, (out / llmrt::kReportFile).string());
}

int convert(const std::string& input, const std::string& out, llmrt::ConvertOptions options, bool force) {
  Progress progress;
  options.progress = std::ref(progress);
  const llmrt::ConvertReport r = llmrt::convert_model(input, out, options, force);
  print_summary(r, out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset_name, out, arch, weights, input;
  bool gguf = false, force = false;
  llmrt::SyntheticModelSpec spec;
  llmrt::ConvertOptions options;
  options.writer = std::string("llmrt-convert ") + LLMRT_VERSION_STRING;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto number = [&](const char* v, double* x) {
      char* end = nullptr;
      *x = v ? std::strtod(v, &end) : 0;
      return v && end != v && *end == 0;
    };
    if (k == "--synthetic") {
      const char* v = value();
      if (!v) return usage("--synthetic needs a preset");
      preset_name = v;
    } else if (k == "-m") {
      const char* v = value();
      if (!v) return usage("-m needs a model (Hugging Face folder, .gguf file or container)");
      input = v;
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
    } else if (k == "--force") {
      force = true;
    } else if (k == "--all-layers") {
      options.all_layers = true;
    } else if (k == "--weights") {
      const char* v = value();
      if (!v) return usage("--weights needs a mode");
      weights = v;
    } else if (k == "--group-size") {
      double g;
      if (!number(value(), &g) || g != std::floor(g) || std::fabs(g) > (1 << 30)) return usage("--group-size needs an integer");
      options.group_size = static_cast<int32_t>(g);
    } else if (k == "--ratio") {
      double r;
      if (!number(value(), &r)) return usage("--ratio needs a number in [0, 1]");
      options.ratio = r;
    } else {
      return usage(("unknown option " + k).c_str());
    }
  }
  try {
    if (!input.empty()) {
      if (!preset_name.empty()) return usage("-m and --synthetic exclude each other");
      if (out.empty()) return usage("-o OUT is required");
      if (weights.empty()) return usage((std::string("--weights MODE is required (") + llmrt::kWeightModeNames + ")").c_str());
      const auto mode = llmrt::parse_weight_mode(weights);
      if (!mode) return usage(("unknown --weights mode '" + weights + "' (valid: " + llmrt::kWeightModeNames + ")").c_str());
      if (gguf) return usage("--gguf is for --synthetic; -m writes an .llmrt container");
      options.mode = *mode;
      return convert(input, out, options, force);
    }
    if (preset_name.empty() || out.empty()) return usage("-m INPUT (or --synthetic PRESET) and -o OUT are required");
    if (!preset(preset_name, &spec)) return usage(("unknown preset '" + preset_name + "'").c_str());
    if (!arch.empty()) spec.arch = arch;
    std::optional<llmrt::WeightMode> container_mode;
    if (!weights.empty()) {
      const std::optional<llmrt::GgufRecipe> recipe = llmrt::parse_gguf_recipe(weights);
      if (!gguf && (!recipe || llmrt::is_quantized(*recipe))) container_mode = llmrt::parse_weight_mode(weights);
      if (container_mode) {
        // written as an f32 HF folder, then converted
      } else if (!recipe) {
        return usage(("unknown --weights mode '" + weights + "' (valid: " + kSyntheticModes + ")").c_str());
      } else if (gguf) {
        spec.gguf_recipe = *recipe;
      } else if (llmrt::is_quantized(*recipe)) {
        return usage(("--weights " + weights + ": GGUF recipes need --gguf").c_str());
      } else {
        spec.hf_dtype = *recipe == llmrt::GgufRecipe::kF16    ? llmrt::StoredType::kF16
                        : *recipe == llmrt::GgufRecipe::kBF16 ? llmrt::StoredType::kBF16
                                                              : llmrt::StoredType::kF32;
      }
    }
    const auto start = std::chrono::steady_clock::now();
    if (container_mode) {
      const fs::path source = out + ".synthetic-source-" + std::to_string(::getpid());
      fs::remove_all(source);
      struct Remove {
        fs::path p;
        ~Remove() {
          std::error_code ec;
          fs::remove_all(p, ec);
        }
      } remove{source};
      llmrt::write_synthetic_hf(spec, source);
      options.mode = *container_mode;
      return convert(source.string(), out, options, force);
    }
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
    std::fprintf(stderr, "\nllmrt-convert: %s\n", e.what());
    return 1;
  } catch (const fs::filesystem_error& e) {
    std::fprintf(stderr, "\nllmrt-convert: %s\n", e.what());
    return 1;
  }
  return 0;
}
