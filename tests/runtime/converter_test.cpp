// The converter (runtime/converter.h, llmrt-convert -m) against what it promises:
//   - every mode turns a tiny HF or GGUF model into a container that loads and generates, with
//     logits near the source's (the tolerance grows with the bits dropped);
//   - conversion_report.tsv agrees with an error computed here, from the container's planes
//     decoded by this file's own decoder (written from docs/formats.md, not the codecs);
//   - mixed precision is deterministic, meets --ratio and keeps the most sensitive layer in 8 bits;
//   - bad options and outputs are refused and leave nothing behind;
//   - damage to a tensor, the index or the file's length is caught.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "apps/program.h"
#include "llmrt/genai.hpp"
#include "llmrt/runtime.hpp"
#include "runtime/converter.h"
#include "runtime/synthetic_model.h"
#include "store/container.h"
#include "store/safetensors.h"
#include "store/test_files.h"

namespace llmrt {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing_util::fails_with;
using testing_util::ProgramRun;
using testing_util::run_program;
using testing_util::TempDir;

constexpr const char* kAllModes[] = {"f16", "bf16", "int8", "int8_asym", "int4", "int4_asym", "mxfp4"};
constexpr const char* kPrompt = "the quick brown fox";
constexpr size_t kNewTokens = 8;

// Small enough to convert and run in milliseconds; every matrix's columns (64, 96) are
// multiples of 32, so each codec's groups fit.
SyntheticModelSpec tiny_spec(const std::string& arch) {
  SyntheticModelSpec s;
  s.arch = arch;
  s.vocab_size = 512;  // the synthetic tokenizer's byte fallback and merges
  s.max_position_embeddings = 128;
  s.seed = 7;
  return s;
}

ConvertOptions options_for(const std::string& mode, int32_t group_size = 32, double ratio = 1.0, bool all_layers = false) {
  ConvertOptions o;
  o.mode = *parse_weight_mode(mode);
  o.group_size = group_size;
  o.ratio = ratio;
  o.all_layers = all_layers;
  return o;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_text(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary | std::ios::trunc) << s; }

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// Every file under `dir` with its contents, to show a folder was left as it was.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    out[fs::relative(e.path(), dir).string()] = e.is_regular_file() ? read_text(e.path()) : "<dir>";
  }
  return out;
}

// Names in `dir` that start with `prefix` (staging leftovers such as OUT.partial-123).
std::vector<std::string> entries_starting_with(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// model.llmrt read by hand: the preamble (docs in store/container.h), the JSON index and each
// tensor's planes, decoded from the layouts in docs/formats.md.

template <class T>
T load(const std::string& bytes, uint64_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}

struct RawContainer {
  std::string bytes;  // all of model.llmrt
  uint64_t index_offset = 0, index_length = 0;
  json index;
  const json& entry(const std::string& name) const {
    for (const json& e : index["tensors"]) {
      if (e["name"] == name) return e;
    }
    throw std::runtime_error("no tensor '" + name + "' in the index");
  }
};

RawContainer read_raw(const fs::path& dir) {
  RawContainer c;
  c.bytes = read_text(dir / container::kTensorFile);
  if (c.bytes.size() < 40 || c.bytes.compare(0, 8, std::string("LLMRT\0\x1a\n", 8)) != 0) {
    throw std::runtime_error("no container magic in " + dir.string());
  }
  c.index_offset = load<uint64_t>(c.bytes, 16);
  c.index_length = load<uint64_t>(c.bytes, 24);
  c.index = json::parse(c.bytes.substr(c.index_offset, c.index_length));
  return c;
}

// [offset, length] of one plane of one tensor entry.
std::pair<uint64_t, uint64_t> plane_of(const json& entry, const char* plane) {
  return {entry[plane][0].get<uint64_t>(), entry[plane][1].get<uint64_t>()};
}

float f16_value(uint16_t h) {
  const int exponent = (h >> 10) & 31, mantissa = h & 1023;
  double v = exponent == 0    ? std::ldexp(mantissa, -24)
             : exponent == 31 ? (mantissa ? NAN : INFINITY)
                              : std::ldexp(mantissa + 1024, exponent - 25);
  return static_cast<float>((h & 0x8000) ? -v : v);
}

float bf16_value(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// A tensor entry decoded to f32 straight from the file's bytes:
//   int8_sym q * s; int8_asym (q - zp) * s; int4_sym (q - 8) * s; int4_asym (q - zp) * s with
//   element 2j of a row in the low nibble of byte j; mxfp4 E2M1(q) * 2^(E - 127).
std::vector<float> decode_entry(const RawContainer& c, const json& e) {
  const std::string type = e["type"];
  int64_t numel = 1;
  for (const json& d : e["shape"]) numel *= d.get<int64_t>();
  const int64_t cols = e["shape"].empty() ? 1 : e["shape"].back().get<int64_t>();
  const int64_t rows = numel / cols;
  auto plane = [&](const char* name) -> const char* {
    const auto [offset, length] = plane_of(e, name);
    return length ? c.bytes.data() + offset : nullptr;
  };
  const char* data = plane("data");
  std::vector<float> out(static_cast<size_t>(numel));
  if (type == "f32") {
    std::memcpy(out.data(), data, out.size() * 4);
    return out;
  }
  if (type == "f16" || type == "bf16") {
    for (int64_t i = 0; i < numel; ++i) {
      uint16_t h;
      std::memcpy(&h, data + 2 * i, 2);
      out[static_cast<size_t>(i)] = type == "f16" ? f16_value(h) : bf16_value(h);
    }
    return out;
  }
  int64_t group = type == "mxfp4" ? 32 : e["group_size"].get<int64_t>();
  if (group <= 0) group = cols;
  const int64_t groups_per_row = cols / group;
  const bool f16_scales = e["scale_type"] == "f16";
  const char* scales = plane("scales");
  const char* zero_points = plane("zero_points");
  auto scale = [&](int64_t gi) -> double {
    if (type == "mxfp4") return std::ldexp(1.0, static_cast<uint8_t>(scales[gi]) - 127);
    if (f16_scales) {
      uint16_t h;
      std::memcpy(&h, scales + 2 * gi, 2);
      return f16_value(h);
    }
    float f;
    std::memcpy(&f, scales + 4 * gi, 4);
    return f;
  };
  static constexpr double kE2M1[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t col = 0; col < cols; ++col) {
      const int64_t i = r * cols + col, gi = r * groups_per_row + col / group;
      const double s = scale(gi);
      const uint8_t byte8 = static_cast<uint8_t>(data[i]);
      const uint8_t byte4 = static_cast<uint8_t>(data[r * cols / 2 + col / 2]);
      const int nibble = col % 2 == 0 ? (byte4 & 15) : (byte4 >> 4);
      const int zp = zero_points ? static_cast<uint8_t>(zero_points[gi]) : 0;
      double x;
      if (type == "int8_sym") x = static_cast<int8_t>(byte8) * s;
      else if (type == "int8_asym") x = (byte8 - zp) * s;
      else if (type == "int4_sym") x = (nibble - 8) * s;
      else if (type == "int4_asym") x = (nibble - zp) * s;
      else if (type == "mxfp4") x = ((nibble & 8) ? -1 : 1) * kE2M1[nibble & 7] * s;
      else throw std::runtime_error("unexpected type " + type);
      out[static_cast<size_t>(i)] = static_cast<float>(x);
    }
  }
  return out;
}

struct MeasuredError {
  double rel_rmse = 0, snr_db = 0, max_abs_err = 0;
};

MeasuredError error_of(const std::vector<float>& w, const std::vector<float>& q) {
  double sig = 0, err = 0, max_err = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double d = static_cast<double>(w[i]) - q[i];
    sig += static_cast<double>(w[i]) * w[i];
    err += d * d;
    max_err = std::max(max_err, std::fabs(d));
  }
  return {std::sqrt(err / sig), err > 0 ? 10 * std::log10(sig / err) : INFINITY, max_err};
}

