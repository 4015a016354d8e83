// Weight compression: a Hugging Face folder, a GGUF file or a container in, an .llmrt
// container out (store/container.h), with a per-tensor error report. What `llmrt-convert -m`
// runs; docs/compression.md says what each mode costs.
//
// Which tensor gets which type:
//   - vectors (norms, biases, RoPE factors: anything not 2-D) stay f32;
//   - f16 / bf16 modes: every matrix in that type;
//   - int8 / int8_asym modes: every matrix in that type, grouped by `group_size`;
//   - 4-bit modes (int4, int4_asym, mxfp4): the linear layers' matrices in the 4-bit type, and
//     the token embeddings and the output projection in the backup type (int8 for int4 and
//     mxfp4, int8_asym for int4_asym) unless `all_layers`. With `ratio` < 1 only that share of
//     the eligible weights (counted in weights, not layers) is 4-bit: layers are taken in order
//     of decreasing sensitivity into the backup type while that brings the backup share
//     nearer 1 - ratio. Sensitivity is the relative squared error ||W - Q4(W)||^2 / ||W||^2 of
//     the layer's own 4-bit form (NNCF's data-free weight-quantization-error criterion).
//     Ties break by name, so the choice is deterministic.
// A group size that does not divide a matrix's columns falls back, for that matrix, to the
// largest of group/2, group/4, ..., 32 that does, else to one group per row; mxfp4 (groups of
// 32 fixed by the format) falls back to the backup type (and is not counted as eligible).
// Scales are f16 unless some group's scale would overflow f16 or fall below 2^-16, where f16's
// subnormals keep too few bits (a layer of tiny weights would round to zero): then f32. The
// report gives each tensor's final type and group. --ratio and --all-layers with a mode that has
// no 4-bit layers are refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/stored_type.h"

namespace llmrt {

enum class WeightMode { kF16, kBF16, kInt8, kInt8Asym, kInt4, kInt4Asym, kMxfp4 };
std::optional<WeightMode> parse_weight_mode(std::string_view name);  // "int4", "int8_asym", ...
std::string_view to_string(WeightMode mode);
inline constexpr const char* kWeightModeNames = "f16, bf16, int8, int8_asym, int4, int4_asym, mxfp4";

struct ConvertOptions {
  WeightMode mode = WeightMode::kInt4;
  int32_t group_size = 32;  // -1: one group per row (per output channel)
  double ratio = 1.0;       // 4-bit modes: share of eligible weights in the 4-bit type
  bool all_layers = false;  // 4-bit modes: embeddings and output projection in 4 bits too
  std::string writer = "llmrt-convert";
  // Called before each tensor (index, count, name) and once at the end (count, count, "").
  std::function<void(size_t, size_t, std::string_view)> progress;
};

struct TensorReport {
  std::string name;
  std::string role;         // "embedding", "output", "linear", "vector"
  std::string source_type;  // as stored in the input
  StoredType type = StoredType::kF32;
  int32_t group_size = 0;   // as stored (0: not grouped; -1 never appears, per row is cols)
  int64_t weights = 0;
  uint64_t bytes = 0;       // all planes
  // Against the input's own values (decoded to f32): sqrt(sum (w - q)^2 / sum w^2), its SNR
  // in dB (10 log10 of sum w^2 / sum (w - q)^2; +inf when exact) and the largest |w - q|.
  double rel_rmse = 0, snr_db = 0, max_abs_err = 0;
  std::optional<double> sensitivity;  // 4-bit modes with ratio < 1: the layer's sensitivity
};

struct ConvertReport {
  std::vector<TensorReport> tensors;  // file order
  uint64_t input_bytes = 0, output_bytes = 0;  // tensor bytes
  int64_t weights = 0;
  // 4-bit modes: weights in the 4-bit type / weights eligible for it.
  double four_bit_share = 0;
  double seconds = 0;
};

// Writes the container into `output` (a folder, created; it must not exist, or be an earlier
// container when `replace`). Errors name the input, the tensor and what is wrong.
ConvertReport convert_model(const std::filesystem::path& input, const std::filesystem::path& output,
                            const ConvertOptions& options, bool replace = false);

// The report as a tab-separated table with a header line (what llmrt-convert writes beside the
// model as conversion_report.tsv).
std::string report_tsv(const ConvertReport& report);
inline constexpr const char* kReportFile = "conversion_report.tsv";

}  // namespace llmrt
