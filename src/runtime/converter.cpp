#include "runtime/converter.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "runtime/model_builder.h"
#include "store/codecs.h"
#include "store/container.h"
#include "store/gguf.h"
#include "util/error.h"
#include "util/half.h"
#include "util/threads.h"

namespace llmrt {
namespace {

namespace fs = std::filesystem;

constexpr std::pair<std::string_view, WeightMode> kModes[] = {
    {"f16", WeightMode::kF16},   {"bf16", WeightMode::kBF16},          {"int8", WeightMode::kInt8},
    {"int8_asym", WeightMode::kInt8Asym}, {"int4", WeightMode::kInt4}, {"int4_asym", WeightMode::kInt4Asym},
    {"mxfp4", WeightMode::kMxfp4},
};

// The companion files a Hugging Face folder or a container may carry, copied as they are.
constexpr const char* kCompanionFiles[] = {"config.json",          "generation_config.json", "tokenizer.json",
                                           "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                                           "tokenizer.model",       container::kGgufMetadataFile};

bool is_four_bit(WeightMode m) { return m == WeightMode::kInt4 || m == WeightMode::kInt4Asym || m == WeightMode::kMxfp4; }

StoredType four_bit_type(WeightMode m) {
  return m == WeightMode::kInt4 ? StoredType::kInt4Sym : m == WeightMode::kInt4Asym ? StoredType::kInt4Asym : StoredType::kMxfp4;
}
StoredType backup_type(WeightMode m) { return m == WeightMode::kInt4Asym ? StoredType::kInt8Asym : StoredType::kInt8Sym; }

// A matrix's group: the requested one, else the largest halving >= 32 that divides cols, else
// one group per row (-1).
int32_t matrix_group(int32_t requested, int64_t cols) {
  if (requested <= 0) return -1;
  for (int64_t g = requested; g >= 32; g /= 2) {
    if (cols % g == 0 && g % 2 == 0) return static_cast<int32_t>(g);
  }
  return -1;
}

// Whether every group's scale fits f16 without overflow and with at least 8 significant
// bits: a scale below 2^-16 (f16 subnormals) would lose precision, and a layer of tiny weights
// would otherwise round to zero. Bounds from each group's largest |w|: the stored scale is at
// least max|w| / (the type's largest step count) and at most max|w| * 2 / that count.
bool f16_scales_suffice(const std::vector<float>& w, int64_t group, StoredType type) {
  if (type == StoredType::kMxfp4) return true;  // E8M0 scales, not f16
  const double steps = type == StoredType::kInt8Sym ? 127 : type == StoredType::kInt8Asym ? 255 : type == StoredType::kInt4Sym ? 8 : 15;
  const int64_t groups = static_cast<int64_t>(w.size()) / group;
  for (int64_t g = 0; g < groups; ++g) {
    float m = 0;
    for (int64_t i = g * group; i < (g + 1) * group; ++i) m = std::max(m, std::fabs(w[static_cast<size_t>(i)]));
    if (m == 0) continue;
    if (m / steps < 0x1p-16 || 2.0 * m / steps > 60000.0) return false;
  }
  return true;
}

// Quantizes (or casts) `w` into `type`; the stored group size is what the codec resolved.
Tensor encode(const Tensor& src, const std::vector<float>& w, StoredType type, int32_t group) {
  const int64_t cols = src.cols();
  switch (type) {
    case StoredType::kF32: return make_f32_tensor(src.name, src.shape, w);
    case StoredType::kF16:
    case StoredType::kBF16: {
      std::vector<std::byte> bytes(w.size() * 2);
      auto* out = reinterpret_cast<uint16_t*>(bytes.data());
      parallel_for(static_cast<int64_t>(w.size()), 1 << 16, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) out[i] = type == StoredType::kF16 ? f32_to_f16(w[i]) : f32_to_bf16(w[i]);
      });
      return make_owned_tensor(src.name, type, src.shape, std::move(bytes));
    }
    default: break;
  }
  codec::QuantizeOptions o;
  o.type = type;
  o.group_size = type == StoredType::kMxfp4 ? 32 : matrix_group(group, cols);
  o.scale_type = f16_scales_suffice(w, o.group_size > 0 ? o.group_size : cols, type) ? StoredType::kF16 : StoredType::kF32;
  return codec::quantize(src.name, src.shape, w, o);
}

struct ErrorStats {
  double rel_rmse = 0, snr_db = 0, max_abs_err = 0, rel_mse = 0;
};

ErrorStats error_stats(const std::vector<float>& w, const Tensor& q) {
  std::vector<float> back(w.size());
  q.dequantize(back.data());
  double sig = 0, err = 0, max_err = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double d = static_cast<double>(w[i]) - static_cast<double>(back[i]);
    sig += static_cast<double>(w[i]) * static_cast<double>(w[i]);
    err += d * d;
    max_err = std::max(max_err, std::fabs(d));
  }
  ErrorStats s;
  s.rel_mse = sig > 0 ? err / sig : (err > 0 ? std::numeric_limits<double>::infinity() : 0.0);
  s.rel_rmse = std::sqrt(s.rel_mse);
  s.snr_db = err > 0 ? 10.0 * std::log10(sig / err) : std::numeric_limits<double>::infinity();
  s.max_abs_err = max_err;
  return s;
}