// conversion_report.tsv as one map per row, keyed by the header's column names.
std::vector<std::map<std::string, std::string>> read_tsv(const fs::path& path) {
  std::istringstream in(read_text(path));
  std::string line;
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::string cell;
    std::istringstream ss(s);
    while (std::getline(ss, cell, '\t')) out.push_back(cell);
    return out;
  };
  while (std::getline(in, line)) {
    if (header.empty()) {
      header = split(line);
      continue;
    }
    const auto cells = split(line);
    EXPECT_EQ(cells.size(), header.size()) << line;
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < std::min(cells.size(), header.size()); ++i) row[header[i]] = cells[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

// The group the converter promises: the requested one, else the largest halving >= 32 that
// divides the columns, else one group per row; mxfp4 always 32.
int64_t expected_group(const std::string& type, int64_t requested, int64_t cols) {
  if (type == "mxfp4") return 32;
  if (requested > 0) {
    for (int64_t g = requested; g >= 32; g /= 2) {
      if (cols % g == 0) return g;
    }
  }
  return cols;
}

bool is_four_bit(const std::string& type) { return type == "int4_sym" || type == "int4_asym" || type == "mxfp4"; }

// Rewrites one f32 tensor of an HF folder's model.safetensors.
void edit_tensor(const fs::path& dir, const std::string& name, const std::function<void(std::vector<float>&)>& edit) {
  const safetensors::File f = safetensors::read(dir / "model.safetensors");
  std::vector<std::vector<float>> values;
  std::vector<safetensors::WriteTensor> tensors;
  for (const Tensor& t : f.tensors.tensors()) {
    values.push_back(t.to_f32());
    if (t.name == name) edit(values.back());
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const Tensor& t = f.tensors.tensors()[i];
    tensors.push_back({t.name, StoredType::kF32, t.shape, std::as_bytes(std::span(values[i]))});
  }
  safetensors::write(dir / "model.safetensors.tmp", tensors);
  fs::rename(dir / "model.safetensors.tmp", dir / "model.safetensors");
}

// ---------------------------------------------------------------------------------------------
// Running models.

std::vector<int32_t> greedy(const fs::path& model, std::vector<int32_t>* prompt_ids = nullptr) {
  Pipeline pipe(model, "CPU");
  GenerationConfig cfg;
  cfg.max_new_tokens = kNewTokens;
  cfg.ignore_eos = true;  // random weights may pick an end token at any step
  GenerationResult r = pipe.generate(kPrompt, cfg);
  if (prompt_ids) *prompt_ids = r.prompt_token_ids;
  return r.generated_token_ids;
}

std::vector<float> logits_of(const Core& core, const fs::path& model, const std::vector<int32_t>& tokens) {
  InferRequest req = core.compile(core.read_model(model), "CPU").create_request();
  return req.infer(tokens);
}

// max |a - b| over every position's logits, relative to the range of the reference logits.
double relative_logit_error(const std::vector<float>& ref, const std::vector<float>& got) {
  EXPECT_EQ(ref.size(), got.size());
  const auto [lo, hi] = std::minmax_element(ref.begin(), ref.end());
  double max_diff = 0;
  for (size_t i = 0; i < std::min(ref.size(), got.size()); ++i) max_diff = std::max(max_diff, std::fabs(double{ref[i]} - got[i]));
  return max_diff / (*hi - *lo);
}

// Largest relative logit error accepted per mode. Measured on these tiny random models
// (2 layers, hidden 64, against the f32 source): f16 3e-4..5e-4, bf16 ~3e-3, int8 and
// int8_asym 0.009..0.013 (for int8_sym, as for Q8_0, the CPU plugin's integer kernels also
// round the activations to int8), 4-bit 0.10..0.21. The bounds are about twice the largest measured; a decode bug
// (a wrong nibble order, scale or zero point) gives an unrelated model's logits, which the
// test measures as well and which must be far worse.
double logit_tolerance(const std::string& mode) {
  if (mode == "f16") return 1e-3;
  if (mode == "bf16") return 6e-3;
  if (mode == "int8" || mode == "int8_asym") return 3e-2;
  return 0.4;
}

ProgramRun convert_cli(const std::string& args) { return run_program(std::string(LLMRT_CONVERT) + " " + args); }

// ---------------------------------------------------------------------------------------------
// 1. Every mode converts and generates.

class ConverterModes : public ::testing::TestWithParam<std::string> {};

TEST_P(ConverterModes, ConvertsAndGeneratesNearTheSource) {
  TempDir dir;
  write_synthetic_hf(tiny_spec(GetParam()), dir / "hf");
  std::vector<int32_t> prompt;
  const std::vector<int32_t> source_tokens = greedy(dir / "hf", &prompt);
  ASSERT_EQ(source_tokens.size(), kNewTokens);
  std::vector<int32_t> sequence = prompt;  // the prompt and the source's greedy reply
  sequence.insert(sequence.end(), source_tokens.begin(), source_tokens.end());
  Core core;
  const std::vector<float> source_logits = logits_of(core, dir / "hf", sequence);
  // What a scrambled conversion would score: the same architecture with other random weights.
  SyntheticModelSpec other = tiny_spec(GetParam());
  other.seed += 100;
  write_synthetic_hf(other, dir / "other");
  const double unrelated = relative_logit_error(source_logits, logits_of(core, dir / "other", sequence));
  std::printf("%s unrelated model: relative logit error %.3g\n", GetParam().c_str(), unrelated);

  for (const std::string mode : kAllModes) {
    SCOPED_TRACE(mode);
    const fs::path out = dir / ("c-" + mode);
    const ConvertReport report = convert_model(dir / "hf", out, options_for(mode));
    EXPECT_TRUE(container::is_container(out));
    EXPECT_LT(report.output_bytes, report.input_bytes);
    std::vector<int32_t> tokens = greedy(out);
    EXPECT_EQ(tokens.size(), kNewTokens);
    const double error = relative_logit_error(source_logits, logits_of(core, out, sequence));
    EXPECT_LT(error, logit_tolerance(mode));
    EXPECT_LT(error, unrelated / 2);
    EXPECT_GT(error, 0) << "a lossy mode that is exact stored no compression";
    // f16, bf16 and int8 move the logits by at most ~1% of their range: on these models (fixed
    // seeds) that flips no greedy choice. int8_asym does flip one on qwen2, 4-bit modes on all.
    if (mode == "f16" || mode == "bf16" || mode == "int8") {
      EXPECT_EQ(tokens, source_tokens);
    }
    std::printf("%s %-9s relative logit error %.3g, same greedy tokens: %s\n", GetParam().c_str(), mode.c_str(), error,
                tokens == source_tokens ? "yes" : "no");
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, ConverterModes, ::testing::Values("llama", "qwen2", "phi3"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(ConverterModes, GgufInputConvertsAndGenerates) {
  TempDir dir;
  SyntheticModelSpec spec = tiny_spec("llama");
  spec.gguf_recipe = GgufRecipe::kQ8_0;
  write_synthetic_gguf(spec, dir / "m.gguf");
  std::vector<int32_t> prompt;
  const std::vector<int32_t> source_tokens = greedy(dir / "m.gguf", &prompt);
  std::vector<int32_t> sequence = prompt;
  sequence.insert(sequence.end(), source_tokens.begin(), source_tokens.end());
  Core core;
  const std::vector<float> source_logits = logits_of(core, dir / "m.gguf", sequence);

  for (const std::string mode : {"f16", "int8", "int4", "mxfp4"}) {
    SCOPED_TRACE(mode);
    const fs::path out = dir / ("c-" + mode);
    const ConvertReport report = convert_model(dir / "m.gguf", out, options_for(mode));
    EXPECT_TRUE(fs::is_regular_file(out / container::kGgufMetadataFile));
    EXPECT_EQ(container::File::read(out).source_format, "gguf");
    EXPECT_EQ(greedy(out).size(), kNewTokens);
    const double error = relative_logit_error(source_logits, logits_of(core, out, sequence));
    // The Q8_0 source runs the integer kernels (int8 activations), an f16 container the float
    // ones: their difference (measured 0.008) is int8's, not f16's.
    EXPECT_LT(error, std::max(logit_tolerance(mode), logit_tolerance("int8")));
    if (mode == "int8") {
      // Q8_0 is int8_sym with groups of 32 and f16 scales (docs/formats.md): re-quantizing its
      // decoded values finds the same scale and the same integers, so nothing is lost.
      for (const TensorReport& t : report.tensors) {
        EXPECT_EQ(t.rel_rmse, 0) << t.name << " (" << t.source_type << " -> " << to_string(t.type) << ")";
      }
      EXPECT_LT(error, 1e-5);
      EXPECT_EQ(greedy(out), source_tokens);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 2. The report against an independent computation.

struct ReportCase {
  std::string arch, mode;
  int32_t group = 32;
};

std::string name_of(const ReportCase& c) {
  return c.arch + "_" + c.mode + "_g" + (c.group < 0 ? "row" : std::to_string(c.group));
}
void PrintTo(const ReportCase& c, std::ostream* os) { *os << name_of(c); }

class ConverterReport : public ::testing::TestWithParam<ReportCase> {};

TEST_P(ConverterReport, AgreesWithOwnDecodeOfThePlanes) {
  const ReportCase& p = GetParam();
  TempDir dir;
  write_synthetic_hf(tiny_spec(p.arch), dir / "hf");
  const fs::path out = dir / "c";
  ProgramRun cli = convert_cli("-m " + quoted(dir / "hf") + " -o " + quoted(out) + " --weights " + p.mode +
                               " --group-size " + std::to_string(p.group));
  ASSERT_EQ(cli.exit_code, 0) << cli.err;

  const safetensors::File source = safetensors::read_model(dir / "hf");
  const RawContainer raw = read_raw(out);
  const container::File file = container::File::read(out);
  const auto rows = read_tsv(out / kReportFile);
  ASSERT_EQ(rows.size(), source.tensors.size()) << "one row per source tensor";
  ASSERT_EQ(raw.index["tensors"].size(), source.tensors.size());

  for (const auto& row : rows) {
    const std::string name = row.at("name");
    SCOPED_TRACE(name);
    const Tensor& src = source.tensors.at(name);
    const json& e = raw.entry(name);
    const std::string type = e["type"];
    const int64_t cols = src.cols();

    // What the header of converter.h promises for this tensor.
    const std::string role = src.shape.size() != 2              ? "vector"
                             : name == "model.embed_tokens.weight" ? "embedding"
                             : name == "lm_head.weight"            ? "output"
                                                                   : "linear";
    EXPECT_EQ(row.at("role"), role);
    EXPECT_EQ(row.at("source_type"), "f32");
    std::string want_type = role == "vector" ? "f32"
                            : p.mode == "int8" ? "int8_sym"
                            : p.mode == "int4" ? "int4_sym"
                                               : p.mode;
    if (role == "embedding" || role == "output") {
      if (p.mode == "int4" || p.mode == "mxfp4") want_type = "int8_sym";
      if (p.mode == "int4_asym") want_type = "int8_asym";
    }
    EXPECT_EQ(type, want_type);
    EXPECT_EQ(row.at("type"), type);
    const bool grouped = type != "f32" && type != "f16" && type != "bf16";
    EXPECT_EQ(std::stoll(row.at("group_size")), grouped ? expected_group(type, p.group, cols) : 0);
    if (grouped) {
      EXPECT_EQ(e["group_size"].get<int64_t>(), expected_group(type, p.group, cols));
    }

    // Sizes: the TSV's against the index's planes and the container reader's tensor.
    const uint64_t bytes = plane_of(e, "data").second + plane_of(e, "scales").second + plane_of(e, "zero_points").second;
    EXPECT_EQ(std::stoull(row.at("bytes")), bytes);
    EXPECT_EQ(file.tensors.at(name).storage_bytes(), bytes);
    EXPECT_EQ(std::stoll(row.at("weights")), src.numel());
    EXPECT_NEAR(std::stod(row.at("bits_per_weight")), 8.0 * static_cast<double>(bytes) / static_cast<double>(src.numel()), 5e-5);

    // Values: own decoder = the library's decode, and the error against the f32 source.
    const std::vector<float> mine = decode_entry(raw, e);
    const std::vector<float> theirs = file.tensors.at(name).to_f32();
    ASSERT_EQ(mine.size(), theirs.size());
    EXPECT_EQ(0, std::memcmp(mine.data(), theirs.data(), mine.size() * 4)) << "own decode differs from Tensor::dequantize";
    const MeasuredError err = error_of(src.to_f32(), mine);
    const double tsv_rel = std::stod(row.at("rel_rmse")), tsv_snr = std::stod(row.at("snr_db"));
    const double tsv_max = std::stod(row.at("max_abs_err"));
    if (err.rel_rmse == 0) {
      EXPECT_EQ(tsv_rel, 0);
      EXPECT_TRUE(std::isinf(tsv_snr)) << row.at("snr_db");
      EXPECT_EQ(tsv_max, 0);
    } else {
      // rel_rmse and max_abs_err are printed to 7 significant digits, snr_db to 3 decimals.
      EXPECT_NEAR(tsv_rel, err.rel_rmse, 1e-5 * err.rel_rmse);
      EXPECT_NEAR(tsv_snr, err.snr_db, 1e-3);
      EXPECT_NEAR(tsv_max, err.max_abs_err, 1e-5 * err.max_abs_err);
    }
    if (role == "vector") {
      EXPECT_EQ(err.rel_rmse, 0) << "vectors stay f32";
    } else {
      EXPECT_GT(err.rel_rmse, 0) << "every matrix is compressed";
    }
    EXPECT_EQ(row.at("sensitivity"), "-") << "ratio 1 measures no sensitivity";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, ConverterReport,
    ::testing::Values(ReportCase{"llama", "f16"}, ReportCase{"llama", "bf16"}, ReportCase{"llama", "int8"},
                      ReportCase{"llama", "int8", -1}, ReportCase{"llama", "int8_asym", 64}, ReportCase{"llama", "int4"},
                      ReportCase{"llama", "int4", 128}, ReportCase{"llama", "int4_asym"}, ReportCase{"llama", "mxfp4"},
                      ReportCase{"phi3", "int4_asym", 64}, ReportCase{"qwen2", "int8_asym"}),
    [](const ::testing::TestParamInfo<ReportCase>& p) { return name_of(p.param); });

TEST(ConverterReport, ErrorDoesNotDependOnTheWeightsScale) {
  // Quantization with exact scales is scale-invariant: a layer scaled by 1e-5 (weights ~1e-6)
  // should keep the relative error it had. Its scales then lie below f16's normal range.
  // Regression: int8 scales of ~2e-8 once rounded to f16 zero and the layer was stored as zeros
  // (rel_rmse 1) without an error; the converter now picks f32 scales when f16 would lose them.
  TempDir dir;
  write_synthetic_hf(tiny_spec("llama"), dir / "hf");
  const std::string layer = "model.layers.0.mlp.up_proj.weight";
  fs::copy(dir / "hf", dir / "small", fs::copy_options::recursive);
  edit_tensor(dir / "small", layer, [](std::vector<float>& w) {
    for (float& v : w) v *= 1e-5f;
  });
  for (const std::string mode : {"int8", "int8_asym", "int4", "int4_asym", "mxfp4"}) {
    SCOPED_TRACE(mode);
    auto rel_rmse = [&](const ConvertReport& r) {
      for (const TensorReport& t : r.tensors) {
        if (t.name == layer) return t.rel_rmse;
      }
      return -1.0;
    };
    const double plain = rel_rmse(convert_model(dir / "hf", dir / ("plain-" + mode), options_for(mode)));
    const double small = rel_rmse(convert_model(dir / "small", dir / ("small-" + mode), options_for(mode)));
    std::printf("%-9s rel_rmse %.4g, scaled by 1e-5: %.4g\n", mode.c_str(), plain, small);
    EXPECT_LT(small, 1.25 * plain);
  }
}

TEST(ConverterReport, SameTypeIsLossless) {
  // A bf16 source written as bf16 (and f16 as f16) keeps every bit: the planes are the
  // safetensors bytes.
  for (const StoredType dtype : {StoredType::kBF16, StoredType::kF16}) {
    const std::string mode(to_string(dtype));
    SCOPED_TRACE(mode);
    TempDir dir;
    SyntheticModelSpec spec = tiny_spec("llama");
    spec.hf_dtype = dtype;
    write_synthetic_hf(spec, dir / "hf");
    const ConvertReport report = convert_model(dir / "hf", dir / "c", options_for(mode));
    const safetensors::File source = safetensors::read_model(dir / "hf");
    const container::File file = container::File::read(dir / "c");
    for (const TensorReport& t : report.tensors) {
      EXPECT_EQ(t.rel_rmse, 0) << t.name;
      EXPECT_TRUE(std::isinf(t.snr_db)) << t.name;
      const Tensor& src = source.tensors.at(t.name);
      const Tensor& dst = file.tensors.at(t.name);
      if (src.shape.size() == 2) {
        ASSERT_EQ(src.data.size(), dst.data.size()) << t.name;
        EXPECT_EQ(0, std::memcmp(src.data.data(), dst.data.data(), src.data.size())) << t.name;
      }
    }
  }
}

TEST(ConverterModes, ChatTemplateFileIsFoundBesideModelLlmrt) {
  // A container whose chat template lives in chat_template.jinja (not in tokenizer_config.json)
  // renders it whether the Pipeline is given the folder or its model.llmrt.
  TempDir dir;
  write_synthetic_hf(tiny_spec("llama"), dir / "hf");
  const fs::path config = dir / "hf" / "tokenizer_config.json";
  json tc = json::parse(read_text(config));
  const std::string chat = tc["chat_template"];
  tc.erase("chat_template");
  std::ofstream(config, std::ios::trunc) << tc.dump();
  std::ofstream(dir / "hf" / "chat_template.jinja", std::ios::trunc) << chat;
  convert_model(dir / "hf", dir / "c", options_for("int8"));
  ASSERT_TRUE(fs::exists(dir / "c" / "chat_template.jinja"));
  for (const fs::path& model : {dir / "c", dir / "c" / container::kTensorFile}) {
    SCOPED_TRACE(model.string());
    Pipeline pipe(model, "CPU");
    EXPECT_EQ(pipe.chat_template(), chat);
    EXPECT_NE(pipe.apply_chat_template({{"user", "hello there"}}).find("hello there"), std::string::npos);
  }
}

TEST(ConverterModes, ContainerInputReconverts) {
  // A container is a valid input, given as its folder or as its model.llmrt (as for loading).
  TempDir dir;
  write_synthetic_hf(tiny_spec("qwen2"), dir / "hf");
  SyntheticModelSpec gguf_spec = tiny_spec("llama");
  gguf_spec.gguf_recipe = GgufRecipe::kQ8_0;
  write_synthetic_gguf(gguf_spec, dir / "m.gguf");
  convert_model(dir / "hf", dir / "hf-f16", options_for("f16"));
  convert_model(dir / "m.gguf", dir / "gguf-int8", options_for("int8"));
  for (const std::string first : {"hf-f16", "gguf-int8"}) {
    SCOPED_TRACE(first);
    const fs::path again = dir / (first + "-int4");
    const ConvertReport report = convert_model(dir / first, again, options_for("int4"));
    const container::File before = container::File::read(dir / first), after = container::File::read(again);
    EXPECT_EQ(after.source_format, before.source_format);
    std::set<std::string> files_before, files_after;
    for (const auto& f : before.files) files_before.insert(f.name);
    for (const auto& f : after.files) files_after.insert(f.name);
    EXPECT_EQ(files_after, files_before) << "the companion files come along";
    EXPECT_EQ(report.tensors.size(), before.tensors.size());
    EXPECT_EQ(report.four_bit_share, 1.0);
    EXPECT_EQ(greedy(again).size(), kNewTokens);
    EXPECT_EQ(run_program(std::string(LLMRT_INSPECT_PATH) + " --verify " + quoted(again)).exit_code, 0);
  }
  // Regression: CONTAINER/model.llmrt as the input was once taken for a GGUF file.
  ProgramRun by_file = convert_cli("-m " + quoted(dir / "hf-f16" / container::kTensorFile) + " -o " +
                                   quoted(dir / "by-file") + " --weights int8");
  EXPECT_EQ(by_file.exit_code, 0) << by_file.err;
  EXPECT_FALSE(fs::exists(dir / "by-file") && !container::is_container(dir / "by-file"));
}

// ---------------------------------------------------------------------------------------------
// 3. Mixed precision.

constexpr const char* kOutlierLayer = "model.layers.1.self_attn.v_proj.weight";

// The tiny llama with one layer made hard for 4 bits: one element in every group of 32 is
// scaled by 12, so the other 31 share a scale sized for the outlier and most round to a
// coarse grid. (A far larger outlier would make the layer *easier* by this measure: its own
// energy would dwarf everyone else's error.)
void write_outlier_model(const fs::path& dir) {
  write_synthetic_hf(tiny_spec("llama"), dir);
  edit_tensor(dir, kOutlierLayer, [](std::vector<float>& w) {
    for (size_t i = 5; i < w.size(); i += 32) w[i] *= 12;
  });
}

struct Share {
  int64_t eligible = 0, four_bit = 0, largest = 0;
  std::map<std::string, std::string> types;
  double share() const { return static_cast<double>(four_bit) / static_cast<double>(eligible); }
};

// The container's types, counted here: eligible are the linear layers' matrices (and the
// embeddings and output projection when `all_layers`).
// `blocks_of_32`: mxfp4, which holds only matrices whose rows are whole blocks of 32; the
// others are not eligible (they take the backup type).
Share count_share(const fs::path& out, bool all_layers, bool blocks_of_32 = false) {
  Share s;
  const RawContainer raw = read_raw(out);
  for (const json& e : raw.index["tensors"]) {
    const std::string name = e["name"], type = e["type"];
    s.types[name] = type;
    if (e["shape"].size() != 2) continue;
    const bool edge = name == "model.embed_tokens.weight" || name == "lm_head.weight";
    if (edge && !all_layers) continue;
    if (blocks_of_32 && e["shape"][1].get<int64_t>() % 32 != 0) continue;
    const int64_t n = e["shape"][0].get<int64_t>() * e["shape"][1].get<int64_t>();
    s.eligible += n;
    s.largest = std::max(s.largest, n);
    if (is_four_bit(type)) s.four_bit += n;
  }
  return s;
}

TEST(ConverterMixedPrecision, MeetsTheRatioAndIsDeterministic) {
  TempDir dir;
  write_outlier_model(dir / "hf");
  for (const double ratio : {0.0, 0.25, 0.5, 0.8, 1.0}) {
    SCOPED_TRACE(ratio);
    const std::string tag = std::to_string(static_cast<int>(ratio * 100));
    const ConvertReport a = convert_model(dir / "hf", dir / ("a" + tag), options_for("int4", 32, ratio));
    const ConvertReport b = convert_model(dir / "hf", dir / ("b" + tag), options_for("int4", 32, ratio));
    EXPECT_EQ(read_text(dir / ("a" + tag) / container::kTensorFile), read_text(dir / ("b" + tag) / container::kTensorFile))
        << "two conversions differ";
    EXPECT_EQ(read_text(dir / ("a" + tag) / kReportFile), read_text(dir / ("b" + tag) / kReportFile));
    const Share s = count_share(dir / ("a" + tag), false);
    const RawContainer raw = read_raw(dir / ("a" + tag));
    EXPECT_EQ(s.types, count_share(dir / ("b" + tag), false).types);
    const double tolerance = static_cast<double>(s.largest) / static_cast<double>(s.eligible) / 2;
    EXPECT_NEAR(s.share(), ratio, tolerance);
    EXPECT_NEAR(a.four_bit_share, s.share(), 1e-12);
    for (const auto& [name, type] : s.types) {
      const bool edge = name == "model.embed_tokens.weight" || name == "lm_head.weight";
      const bool vector = raw.entry(name)["shape"].size() != 2;
      if (vector) {
        EXPECT_EQ(type, "f32") << name;
      } else if (edge) {
        EXPECT_EQ(type, "int8_sym") << name;
      } else {
        EXPECT_TRUE(type == "int4_sym" || type == "int8_sym") << name << " " << type;
      }
    }
    for (const TensorReport& t : a.tensors) {
      const bool eligible = t.role == "linear";
      EXPECT_EQ(t.sensitivity.has_value(), eligible && ratio < 1) << t.name;
    }
  }
  // R = 0 and R = 1 leave no choice.
  EXPECT_EQ(count_share(dir / "a0", false).four_bit, 0);
  EXPECT_EQ(count_share(dir / "a100", false).share(), 1.0);

  // Through the CLI: the same choice, the same tensors, the same report.
  ProgramRun cli = convert_cli("-m " + quoted(dir / "hf") + " -o " + quoted(dir / "cli") + " --weights int4 --ratio 0.5");
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("% of the eligible weights in 4 bits"), std::string::npos) << cli.out;
  EXPECT_EQ(read_text(dir / "cli" / kReportFile), read_text(dir / "a50" / kReportFile));
  const RawContainer api = read_raw(dir / "a50"), via_cli = read_raw(dir / "cli");
  EXPECT_EQ(api.index["tensors"], via_cli.index["tensors"]) << "types, planes and checksums";
  EXPECT_EQ(api.index["conversion"], via_cli.index["conversion"]);
}

TEST(ConverterMixedPrecision, MostSensitiveLayerStaysInEightBits) {
  TempDir dir;
  write_outlier_model(dir / "hf");
  // Each layer's sensitivity, measured here: the relative squared error of its ratio-1 int4
  // form, decoded by this file's decoder.
  convert_model(dir / "hf", dir / "all4", options_for("int4"));
  const RawContainer all4 = read_raw(dir / "all4");
  const safetensors::File source = safetensors::read_model(dir / "hf");
  std::map<std::string, double> sensitivity;
  std::string most_sensitive;
  for (const json& e : all4.index["tensors"]) {
    if (e["type"] != "int4_sym") continue;
    const double rel = error_of(source.tensors.at(e["name"].get<std::string>()).to_f32(), decode_entry(all4, e)).rel_rmse;
    sensitivity[e["name"]] = rel * rel;
    if (most_sensitive.empty() || rel * rel > sensitivity[most_sensitive]) most_sensitive = e["name"];
  }
  ASSERT_EQ(most_sensitive, kOutlierLayer) << "the test model's outliers did not make that layer the most sensitive";
  double second = 0;
  for (const auto& [name, s] : sensitivity) {
    if (name != most_sensitive) second = std::max(second, s);
  }
  std::printf("sensitivity of %s %.3g, next %.3g\n", kOutlierLayer, sensitivity[kOutlierLayer], second);

  // A ratio that leaves exactly that layer's weights for the backup type.
  const Share full = count_share(dir / "all4", false);
  const int64_t n = source.tensors.at(kOutlierLayer).numel();
  const double ratio = 1.0 - static_cast<double>(n) / static_cast<double>(full.eligible);
  const ConvertReport report = convert_model(dir / "hf", dir / "mixed", options_for("int4", 32, ratio));
  const Share mixed = count_share(dir / "mixed", false);
  for (const auto& [name, s] : sensitivity) {
    EXPECT_EQ(mixed.types.at(name), name == kOutlierLayer ? "int8_sym" : "int4_sym") << name;
  }
  EXPECT_NEAR(report.four_bit_share, ratio, 1e-12);
  // The report's sensitivity is the one measured here.
  for (const TensorReport& t : report.tensors) {
    if (!sensitivity.count(t.name)) continue;
    ASSERT_TRUE(t.sensitivity.has_value()) << t.name;
    EXPECT_NEAR(*t.sensitivity, sensitivity[t.name], 1e-9 * sensitivity[t.name]) << t.name;
  }
}

TEST(ConverterMixedPrecision, EmbeddingsAndOutputFollowAllLayers) {
  TempDir dir;
  write_synthetic_hf(tiny_spec("llama"), dir / "hf");
  struct Case {
    std::string mode, four, backup;
  };
  for (const Case& c : {Case{"int4", "int4_sym", "int8_sym"}, Case{"int4_asym", "int4_asym", "int8_asym"},
                        Case{"mxfp4", "mxfp4", "int8_sym"}}) {
    for (const bool all_layers : {false, true}) {
      SCOPED_TRACE(c.mode + (all_layers ? " all layers" : ""));
      const fs::path out = dir / (c.mode + (all_layers ? "-all" : ""));
      const ConvertReport report = convert_model(dir / "hf", out, options_for(c.mode, 32, 1.0, all_layers));
      const Share s = count_share(out, all_layers);
      for (const char* edge : {"model.embed_tokens.weight", "lm_head.weight"}) {
        EXPECT_EQ(s.types.at(edge), all_layers ? c.four : c.backup) << edge;
      }
      EXPECT_EQ(s.types.at("model.layers.0.mlp.down_proj.weight"), c.four);
      EXPECT_EQ(s.types.at("model.norm.weight"), "f32");
      EXPECT_EQ(s.types.at("model.layers.1.input_layernorm.weight"), "f32");
      EXPECT_EQ(s.share(), 1.0);
      EXPECT_EQ(report.four_bit_share, 1.0);
    }
  }
  // all_layers with a ratio: the embeddings and output projection compete like any layer.
  const ConvertReport half = convert_model(dir / "hf", dir / "half", options_for("int4", 32, 0.5, true));
  const Share s = count_share(dir / "half", true);
  EXPECT_NEAR(s.share(), 0.5, static_cast<double>(s.largest) / static_cast<double>(s.eligible) / 2);
  EXPECT_NEAR(half.four_bit_share, s.share(), 1e-12);
}

TEST(ConverterMixedPrecision, Mxfp4WithColumnsNotMultipleOf32) {
  // mxfp4's blocks are 32 wide: a matrix with 80 columns falls back to int8 (converter.h). That
  // must hold with a ratio below 1 too, where every eligible layer's 4-bit error is measured.
  TempDir dir;
  SyntheticModelSpec spec = tiny_spec("llama");
  spec.intermediate_size = 80;  // down_proj [64, 80]
  write_synthetic_hf(spec, dir / "hf");
  ConvertReport full;
  ASSERT_NO_THROW(full = convert_model(dir / "hf", dir / "full", options_for("mxfp4")));
  EXPECT_EQ(count_share(dir / "full", false).types.at("model.layers.0.mlp.down_proj.weight"), "int8_sym");
  // The sensitivity pass must skip the layers mxfp4 cannot hold (it once asked the codec for
  // them and failed); they are not eligible, so the share counts the others.
  try {
    convert_model(dir / "hf", dir / "mixed", options_for("mxfp4", 32, 0.5));
  } catch (const Error& e) {
    ADD_FAILURE() << "mxfp4 --ratio 0.5 failed: " << e.what();
  }
  if (fs::exists(dir / "mixed")) {
    const Share s = count_share(dir / "mixed", false, /*blocks_of_32=*/true);
    EXPECT_EQ(s.types.at("model.layers.0.mlp.down_proj.weight"), "int8_sym");
    EXPECT_NEAR(s.share(), 0.5, static_cast<double>(s.largest) / static_cast<double>(s.eligible) / 2);
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Refusals.

class ConverterRefusals : public ::testing::Test {
 protected:
  void SetUp() override { write_synthetic_hf(tiny_spec("llama"), dir_ / "hf"); }
  std::string hf() const { return quoted(dir_ / "hf"); }
  TempDir dir_;
};

TEST_F(ConverterRefusals, BadOptions) {
  ProgramRun mx = convert_cli("-m " + hf() + " -o " + quoted(dir_ / "o") + " --weights mxfp4 --group-size 48");
  EXPECT_EQ(mx.exit_code, 1);
  EXPECT_NE(mx.err.find("mxfp4 has groups of 32 fixed by the format (got --group-size 48)"), std::string::npos) << mx.err;
  for (const char* ratio : {"1.5", "-0.25", "nan"}) {
    ProgramRun r = convert_cli("-m " + hf() + " -o " + quoted(dir_ / "o") + " --weights int4 --ratio " + ratio);
    EXPECT_EQ(r.exit_code, 1) << ratio;
    EXPECT_NE(r.err.find("--ratio"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("is not in [0, 1]"), std::string::npos) << r.err;
  }
  ProgramRun word = convert_cli("-m " + hf() + " -o " + quoted(dir_ / "o") + " --weights int4 --ratio half");
  EXPECT_EQ(word.exit_code, 2);
  EXPECT_NE(word.err.find("--ratio needs a number in [0, 1]"), std::string::npos) << word.err;
  ProgramRun odd = convert_cli("-m " + hf() + " -o " + quoted(dir_ / "o") + " --weights int4 --group-size 33");
  EXPECT_EQ(odd.exit_code, 1);
  EXPECT_NE(odd.err.find("--group-size 33 is neither -1"), std::string::npos) << odd.err;
  ProgramRun mode = convert_cli("-m " + hf() + " -o " + quoted(dir_ / "o") + " --weights int3");
  EXPECT_EQ(mode.exit_code, 2);
  EXPECT_NE(mode.err.find("'int3'"), std::string::npos) << mode.err;
  EXPECT_FALSE(fs::exists(dir_ / "o"));
  EXPECT_TRUE(fails_with([&] { convert_model(dir_ / "hf", dir_ / "o", options_for("int4", 32, 2.0)); },
                         ErrorCode::kInvalidArgument, {"--ratio 2 is not in [0, 1]"}));
  EXPECT_TRUE(fails_with([&] { convert_model(dir_ / "hf", dir_ / "o", options_for("mxfp4", 64)); }, ErrorCode::kInvalidArgument,
                         {"mxfp4", "--group-size 64"}));
  EXPECT_FALSE(fs::exists(dir_ / "o"));
  EXPECT_TRUE(entries_starting_with(dir_.path(), "o.partial").empty());
}

TEST_F(ConverterRefusals, ExistingFolderThatIsNoContainerIsLeftAlone) {
  const fs::path out = dir_ / "mine";
  fs::create_directories(out / "sub");
  write_text(out / "notes.txt", "keep me");
  write_text(out / "sub" / "data.bin", "also me");
  const auto before = snapshot(out);
  ProgramRun plain = convert_cli("-m " + hf() + " -o " + quoted(out) + " --weights int8");
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_NE(plain.err.find("already exists (--force replaces an earlier container)"), std::string::npos) << plain.err;
  ProgramRun force = convert_cli("-m " + hf() + " -o " + quoted(out) + " --weights int8 --force");
  EXPECT_EQ(force.exit_code, 1);
  EXPECT_NE(force.err.find("is not an llmrt container; refusing to replace it"), std::string::npos) << force.err;
  EXPECT_EQ(snapshot(out), before);
  // Nor is the input replaced by itself.
  const auto hf_before = snapshot(dir_ / "hf");
  ProgramRun self = convert_cli("-m " + hf() + " -o " + hf() + " --weights int8 --force");
  EXPECT_EQ(self.exit_code, 1);
  EXPECT_NE(self.err.find("is the input"), std::string::npos) << self.err;
  EXPECT_EQ(snapshot(dir_ / "hf"), hf_before);
}

TEST_F(ConverterRefusals, ForceReplacesAnEarlierContainer) {
  const fs::path out = dir_ / "c";
  ASSERT_EQ(convert_cli("-m " + hf() + " -o " + quoted(out) + " --weights int8").exit_code, 0);
  const auto first = snapshot(out);
  ProgramRun again = convert_cli("-m " + hf() + " -o " + quoted(out) + " --weights int4");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(snapshot(out), first);
  ProgramRun force = convert_cli("-m " + hf() + " -o " + quoted(out) + " --weights int4 --force");
  ASSERT_EQ(force.exit_code, 0) << force.err;
  EXPECT_EQ(count_share(out, false).types.at("model.layers.0.mlp.up_proj.weight"), "int4_sym");
  for (const auto& row : read_tsv(out / kReportFile)) {
    if (row.at("name") == "model.layers.0.mlp.up_proj.weight") {
      EXPECT_EQ(row.at("type"), "int4_sym") << "the new report";
    }
  }
  // The folder holds the new container's files and nothing else.
  std::set<std::string> want = {container::kTensorFile, kReportFile};
  const RawContainer raw = read_raw(out);
  for (const json& f : raw.index["files"]) want.insert(f["name"].get<std::string>());
  std::set<std::string> got;
  for (const auto& e : fs::directory_iterator(out)) got.insert(e.path().filename().string());
  EXPECT_EQ(got, want);
  EXPECT_TRUE(entries_starting_with(dir_.path(), "c.").empty()) << "staging leftovers";
  EXPECT_EQ(run_program(std::string(LLMRT_INSPECT_PATH) + " --verify " + quoted(out)).exit_code, 0);
}

TEST_F(ConverterRefusals, FailedConversionLeavesNoOutput) {
  ProgramRun missing = convert_cli("-m " + quoted(dir_ / "nothing-here") + " -o " + quoted(dir_ / "o") + " --weights int8");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nothing-here"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(dir_ / "o"));

  // A NaN in a late tensor: the conversion fails after earlier tensors were written.
  const std::string bad = "model.layers.1.mlp.down_proj.weight";
  edit_tensor(dir_ / "hf", bad, [](std::vector<float>& w) { w[70] = NAN; });
  ProgramRun nan = convert_cli("-m " + hf() + " -o " + quoted(dir_ / "o") + " --weights int8");
  EXPECT_EQ(nan.exit_code, 1);
  EXPECT_NE(nan.err.find("'" + bad + "'"), std::string::npos) << nan.err;
  EXPECT_NE(nan.err.find("[0, 70]"), std::string::npos) << nan.err;
  EXPECT_FALSE(fs::exists(dir_ / "o"));
  EXPECT_TRUE(entries_starting_with(dir_.path(), "o.").empty()) << "staging leftovers";
}

TEST_F(ConverterRefusals, OutputWithTrailingSlash) {
  // `-o out/` names the same folder as `-o out`; it must convert (or fail cleanly) all the same.
  // Regression: with a trailing slash the staging folder was once created inside OUT and the
  // final rename failed, leaving an empty OUT behind.
  const std::string out = (dir_ / "slash").string() + "/";
  ProgramRun r = convert_cli("-m " + hf() + " -o '" + out + "' --weights int8");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code == 0) {
    EXPECT_TRUE(container::is_container(dir_ / "slash"));
  } else {
    EXPECT_FALSE(fs::exists(dir_ / "slash")) << "a failed conversion left its output folder";
  }
}

// ---------------------------------------------------------------------------------------------
// 5. Damage.

class ConverterDamage : public ::testing::Test {
 protected:
  void SetUp() override {
    write_synthetic_hf(tiny_spec("llama"), dir_ / "hf");
    convert_model(dir_ / "hf", out(), options_for("int4"));
  }
  fs::path out() const { return dir_ / "c"; }
  fs::path model_file() const { return out() / container::kTensorFile; }
  ProgramRun verify() const { return run_program(std::string(LLMRT_INSPECT_PATH) + " --verify " + quoted(out())); }
  void flip_byte(uint64_t at) {
    std::string bytes = read_text(model_file());
    ASSERT_LT(at, bytes.size());
    bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
    write_text(model_file(), bytes);
  }
  TempDir dir_;
};

TEST_F(ConverterDamage, VerifyNamesTheDamagedTensor) {
  ProgramRun fresh = verify();
  EXPECT_EQ(fresh.exit_code, 0) << fresh.out << fresh.err;
  EXPECT_NE(fresh.out.find("match their checksums"), std::string::npos) << fresh.out;
  EXPECT_EQ(fresh.out.find("DAMAGED"), std::string::npos) << fresh.out;

  const std::string victim = "model.layers.1.mlp.gate_proj.weight";
  const auto [offset, length] = plane_of(read_raw(out()).entry(victim), "data");
  ASSERT_GT(length, 0u);
  flip_byte(offset + length / 2);
  ProgramRun damaged = verify();
  EXPECT_EQ(damaged.exit_code, 1) << damaged.out << damaged.err;
  EXPECT_NE(damaged.out.find("DAMAGED tensor '" + victim + "'"), std::string::npos) << damaged.out;
  size_t mentions = 0;
  for (size_t at = damaged.out.find("DAMAGED"); at != std::string::npos; at = damaged.out.find("DAMAGED", at + 1)) ++mentions;
  EXPECT_EQ(mentions, 1u) << "only that tensor: " << damaged.out;
}

TEST_F(ConverterDamage, DamagedCompanionFileIsNamed) {
  std::string config = read_text(out() / "config.json");
  config[config.size() / 2] = config[config.size() / 2] == ' ' ? '\t' : ' ';
  write_text(out() / "config.json", config);
  ProgramRun r = verify();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("DAMAGED file 'config.json'"), std::string::npos) << r.out;
}

TEST_F(ConverterDamage, DamagedIndexFailsToLoad) {
  const RawContainer raw = read_raw(out());
  // A byte inside a tensor name: still valid JSON, so only the checksum can tell.
  const uint64_t at = raw.index_offset + raw.bytes.substr(raw.index_offset).find("gate_proj") + 2;
  flip_byte(at);
  Core core;
  EXPECT_TRUE(fails_with([&] { core.read_model(out()); }, ErrorCode::kBadFormat,
                         {"model.llmrt", "the index checksum does not match"}));
  try {
    Pipeline pipe(out(), "CPU");
    ADD_FAILURE() << "a damaged index loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum does not match"), std::string::npos) << e.what();
  }
  ProgramRun inspect = verify();
  EXPECT_EQ(inspect.exit_code, 1);
  EXPECT_NE(inspect.err.find("checksum does not match"), std::string::npos) << inspect.err;
}

TEST_F(ConverterDamage, TruncatedFileIsRefused) {
  const std::string bytes = read_text(model_file());
  Core core;
  // Cut inside the index, inside the planes, and inside the preamble.
  for (const size_t keep : {bytes.size() - 1, bytes.size() / 2, size_t{20}}) {
    SCOPED_TRACE(keep);
    write_text(model_file(), bytes.substr(0, keep));
    try {
      core.read_model(out());
      ADD_FAILURE() << "a truncated container loaded";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(e.code(), ErrorCode::kBadFormat) << msg;
      EXPECT_NE(msg.find("model.llmrt"), std::string::npos) << msg;
      const bool says_why = msg.find("truncated") != std::string::npos || msg.find("cut short") != std::string::npos ||
                            msg.find("shorter than") != std::string::npos;
      EXPECT_TRUE(says_why) << msg;
    }
  }
}

}  // namespace
}  // namespace llmrt