std::string role_of(const Tensor& t, const TensorNames& names) {
  if (t.shape.size() != 2) return "vector";
  if (t.name == names.embed) return "embedding";
  if (t.name == names.lm_head) return "output";
  return "linear";
}

// The GGUF source's metadata (config, tokenizer, chat template) as a GGUF file with no tensors.
void write_gguf_metadata(const fs::path& source, const fs::path& dst) {
  const gguf::File f = gguf::File::read(source);
  gguf::Writer w(3, f.alignment);
  for (const auto& [key, value] : f.metadata) {
    if (key != "general.alignment") w.add(key, value);
  }
  w.write(dst);
}

// Checks that `output` may be written; an earlier container there is replaced only at the end,
// when the new one is complete.
void check_output(const fs::path& input, const fs::path& output, bool replace) {
  std::error_code ec;
  if (fs::exists(output, ec)) {
    if (fs::equivalent(input, output, ec) ||
        (container::is_container(input) && fs::equivalent(container::container_dir(input), output, ec))) {
      fail(ErrorCode::kInvalidArgument, "the output '{}' is the input", output.string());
    }
    if (!replace) fail(ErrorCode::kInvalidArgument, "output '{}' already exists (--force replaces an earlier container)", output.string());
    if (!container::is_container(output)) {
      fail(ErrorCode::kInvalidArgument, "output '{}' exists and is not an llmrt container; refusing to replace it", output.string());
    }
  }
}

}  // namespace

std::optional<WeightMode> parse_weight_mode(std::string_view name) {
  for (const auto& [n, m] : kModes) {
    if (n == name) return m;
  }
  return std::nullopt;
}

std::string_view to_string(WeightMode mode) {
  for (const auto& [n, m] : kModes) {
    if (m == mode) return n;
  }
  return "?";
}

ConvertReport convert_model(const fs::path& input, const fs::path& output_arg, const ConvertOptions& options, bool replace) {
  // "OUT/" names the folder OUT (its staging sibling must not land inside it).
  fs::path output = output_arg.lexically_normal();
  if (!output.has_filename() && output.has_parent_path()) output = output.parent_path();
  const auto t0 = std::chrono::steady_clock::now();
  if (options.ratio < 0 || options.ratio > 1 || !std::isfinite(options.ratio)) {
    fail(ErrorCode::kInvalidArgument, "--ratio {} is not in [0, 1]", options.ratio);
  }
  if (options.group_size == 0 || options.group_size < -1 || (options.group_size > 0 && options.group_size % 2 != 0)) {
    fail(ErrorCode::kInvalidArgument, "--group-size {} is neither -1 (per channel) nor a positive even number", options.group_size);
  }
  if (!is_four_bit(options.mode) && (options.ratio != 1.0 || options.all_layers)) {
    fail(ErrorCode::kInvalidArgument, "--ratio and --all-layers choose 4-bit layers; --weights {} has none",
         to_string(options.mode));
  }
  if (options.mode == WeightMode::kMxfp4 && options.group_size != 32) {
    fail(ErrorCode::kInvalidArgument, "--weights mxfp4 has groups of 32 fixed by the format (got --group-size {})", options.group_size);
  }
  const bool four = is_four_bit(options.mode);
  const std::shared_ptr<const LoadedModel> model = load_model(input);
  const ModelConfig& config = model->config;
  const TensorNames names = tensor_names(config.format);
  check_output(input, output, replace);

  // Write into a sibling folder and rename it into place at the end, so a failure or an
  // interruption never leaves a folder that looks like a finished container.
  const fs::path staging = output.string() + ".partial-" + std::to_string(::getpid());
  fs::remove_all(staging);
  fs::create_directories(staging);
  struct Cleanup {
    fs::path dir;
    bool keep = false;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) fs::remove_all(dir, ec);
    }
  } cleanup{staging};

  std::vector<std::string> files;
  if (container::is_container(input) || fs::is_directory(input)) {
    const fs::path dir = container::container_dir(input);
    for (const char* name : kCompanionFiles) {
      if (fs::is_regular_file(dir / name)) {
        fs::copy_file(dir / name, staging / name);
        files.push_back(name);
      }
    }
  } else {
    write_gguf_metadata(input, staging / container::kGgufMetadataFile);
    files.push_back(container::kGgufMetadataFile);
  }

  const std::vector<Tensor>& tensors = model->tensors.tensors();
  // Each tensor's role, and whether the 4-bit type may hold it (mxfp4 holds only rows that are
  // whole blocks of 32; other matrices take the backup type).
  std::vector<std::string> roles;
  std::vector<bool> eligible;
  int64_t eligible_weights = 0;
  for (const Tensor& t : tensors) {
    const std::string& role = roles.emplace_back(role_of(t, names));
    const bool e = four && !(options.mode == WeightMode::kMxfp4 && t.cols() % 32 != 0) &&
                   (role == "linear" || (options.all_layers && (role == "embedding" || role == "output")));
    eligible.push_back(e);
    if (e) eligible_weights += t.numel();
  }

  // Mixed precision: which eligible matrices go to the backup type.
  std::map<std::string, double, std::less<>> sensitivity;
  std::set<std::string, std::less<>> in_backup;
  if (four && options.ratio < 1.0) {
    std::vector<std::pair<double, const Tensor*>> order;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& t = tensors[i];
      if (!eligible[i]) continue;
      if (options.progress) options.progress(i, tensors.size(), "measuring sensitivity of " + t.name);
      const std::vector<float> w = t.to_f32();
      const double s = error_stats(w, encode(t, w, four_bit_type(options.mode), options.group_size)).rel_mse;
      sensitivity[t.name] = s;
      order.push_back({s, &t});
    }
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second->name < b.second->name;
    });
    const double target = (1.0 - options.ratio) * static_cast<double>(eligible_weights);
    double backup = 0;
    for (const auto& [s, t] : order) {
      const double with = backup + static_cast<double>(t->numel());
      if (std::fabs(with - target) < std::fabs(backup - target)) {
        backup = with;
        in_backup.insert(t->name);
      }
    }
  }

  ConvertReport report;
  nlohmann::json conversion = {{"mode", std::string(to_string(options.mode))},
                               {"group_size", options.group_size},
                               {"ratio", options.ratio},
                               {"all_layers", options.all_layers}};
  if (four) {
    conversion["backup"] = std::string(to_string(backup_type(options.mode)));
    conversion["sensitivity"] = "relative squared error of the layer's own 4-bit form";
  }
  container::Writer writer(staging, {.source_format = config.format == ModelFormat::kGguf ? "gguf" : "huggingface",
                                     .source = input.string(),
                                     .writer = options.writer,
                                     .conversion = "{}"});
  int64_t four_bit_weights = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (options.progress) options.progress(i, tensors.size(), t.name);
    const std::string& role = roles[i];
    StoredType type;
    if (role == "vector") {
      type = StoredType::kF32;
    } else if (options.mode == WeightMode::kF16 || options.mode == WeightMode::kBF16) {
      type = options.mode == WeightMode::kF16 ? StoredType::kF16 : StoredType::kBF16;
    } else if (options.mode == WeightMode::kInt8 || options.mode == WeightMode::kInt8Asym) {
      type = options.mode == WeightMode::kInt8 ? StoredType::kInt8Sym : StoredType::kInt8Asym;
    } else if (!eligible[i] || in_backup.count(t.name)) {
      type = backup_type(options.mode);
    } else {
      type = four_bit_type(options.mode);
    }
    const std::vector<float> w = t.to_f32();
    const Tensor q = encode(t, w, type, options.group_size);
    const ErrorStats e = error_stats(w, q);
    if (type == four_bit_type(options.mode) && four) four_bit_weights += t.numel();
    TensorReport r;
    r.name = t.name;
    r.role = role;
    r.source_type = std::string(to_string(t.type));
    r.type = q.type;
    r.group_size = family(q.type) == TypeFamily::kCompressed ? q.group_size : 0;
    r.weights = t.numel();
    r.bytes = q.storage_bytes();
    r.rel_rmse = e.rel_rmse;
    r.snr_db = e.snr_db;
    r.max_abs_err = e.max_abs_err;
    if (auto it = sensitivity.find(t.name); it != sensitivity.end()) r.sensitivity = it->second;
    report.input_bytes += t.storage_bytes();
    report.output_bytes += r.bytes;
    report.weights += r.weights;
    report.tensors.push_back(std::move(r));
    writer.add(q);
  }
  report.four_bit_share = four && eligible_weights > 0 ? static_cast<double>(four_bit_weights) / static_cast<double>(eligible_weights) : 0;
  if (four) conversion["four_bit_share"] = report.four_bit_share;
  for (const std::string& f : files) writer.add_file(f);
  writer.set_conversion(conversion.dump());
  writer.finish();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  {
    std::string tsv = report_tsv(report);
    std::FILE* fp = std::fopen((staging / kReportFile).c_str(), "wb");
    if (!fp || std::fwrite(tsv.data(), 1, tsv.size(), fp) != tsv.size() || std::fclose(fp) != 0) {
      fail(ErrorCode::kIo, "cannot write '{}'", (staging / kReportFile).string());
    }
  }
  if (fs::exists(output)) fs::remove_all(output);  // an earlier container (check_output said so)
  fs::rename(staging, output);
  cleanup.keep = true;
  if (options.progress) options.progress(tensors.size(), tensors.size(), "");
  return report;
}

std::string report_tsv(const ConvertReport& report) {
  std::string out = "name\trole\tsource_type\ttype\tgroup_size\tweights\tbytes\tbits_per_weight\trel_rmse\tsnr_db\tmax_abs_err\tsensitivity\n";
  for (const TensorReport& r : report.tensors) {
    out += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.4f}\t{:.6e}\t{:.3f}\t{:.6e}\t{}\n", r.name, r.role, r.source_type,
                       to_string(r.type), r.group_size, r.weights, r.bytes,
                       r.weights > 0 ? 8.0 * static_cast<double>(r.bytes) / static_cast<double>(r.weights) : 0.0,
                       r.rel_rmse, r.snr_db, r.max_abs_err, r.sensitivity ? fmt::format("{:.6e}", *r.sensitivity) : "-");
  }
  return out;
}

}  // namespace llmrt
