// Conformance: every op of the graph IR (src/core/ops.h) on every device of every loaded plugin,
// against a float64 oracle written here from the maths in ops.h (ggml's test-backend-ops idea).
//
// Each case builds a one- (or few-) node core::Graph, compiles it through the plugin's C table
// as Core does (llmrt_weight entries made from Tensors this test owns), executes it and compares
// every output with the oracle. The oracle shares no code with any plugin or with the runtime;
// weights are decoded with Tensor::to_f32 (the codecs have their own tests). A device whose
// supports() declines a case's node skips that case with a printed note.
//
// Tolerance, per output: max |got - want| <= tol * max(1, max |want|); wanted infinities
// (masked scores) must be matched exactly and no value may be NaN. tol per op:
//   kExact = 0     Gather of an f32 table, Neg, Reshape, Transpose, Concat, Slice, CausalMask:
//                  copies and sign flips, which lose nothing.
//   kF32 = 1e-5    everything that rounds in f32: MatMul, Add, Mul, FullyConnected (dot products
//                  of up to 256 terms; a compressed Gather decodes in f32), RMSNorm (sqrt),
//                  Softmax, SiLU, SwiGLU and SDPA (exp), RoPE (sin/cos; positions stay below
//                  64 so an f32 angle is accurate to ~4e-6).
// FullyConnected with a compressed or block-quantized weight may round the activations to int8
// per 32 inputs (src/core/ops.h); each output element r then also gets the allowance
//   sum_g (max_{c in g} |x_c| / 254) * sum_{c in g} |w_rc|   (half a step of each group's grid),
// computed here from the case's own x and decoded w.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/graph.h"
#include "llmrt/plugin/plugin_abi.h"
#include "runtime/abi_weights.h"
#include "runtime/plugin_loader.h"
#include "store/codecs.h"
#include "store/ggml_quants.h"
#include "store/tensor.h"
#include "util/error.h"

namespace llmrt {
namespace {

using core::Attributes;
using core::DType;
using core::Graph;
using core::kDynamic;
using core::OpType;
using core::ValueId;

constexpr double kExact = 0.0;
constexpr double kF32 = 1e-5;
constexpr int64_t kMaxContext = 64;
constexpr double kInf = std::numeric_limits<double>::infinity();

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string message_of(const llmrt_error& err) { return std::string(err.message, strnlen(err.message, sizeof err.message)); }

// ---------------------------------------------------------------------------------------------
// Devices: every device of every plugin found where the host looks for plugins.

struct Device {
  std::shared_ptr<Plugin> plugin;
  uint32_t index = 0;
  std::string label;  // "<plugin>:<device name>"
  const llmrt_plugin_api& api() const { return plugin->api(); }
};

struct Registry {
  PluginScan scan;
  std::vector<Device> devices;
  std::vector<std::string> problems;  // plugins that could not list their devices
};

// Loaded once, when gtest expands the device-parameterised tests.
const Registry& registry() {
  static const Registry loaded = [] {
    Registry r;
    r.scan = load_plugins(default_plugin_dirs());
    for (const auto& p : r.scan.plugins) {
      llmrt_error err{};
      uint32_t count = 0;
      if (p->api().device_count(p->state(), &count, &err) != LLMRT_OK) {
        r.problems.push_back(p->name() + ": device_count: " + message_of(err));
        continue;
      }
      for (uint32_t i = 0; i < count; ++i) {
        llmrt_device_info info{};
        if (p->api().device_info(p->state(), i, &info, &err) != LLMRT_OK) {
          r.problems.push_back(p->name() + ": device_info(" + std::to_string(i) + "): " + message_of(err));
          continue;
        }
        r.devices.push_back({p, i, p->name() + ":" + std::string(info.name, strnlen(info.name, sizeof info.name))});
      }
    }
    return r;
  }();
  return loaded;
}

// ---------------------------------------------------------------------------------------------
// Tensors on the host side: activations the test feeds and reads back, oracle arrays.

struct HostTensor {
  DType dtype = DType::kF32;
  Shape shape;
  std::vector<float> f32;
  std::vector<int32_t> i32;
};

HostTensor f32_tensor(Shape shape, std::vector<float> values) { return {DType::kF32, std::move(shape), std::move(values), {}}; }
HostTensor i32_tensor(Shape shape, std::vector<int32_t> values) { return {DType::kI32, std::move(shape), {}, std::move(values)}; }

// An oracle array: float64, row-major.
struct Ref {
  Shape shape;
  std::vector<double> v;
  DType dtype = DType::kF32;
};

Ref zeros(Shape shape) {
  Ref r{std::move(shape), {}};
  r.v.assign(static_cast<size_t>(numel(r.shape)), 0.0);
  return r;
}

Ref ref_of(const HostTensor& t) {
  Ref r{t.shape, {}, t.dtype};
  if (t.dtype == DType::kF32) r.v.assign(t.f32.begin(), t.f32.end());
  else r.v.assign(t.i32.begin(), t.i32.end());
  return r;
}

Ref ref_of(const Tensor& weight) {
  std::vector<float> decoded = weight.to_f32();
  return {weight.shape, std::vector<double>(decoded.begin(), decoded.end())};
}

// Row-major multi-index of a flat offset.
std::vector<int64_t> unravel(int64_t flat, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    idx[d] = flat % s[d];
    flat /= s[d];
  }
  return idx;
}

int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t off = 0;
  for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + idx[d];
  return off;
}

class Rand {
 public:
  explicit Rand(uint32_t seed) : rng_(seed) {}
  std::vector<float> normal(int64_t n, float sigma = 1.0f, float mean = 0.0f) {
    std::normal_distribution<float> dist(mean, sigma);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(rng_);
    return v;
  }
  std::vector<float> uniform(int64_t n, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(rng_);
    return v;
  }
  HostTensor f32(const Shape& shape, float sigma = 1.0f, float mean = 0.0f) {
    return f32_tensor(shape, normal(numel(shape), sigma, mean));
  }

 private:
  std::mt19937 rng_;
};

// How a weight is stored: a type and, for our planar codecs, a grouping and a scale type.
struct WeightKind {
  std::string label;
  StoredType type = StoredType::kF32;
  int32_t group = 0;  // 0: per output channel
  StoredType scale_type = StoredType::kF32;
};

const WeightKind kF32Weight{"f32"};

Tensor make_weight(const WeightKind& kind, const std::string& name, const Shape& shape, const std::vector<float>& values) {
  if (family(kind.type) == TypeFamily::kCompressed) {
    codec::QuantizeOptions o;
    o.type = kind.type;
    o.group_size = kind.group;
    o.scale_type = kind.scale_type;
    return codec::quantize(name, shape, values, o);
  }
  // Plain and GGUF block types are one plane, written by ggml's reference quantizer.
  const ggml::Type type = *to_ggml(kind.type);
  const int64_t n = numel(shape);
  std::vector<std::byte> bytes(ggml::row_bytes(type, n));
  ggml::quantize_row(type, values.data(), bytes.data(), n);
  return make_owned_tensor(name, kind.type, shape, std::move(bytes));
}

// ---------------------------------------------------------------------------------------------
// Running a graph on a device through the plugin's C table.

// The llmrt_weight entries of a graph's weights, made by the host's own abi_weights() (as
// Core::compile makes them) from Tensors the test owns.
AbiWeights weight_table(const Graph& g, const std::vector<Tensor>& tensors) {
  return abi_weights(g, [&](std::string_view name) -> const Tensor& {
    auto it = std::find_if(tensors.begin(), tensors.end(), [&](const Tensor& w) { return w.name == name; });
    if (it == tensors.end()) fail(ErrorCode::kInternal, "test bug: no tensor for weight '{}'", name);
    return *it;
  });
}

// One graph compiled on one device with one request. Every call keeps its status and the
// plugin's message for the test to judge.
class DeviceRun {
 public:
  DeviceRun(const Device& device, const Graph& graph, const std::vector<Tensor>& weights, int64_t max_context)
      : api_(device.api()), n_outputs_(graph.outputs().size()) {
    const AbiWeights table = weight_table(graph, weights);
    const std::string json = graph.serialize();
    llmrt_compile_options options{};
    options.struct_size = sizeof options;
    options.max_context = max_context;
    llmrt_error err{};
    status_ = api_.compile(device.plugin->state(), device.index, json.c_str(), table.entries.data(),
                           static_cast<uint32_t>(table.entries.size()), &options, &compiled_, &err);
    if (status_ == LLMRT_OK) status_ = api_.request_create(compiled_, &request_, &err);
    message_ = message_of(err);
  }
  ~DeviceRun() {
    if (request_) api_.request_release(request_);
    if (compiled_) api_.compiled_release(compiled_);
  }
  DeviceRun(const DeviceRun&) = delete;
  DeviceRun& operator=(const DeviceRun&) = delete;

  llmrt_status status() const { return status_; }
  const std::string& message() const { return message_; }

  // One step of n_tokens; on success `outputs` holds copies of the plugin's outputs.
  llmrt_status execute(int64_t n_tokens, std::vector<HostTensor> inputs, std::vector<HostTensor>* outputs) {
    outputs->clear();
    std::vector<llmrt_tensor> in(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      HostTensor& h = inputs[i];
      in[i].dtype = h.dtype == DType::kF32 ? LLMRT_DTYPE_F32 : LLMRT_DTYPE_I32;
      in[i].rank = static_cast<uint32_t>(h.shape.size());
      std::copy(h.shape.begin(), h.shape.end(), in[i].shape);
      in[i].data = h.dtype == DType::kF32 ? static_cast<void*>(h.f32.data()) : static_cast<void*>(h.i32.data());
      in[i].bytes = static_cast<uint64_t>(numel(h.shape)) * 4;
    }
    std::vector<llmrt_tensor> out(n_outputs_);
    llmrt_error err{};
    status_ = api_.execute(request_, n_tokens, in.data(), static_cast<uint32_t>(in.size()), out.data(),
                           static_cast<uint32_t>(out.size()), &err);
    message_ = message_of(err);
    if (status_ != LLMRT_OK) return status_;
    for (const llmrt_tensor& t : out) {
      HostTensor h;
      h.dtype = t.dtype == LLMRT_DTYPE_I32 ? DType::kI32 : DType::kF32;
      h.shape.assign(t.shape, t.shape + std::min<uint32_t>(t.rank, LLMRT_MAX_RANK));
      const int64_t n = numel(h.shape);
      if (t.bytes != static_cast<uint64_t>(n) * 4 || (n > 0 && !t.data)) {
        ADD_FAILURE() << "an output of shape " << shape_to_string(h.shape) << " came with " << t.bytes << " bytes";
        return status_ = LLMRT_ERR_INTERNAL;
      }
      if (h.dtype == DType::kF32) h.f32.assign(static_cast<const float*>(t.data), static_cast<const float*>(t.data) + n);
      else h.i32.assign(static_cast<const int32_t*>(t.data), static_cast<const int32_t*>(t.data) + n);
      outputs->push_back(std::move(h));
    }
    return status_;
  }

  llmrt_status reset(int64_t keep_tokens) {
    llmrt_error err{};
    status_ = api_.request_reset(request_, keep_tokens, &err);
    message_ = message_of(err);
    return status_;
  }

 private:
  const llmrt_plugin_api& api_;
  size_t n_outputs_;
  void* compiled_ = nullptr;
  void* request_ = nullptr;
  llmrt_status status_ = LLMRT_OK;
  std::string message_;
};

// The first node of `g` that `device` declines ("name (Op)"), or nullopt.
std::optional<std::string> unsupported_node(const Device& device, const Graph& g) {
  for (const core::Node& n : g.nodes()) {
    const std::string json = g.node_json(n);
    llmrt_error err{};
    int32_t supported = 0;
    const std::string label = n.name + " (" + std::string(core::to_string(n.op)) + ")";
    if (device.api().supports(device.plugin->state(), device.index, json.c_str(), &supported, &err) != LLMRT_OK) {
      ADD_FAILURE() << "supports() failed for " << label << ": " << message_of(err);
      return label;
    }
    if (!supported) return label;
  }
  return std::nullopt;
}

// The tolerance rule of this file (see the top), plus: same shape and dtype, no NaN.
// `allowance` (optional, one per element) is added to the element's permitted error.
void expect_close(const HostTensor& got, const Ref& want, double tolerance, const std::string& what,
                  const std::vector<double>* allowance = nullptr) {
  ASSERT_EQ(shape_to_string(got.shape), shape_to_string(want.shape)) << what << ": shape";
  ASSERT_EQ(core::to_string(got.dtype), core::to_string(want.dtype)) << what << ": dtype";
  auto value = [&](size_t i) { return got.dtype == DType::kF32 ? static_cast<double>(got.f32[i]) : got.i32[i]; };
  double scale = 1, max_err = 0;
  size_t worst = 0, inf_mismatches = 0, first_inf_mismatch = 0;
  for (double w : want.v) {
    if (std::isfinite(w)) scale = std::max(scale, std::fabs(w));
  }
  for (size_t i = 0; i < want.v.size(); ++i) {
    const double g = value(i), w = want.v[i];
    if (std::isinf(w)) {
      if (g != w && inf_mismatches++ == 0) first_inf_mismatch = i;
      continue;
    }
    const double err = std::isnan(g) ? kInf : std::fabs(g - w) - (allowance ? (*allowance)[i] : 0.0);
    if (err > max_err) {
      max_err = err;
      worst = i;
    }
  }
  EXPECT_EQ(inf_mismatches, 0u) << what << ": element " << first_inf_mismatch << " is " << value(first_inf_mismatch)
                                << ", want " << want.v[first_inf_mismatch];
  EXPECT_LE(max_err, tolerance * scale) << what << ": worst element " << worst
                                        << (allowance ? " (error beyond its activation-rounding allowance)" : "") << " "
                                        << shape_to_string(unravel(static_cast<int64_t>(worst), want.shape)) << " is "
                                        << value(worst) << ", want " << want.v[worst];
}

// One case: a small graph, the weights it binds, its inputs, and what the oracle wants.
struct OpCase {
  std::string name;
  Graph graph;
  std::vector<Tensor> weights;     // the test owns the bytes the plugin reads
  std::vector<HostTensor> inputs;  // in the graph's input order
  std::vector<Ref> want;           // per graph output
  std::vector<std::vector<double>> allowance;  // per output: extra error per element (may be empty)
  double tolerance = kF32;
  int64_t n_tokens = 1;

  // A graph input fed with `t`; `graph_shape` may mark dimensions dynamic (-1).
  ValueId input(const std::string& value_name, HostTensor t, std::optional<Shape> graph_shape = std::nullopt) {
    const ValueId id = graph.add_input(value_name, t.dtype, graph_shape.value_or(t.shape));
    inputs.push_back(std::move(t));
    return id;
  }
  ValueId weight(const Tensor& t) {
    weights.push_back(t);
    return graph.add_weight(t);
  }
  void output(ValueId v, Ref expected) {
    graph.mark_output(v);
    want.push_back(std::move(expected));
  }
};

// Compiles and runs `c` on `device` and checks every output. False when the device skips it.
bool run_case(const Device& device, const std::string& op, const OpCase& c) {
  const std::string label = device.label + " / " + op + " / " + c.name;
  SCOPED_TRACE(label);
  if (auto node = unsupported_node(device, c.graph)) {
    std::cout << "[   NOTE   ] " << label << ": skipped, the device does not support " << *node << "\n";
    return false;
  }
  DeviceRun run(device, c.graph, c.weights, kMaxContext);
  EXPECT_EQ(run.status(), LLMRT_OK) << "compile: " << run.message();
  if (run.status() != LLMRT_OK) return true;
  std::vector<HostTensor> got;
  EXPECT_EQ(run.execute(c.n_tokens, c.inputs, &got), LLMRT_OK) << "execute: " << run.message();
  if (run.status() != LLMRT_OK) return true;
  EXPECT_EQ(got.size(), c.want.size());
  for (size_t i = 0; i < got.size() && i < c.want.size(); ++i) {
    expect_close(got[i], c.want[i], c.tolerance, "output " + std::to_string(i),
                 i < c.allowance.size() ? &c.allowance[i] : nullptr);
  }
  return true;
}

void run_cases(const Device& device, const std::string& op, const std::vector<OpCase>& cases) {
  int ran = 0;
  for (const OpCase& c : cases) ran += run_case(device, op, c) ? 1 : 0;
  if (ran == 0) GTEST_SKIP() << device.label << " supports none of the " << op << " cases";
}

// ---------------------------------------------------------------------------------------------
// The oracle: one function per op, float64, straight from src/core/ops.h.

Ref gather_ref(const Ref& table, const std::vector<int32_t>& ids) {
  const int64_t h = table.shape[1];
  Ref out = zeros({static_cast<int64_t>(ids.size()), h});
  for (size_t t = 0; t < ids.size(); ++t) {
    for (int64_t j = 0; j < h; ++j) out.v[t * h + j] = table.v[ids[t] * h + j];
  }
  return out;
}

// a [.., M, K] times b [.., K, N] (or [.., N, K] with transpose_b); a 2-D b serves every batch.
Ref matmul_ref(const Ref& a, const Ref& b, bool transpose_b, double alpha) {
  const size_t ra = a.shape.size(), rb = b.shape.size();
  const int64_t m = a.shape[ra - 2], k = a.shape[ra - 1], n = transpose_b ? b.shape[rb - 2] : b.shape[rb - 1];
  const int64_t batches = numel(a.shape) / (m * k);
  Shape shape = a.shape;
  shape.back() = n;
  Ref out = zeros(shape);
  for (int64_t bi = 0; bi < batches; ++bi) {
    const double* pa = a.v.data() + bi * m * k;
    const double* pb = b.v.data() + (rb > 2 ? bi * k * n : 0);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t t = 0; t < k; ++t) acc += pa[i * k + t] * (transpose_b ? pb[j * k + t] : pb[t * n + j]);
        out.v[(bi * m + i) * n + j] = alpha * acc;
      }
    }
  }
  return out;
}

// Offset in an array of shape `s` of the output index `idx` under NumPy broadcasting: shapes
// align at the last axis and a dimension of 1 repeats.
int64_t broadcast_offset(const std::vector<int64_t>& idx, const Shape& s) {
  const size_t lead = idx.size() - s.size();
  int64_t off = 0;
  for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + (s[d] == 1 ? 0 : idx[lead + d]);
  return off;
}

Ref broadcast_ref(const Ref& a, const Ref& b, bool add) {
  Shape shape(std::max(a.shape.size(), b.shape.size()), 1);
  for (size_t k = 0; k < shape.size(); ++k) {
    const int64_t da = k < a.shape.size() ? a.shape[a.shape.size() - 1 - k] : 1;
    const int64_t db = k < b.shape.size() ? b.shape[b.shape.size() - 1 - k] : 1;
    shape[shape.size() - 1 - k] = da == 1 ? db : da;
  }
  Ref out = zeros(shape);
  for (int64_t i = 0; i < numel(shape); ++i) {
    const std::vector<int64_t> idx = unravel(i, shape);
    const double x = a.v[broadcast_offset(idx, a.shape)], y = b.v[broadcast_offset(idx, b.shape)];
    out.v[i] = add ? x + y : x * y;
  }
  return out;
}

double silu(double x) { return x / (1.0 + std::exp(-x)); }

Ref neg_ref(Ref x) {
  for (double& v : x.v) v = -v;
  return x;
}

Ref silu_ref(Ref x) {
  for (double& v : x.v) v = silu(v);
  return x;
}

Ref swiglu_ref(const Ref& gate, const Ref& up) {
  Ref out = gate;
  for (size_t i = 0; i < out.v.size(); ++i) out.v[i] = silu(gate.v[i]) * up.v[i];
  return out;
}

Ref rmsnorm_ref(const Ref& x, const Ref& w, double eps) {
  const int64_t h = x.shape.back(), rows = numel(x.shape) / h;
  Ref out = x;
  for (int64_t r = 0; r < rows; ++r) {
    double sum_sq = 0;
    for (int64_t i = 0; i < h; ++i) sum_sq += x.v[r * h + i] * x.v[r * h + i];
    const double rms = std::sqrt(sum_sq / static_cast<double>(h) + eps);
    for (int64_t i = 0; i < h; ++i) out.v[r * h + i] = x.v[r * h + i] / rms * w.v[i];
  }
  return out;
}

// Softmax of each row of the last axis; a row with no finite entry (fully masked) gives zeros.
Ref softmax_ref(const Ref& x) {
  const int64_t n = x.shape.back(), rows = numel(x.shape) / n;
  Ref out = zeros(x.shape);
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = x.v.data() + r * n;
    const double mx = *std::max_element(row, row + n);
    if (mx == -kInf) continue;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(row[i] - mx);
    for (int64_t i = 0; i < n; ++i) out.v[r * n + i] = std::exp(row[i] - mx) / sum;
  }
  return out;
}

// `shape` may hold one -1 (whatever is left) and 0s (copy the input's dimension).
Ref reshape_ref(const Ref& x, const Shape& shape) {
  Shape resolved = shape;
  int64_t known = 1;
  for (size_t i = 0; i < resolved.size(); ++i) {
    if (resolved[i] == 0) resolved[i] = x.shape[i];
    if (resolved[i] != -1) known *= resolved[i];
  }
  for (int64_t& d : resolved) {
    if (d == -1) d = numel(x.shape) / known;
  }
  return {resolved, x.v, x.dtype};
}

// out[i_0, .., i_n] = x[j] with j[perm[d]] = i_d.
Ref transpose_ref(const Ref& x, const std::vector<int64_t>& perm) {
  Shape shape(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) shape[d] = x.shape[perm[d]];
  Ref out = zeros(shape);
  for (int64_t i = 0; i < numel(shape); ++i) {
    const std::vector<int64_t> idx = unravel(i, shape);
    std::vector<int64_t> src(idx.size());
    for (size_t d = 0; d < perm.size(); ++d) src[perm[d]] = idx[d];
    out.v[i] = x.v[ravel(src, x.shape)];
  }
  return out;
}

Ref concat_ref(const std::vector<Ref>& parts, int64_t axis) {
  Shape shape = parts[0].shape;
  shape[axis] = 0;
  for (const Ref& p : parts) shape[axis] += p.shape[axis];
  Ref out = zeros(shape);
  for (int64_t i = 0; i < numel(shape); ++i) {
    std::vector<int64_t> idx = unravel(i, shape);
    size_t part = 0;
    while (idx[axis] >= parts[part].shape[axis]) idx[axis] -= parts[part++].shape[axis];
    out.v[i] = parts[part].v[ravel(idx, parts[part].shape)];
  }
  return out;
}

Ref slice_ref(const Ref& x, int64_t axis, int64_t begin, int64_t end) {
  Shape shape = x.shape;
  shape[axis] = end - begin;
  Ref out = zeros(shape);
  for (int64_t i = 0; i < numel(shape); ++i) {
    std::vector<int64_t> idx = unravel(i, shape);
    idx[axis] += begin;
    out.v[i] = x.v[ravel(idx, x.shape)];
  }
  return out;
}

// Query row i of M sees key j of N when j <= i + (N - M).
Ref causal_mask_ref(const Ref& x) {
  const int64_t m = x.shape[x.shape.size() - 2], n = x.shape.back();
  Ref out = x;
  for (int64_t i = 0; i < numel(x.shape); ++i) {
    const int64_t row = (i / n) % m, col = i % n;
    if (col > row + (n - m)) out.v[i] = -kInf;
  }
  return out;
}

// x [T, K] (or [.., K]) times w [N, K] transposed, plus bias [N].
Ref fc_ref(const Ref& x, const Ref& w, const Ref* bias) {
  const int64_t k = x.shape.back(), tokens = numel(x.shape) / k, n = w.shape[0];
  Shape shape = x.shape;
  shape.back() = n;
  Ref out = zeros(shape);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = bias ? bias->v[j] : 0.0;
      for (int64_t i = 0; i < k; ++i) acc += x.v[t * k + i] * w.v[j * k + i];
      out.v[t * n + j] = acc;
    }
  }
  return out;
}

struct RopeSpec {
  std::string name;
  int64_t heads = 3, head_dim = 8, rotary_dim = 8;
  std::string style = "rotate_half";
  bool table = false;  // mode "table" (cos/sin weights) instead of "theta"
  bool x_3d = false;   // x [T, heads, head_dim] instead of [T, heads*head_dim]
  std::vector<int32_t> positions = {3, 4, 5, 6};
  double theta = 10000.0, attention_factor = 1.0;
  bool freq_factors = false, long_factors = false;
  int64_t original_max_positions = 0;
};

// tables: theta mode [freq_factors, long_factors] as given; table mode [cos, sin].
Ref rope_ref(const Ref& x, const RopeSpec& s, const std::vector<Ref>& tables) {
  const int64_t hd = s.head_dim, rot = s.rotary_dim, half = rot / 2;
  const int64_t tokens = static_cast<int64_t>(s.positions.size());
  const Ref* factors = s.freq_factors ? &tables[0] : nullptr;
  if (s.long_factors) {
    const int32_t max_pos = *std::max_element(s.positions.begin(), s.positions.end());
    if (max_pos + 1 > s.original_max_positions) factors = &tables[1];
  }
  Ref out = x;  // elements past rotary_dim pass through
  for (int64_t t = 0; t < tokens; ++t) {
    const double p = s.positions[t];
    for (int64_t h = 0; h < s.heads; ++h) {
      const double* src = x.v.data() + (t * s.heads + h) * hd;
      double* dst = out.v.data() + (t * s.heads + h) * hd;
      if (s.table) {
        const double* cos_row = tables[0].v.data() + s.positions[t] * rot;
        const double* sin_row = tables[1].v.data() + s.positions[t] * rot;
        for (int64_t j = 0; j < rot; ++j) {
          const double rotated = j < half ? -src[j + half] : src[j - half];
          dst[j] = src[j] * cos_row[j] + rotated * sin_row[j];
        }
        continue;
      }
      for (int64_t i = 0; i < half; ++i) {
        double inv_freq = std::pow(s.theta, -2.0 * static_cast<double>(i) / static_cast<double>(rot));
        if (factors) inv_freq /= factors->v[i];
        const double c = std::cos(p * inv_freq) * s.attention_factor, sn = std::sin(p * inv_freq) * s.attention_factor;
        const int64_t ia = s.style == "adjacent" ? 2 * i : i, ib = s.style == "adjacent" ? 2 * i + 1 : i + half;
        dst[ia] = src[ia] * c - src[ib] * sn;
        dst[ib] = src[ib] * c + src[ia] * sn;
      }
    }
  }
  return out;
}

// Everything a request's KV cache has seen, as the oracle keeps it: [tokens, kv_heads*head_dim].
struct RefKvCache {
  std::vector<double> k, v;
  int64_t tokens = 0;
};

struct SdpaSpec {
  std::string name;
  int64_t heads = 4, kv_heads = 2, head_dim = 8, tokens = 5;
  bool heads_layout = false;
  double scale = 0;            // 0: 1/sqrt(head_dim)
  int64_t sliding_window = 0;  // 0: none
  double effective_scale() const { return scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(head_dim)); }
  // The first key a query at (0-based) position `pos` sees; it sees keys first .. pos.
  int64_t first_key(int64_t pos) const { return sliding_window > 0 ? std::max<int64_t>(0, pos - sliding_window + 1) : 0; }
};

double dot(const double* a, const double* b, int64_t n) {
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

// softmax(q k^T * scale) v for one query over the keys [first, last] it sees.
void attend_ref(const double* q, int64_t first, int64_t last, const std::function<const double*(int64_t)>& key_row,
                const std::function<const double*(int64_t)>& value_row, const SdpaSpec& s, double* out) {
  std::vector<double> scores;
  for (int64_t j = first; j <= last; ++j) scores.push_back(dot(q, key_row(j), s.head_dim) * s.effective_scale());
  const double mx = *std::max_element(scores.begin(), scores.end());
  double sum = 0;
  for (double x : scores) sum += std::exp(x - mx);
  for (int64_t j = first; j <= last; ++j) {
    const double p = std::exp(scores[j - first] - mx) / sum;
    const double* v = value_row(j);
    for (int64_t d = 0; d < s.head_dim; ++d) out[d] += p * v[d];
  }
}

// Layout "tokens": q [T, heads*hd], k and v [T, kv_heads*hd]. k and v join `cache`; the query
// at position n_past + t sees keys first_key(n_past + t) .. n_past + t. Head h reads kv head
// h / (heads / kv_heads).
Ref sdpa_tokens_ref(const Ref& q, const Ref& k, const Ref& v, const SdpaSpec& s, RefKvCache& cache) {
  const int64_t tokens = q.shape[0], hd = s.head_dim, width = s.kv_heads * hd, group = s.heads / s.kv_heads;
  const int64_t n_past = cache.tokens;
  cache.k.insert(cache.k.end(), k.v.begin(), k.v.end());
  cache.v.insert(cache.v.end(), v.v.begin(), v.v.end());
  cache.tokens += tokens;
  Ref out = zeros(q.shape);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t h = 0; h < s.heads; ++h) {
      const int64_t kv_off = (h / group) * hd;
      const int64_t pos = n_past + t;
      attend_ref(q.v.data() + (t * s.heads + h) * hd, s.first_key(pos), pos,
                 [&](int64_t j) { return cache.k.data() + j * width + kv_off; },
                 [&](int64_t j) { return cache.v.data() + j * width + kv_off; }, s, out.v.data() + (t * s.heads + h) * hd);
    }
  }
  return out;
}

// Layout "heads": q [heads, T, hd], k and v [kv_heads, T, hd]; causal over these T keys.
Ref sdpa_heads_ref(const Ref& q, const Ref& k, const Ref& v, const SdpaSpec& s) {
  const int64_t tokens = q.shape[1], hd = s.head_dim, group = s.heads / s.kv_heads;
  Ref out = zeros(q.shape);
  for (int64_t h = 0; h < s.heads; ++h) {
    const int64_t kv_base = (h / group) * tokens * hd;
    for (int64_t t = 0; t < tokens; ++t) {
      attend_ref(q.v.data() + (h * tokens + t) * hd, s.first_key(t), t, [&](int64_t j) { return k.v.data() + kv_base + j * hd; },
                 [&](int64_t j) { return v.v.data() + kv_base + j * hd; }, s, out.v.data() + (h * tokens + t) * hd);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The cases of each op.

OpCase gather_case(const std::string& name, const Tensor& table, const std::vector<int32_t>& ids, double tolerance) {
  OpCase c{name};
  const ValueId vt = c.weight(table);
  const auto n = static_cast<int64_t>(ids.size());
  const ValueId vi = c.input("ids", i32_tensor({n}, ids), Shape{kDynamic});
  c.output(c.graph.add_node(OpType::kGather, "embed_tokens", {vt, vi}), gather_ref(ref_of(table), ids));
  c.tolerance = tolerance;
  c.n_tokens = n;
  return c;
}

std::vector<OpCase> gather_cases() {
  Rand r(11);
  std::vector<OpCase> cases;
  cases.push_back(gather_case("f32 table", make_weight(kF32Weight, "table", {10, 8}, r.normal(80)), {3, 0, 9, 3, 7}, kExact));
  cases.push_back(gather_case("int8_sym table",
                              make_weight({"int8_sym", StoredType::kInt8Sym}, "table", {12, 64}, r.normal(12 * 64)),
                              {11, 0, 5}, kF32));
  cases.push_back(gather_case("q8_0 table", make_weight({"q8_0", StoredType::kQ8_0}, "table", {16, 64}, r.normal(16 * 64)),
                              {15, 2, 2, 0}, kF32));
  cases.push_back(gather_case("q4_k table", make_weight({"q4_k", StoredType::kQ4_K}, "table", {4, 256}, r.normal(4 * 256)),
                              {1, 3}, kF32));
  return cases;
}

// An id outside the table must be an error that names the node, never a read past the table.
void expect_gather_rejects(const Device& device, const OpCase& c, const std::vector<int32_t>& ids) {
  const std::string label = device.label + " / Gather / " + c.name + " with ids " + shape_to_string(Shape(ids.begin(), ids.end()));
  SCOPED_TRACE(label);
  if (unsupported_node(device, c.graph)) return;
  DeviceRun run(device, c.graph, c.weights, kMaxContext);
  ASSERT_EQ(run.status(), LLMRT_OK) << run.message();
  std::vector<HostTensor> got;
  const auto n = static_cast<int64_t>(ids.size());
  EXPECT_NE(run.execute(n, {i32_tensor({n}, ids)}, &got), LLMRT_OK) << "an id outside the table must fail";
  EXPECT_NE(run.message().find("embed_tokens"), std::string::npos) << "the error must name the node: " << run.message();
}

struct MatMulSpec {
  std::string name;
  Shape a, b;
  bool transpose_b = false;
  double alpha = 1.0;
  std::optional<WeightKind> b_weight;  // b as a weight of this kind instead of an input
};

OpCase matmul_case(const MatMulSpec& s, Rand& r) {
  OpCase c{s.name};
  HostTensor a = r.f32(s.a);
  const Ref a_ref = ref_of(a);
  const ValueId va = c.input("a", std::move(a));
  ValueId vb;
  Ref b_ref;
  if (s.b_weight) {
    const Tensor w = make_weight(*s.b_weight, "b", s.b, r.normal(numel(s.b)));
    b_ref = ref_of(w);
    vb = c.weight(w);
  } else {
    HostTensor b = r.f32(s.b);
    b_ref = ref_of(b);
    vb = c.input("b", std::move(b));
  }
  Attributes attrs;
  if (s.transpose_b) attrs.set("transpose_b", int64_t{1});
  if (s.alpha != 1.0) attrs.set("alpha", s.alpha);
  c.output(c.graph.add_node(OpType::kMatMul, "matmul", {va, vb}, attrs), matmul_ref(a_ref, b_ref, s.transpose_b, s.alpha));
  return c;
}

std::vector<OpCase> matmul_cases() {
  Rand r(12);
  const std::vector<MatMulSpec> specs = {
      {"2-D", {3, 16}, {16, 5}},
      {"2-D transpose_b", {3, 16}, {5, 16}, true},
      {"2-D alpha 0.125", {4, 8}, {8, 6}, false, 0.125},
      {"batched 3-D", {2, 3, 16}, {2, 16, 5}},
      {"batched 3-D transpose_b alpha (attention scores)", {4, 3, 8}, {4, 6, 8}, true, 0.35},
      {"batched 4-D", {2, 2, 3, 8}, {2, 2, 8, 4}},
      {"3-D a with a shared 2-D b", {2, 3, 16}, {16, 5}},
      {"b an f32 weight", {3, 16}, {16, 5}, false, 1.0, kF32Weight},
      {"b an f16 weight, transpose_b", {3, 16}, {5, 16}, true, 1.0, WeightKind{"f16", StoredType::kF16}},
  };
  std::vector<OpCase> cases;
  for (const MatMulSpec& s : specs) cases.push_back(matmul_case(s, r));
  return cases;
}

OpCase binary_case(OpType op, const std::string& name, const Shape& a_shape, const Shape& b_shape, bool b_weight, Rand& r) {
  OpCase c{name};
  HostTensor a = r.f32(a_shape);
  const Ref a_ref = ref_of(a);
  const ValueId va = c.input("a", std::move(a));
  ValueId vb;
  Ref b_ref;
  if (b_weight) {
    const Tensor w = make_weight(kF32Weight, "b", b_shape, r.normal(numel(b_shape)));
    b_ref = ref_of(w);
    vb = c.weight(w);
  } else {
    HostTensor b = r.f32(b_shape);
    b_ref = ref_of(b);
    vb = c.input("b", std::move(b));
  }
  c.output(c.graph.add_node(op, "binary", {va, vb}), broadcast_ref(a_ref, b_ref, op == OpType::kAdd));
  return c;
}

std::vector<OpCase> binary_cases(OpType op) {
  Rand r(op == OpType::kAdd ? 13 : 14);
  std::vector<OpCase> cases;
  cases.push_back(binary_case(op, "same shape", {3, 7}, {3, 7}, false, r));
  cases.push_back(binary_case(op, "suffix [8]", {2, 3, 8}, {8}, false, r));
  cases.push_back(binary_case(op, "suffix [3, 8]", {2, 3, 8}, {3, 8}, false, r));
  cases.push_back(binary_case(op, "a is the suffix", {8}, {2, 3, 8}, false, r));
  cases.push_back(binary_case(op, "1s on both sides [2, 1, 8] x [3, 1]", {2, 1, 8}, {3, 1}, false, r));
  cases.push_back(binary_case(op, "row x column [1, 4] x [5, 1]", {1, 4}, {5, 1}, false, r));
  cases.push_back(binary_case(op, "b a weight [8]", {4, 8}, {8}, true, r));
  return cases;
}

OpCase unary_case(OpType op, const std::string& name, HostTensor x) {
  OpCase c{name};
  const Ref x_ref = ref_of(x);
  const ValueId vx = c.input("x", std::move(x));
  c.output(c.graph.add_node(op, "unary", {vx}), op == OpType::kNeg ? neg_ref(x_ref) : silu_ref(x_ref));
  c.tolerance = op == OpType::kNeg ? kExact : kF32;
  return c;
}

std::vector<OpCase> unary_cases(OpType op) {
  Rand r(op == OpType::kNeg ? 15 : 16);
  std::vector<OpCase> cases;
  cases.push_back(unary_case(op, "[4, 9]", r.f32({4, 9})));
  cases.push_back(unary_case(op, "[2, 3, 5] sigma 10", r.f32({2, 3, 5}, 10.0f)));
  cases.push_back(unary_case(op, "extremes", f32_tensor({1, 8}, {-100, -30, -5, -0.5f, 0, 0.5f, 30, 100})));
  return cases;
}

std::vector<OpCase> swiglu_cases() {
  Rand r(17);
  std::vector<OpCase> cases;
  for (const auto& [name, shape, sigma] : std::vector<std::tuple<std::string, Shape, float>>{
           {"[5, 16]", {5, 16}, 1.0f}, {"[2, 3, 8]", {2, 3, 8}, 1.0f}, {"[3, 32] sigma 10", {3, 32}, 10.0f}}) {
    OpCase c{name};
    HostTensor gate = r.f32(shape, sigma), up = r.f32(shape, sigma);
    const Ref want = swiglu_ref(ref_of(gate), ref_of(up));
    const ValueId vg = c.input("gate", std::move(gate)), vu = c.input("up", std::move(up));
    c.output(c.graph.add_node(OpType::kSwiGLU, "swiglu", {vg, vu}), want);
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> rmsnorm_cases() {
  Rand r(18);
  struct Spec {
    std::string name;
    Shape x;
    double eps;
    float sigma;
    WeightKind w;
  };
  const std::vector<Spec> specs = {
      {"[5, 64] eps 1e-6", {5, 64}, 1e-6, 1.0f, kF32Weight},
      {"[2, 3, 32] eps 1e-5", {2, 3, 32}, 1e-5, 1.0f, kF32Weight},
      {"tiny x, eps dominates", {3, 16}, 1e-5, 1e-3f, kF32Weight},
      {"large x, f16 weight", {2, 48}, 1e-6, 100.0f, {"f16", StoredType::kF16}},
  };
  std::vector<OpCase> cases;
  for (const Spec& s : specs) {
    OpCase c{s.name};
    HostTensor x = r.f32(s.x, s.sigma);
    const Tensor w = make_weight(s.w, "norm_weight", {s.x.back()}, r.normal(s.x.back(), 0.5f, 1.0f));
    const Ref want = rmsnorm_ref(ref_of(x), ref_of(w), s.eps);
    const ValueId vx = c.input("x", std::move(x));
    Attributes attrs;
    attrs.set("eps", s.eps);
    c.output(c.graph.add_node(OpType::kRMSNorm, "norm", {vx, c.weight(w)}, attrs), want);
    cases.push_back(std::move(c));
  }
  return cases;
}

// Softmax alone, or after a CausalMask (both outputs checked).
OpCase softmax_case(const std::string& name, HostTensor x, bool masked_first) {
  OpCase c{name};
  Ref x_ref = ref_of(x);
  ValueId v = c.input("x", std::move(x));
  if (masked_first) {
    v = c.graph.add_node(OpType::kCausalMask, "mask", {v});
    x_ref = causal_mask_ref(x_ref);
    c.output(v, x_ref);
  }
  c.output(c.graph.add_node(OpType::kSoftmax, "softmax", {v}), softmax_ref(x_ref));
  return c;
}

std::vector<OpCase> softmax_cases() {
  Rand r(19);
  std::vector<OpCase> cases;
  cases.push_back(softmax_case("[4, 10]", r.f32({4, 10}), false));
  cases.push_back(softmax_case("[2, 3, 7]", r.f32({2, 3, 7}), false));
  cases.push_back(softmax_case("one column", r.f32({3, 1}), false));
  // exp() of these overflows or underflows unless the row maximum is subtracted first.
  std::vector<float> large = r.normal(16, 3.0f, 1000.0f);
  for (float v : r.normal(16, 3.0f, -1000.0f)) large.push_back(v);
  for (float v : r.normal(16, 100.0f)) large.push_back(v);
  cases.push_back(softmax_case("large values", f32_tensor({3, 16}, large), false));
  cases.push_back(softmax_case("after CausalMask, M > N: fully masked rows give zeros", r.f32({5, 3}), true));
  cases.push_back(softmax_case("after CausalMask, batched M < N", r.f32({2, 4, 6}), true));
  return cases;
}

std::vector<OpCase> causal_mask_cases() {
  Rand r(20);
  std::vector<OpCase> cases;
  for (const auto& [name, shape] : std::vector<std::pair<std::string, Shape>>{
           {"M < N [3, 5]", {3, 5}}, {"M == N [4, 4]", {4, 4}}, {"batched [2, 3, 6]", {2, 3, 6}}, {"M > N [5, 3]", {5, 3}}}) {
    OpCase c{name};
    HostTensor x = r.f32(shape);
    const Ref want = causal_mask_ref(ref_of(x));
    c.output(c.graph.add_node(OpType::kCausalMask, "mask", {c.input("x", std::move(x))}), want);
    c.tolerance = kExact;
    cases.push_back(std::move(c));
  }
  // "last": the final elements of a dimension that is dynamic in the graph (a prompt's last token).
  for (int64_t last : {1, 2}) {
    OpCase c{"[5, 6] axis 0, last " + std::to_string(last)};
    HostTensor x = r.f32({5, 6});
    const Ref want = slice_ref(ref_of(x), 0, 5 - last, 5);
    Attributes attrs;
    attrs.set("axis", int64_t{0});
    attrs.set("last", last);
    c.output(c.graph.add_node(OpType::kSlice, "slice", {c.input("x", std::move(x), Shape{kDynamic, 6})}, attrs), want);
    c.tolerance = kExact;
    c.n_tokens = 5;
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> reshape_cases() {
  Rand r(21);
  struct Spec {
    std::string name;
    HostTensor x;
    Shape graph_x, shape;
  };
  std::vector<Spec> specs = {
      {"0 and -1: [2, 3, 4] -> {0, -1}", r.f32({2, 3, 4}), {2, 3, 4}, {0, -1}},
      {"-1 first: [2, 3, 4] -> {-1, 4}", r.f32({2, 3, 4}), {2, 3, 4}, {-1, 4}},
      {"0 in the middle: [6, 4] -> {2, 0, 3}", r.f32({6, 4}), {6, 4}, {2, 0, 3}},
      {"split heads of dynamic tokens: [5, 12] -> {0, 3, -1}", r.f32({5, 12}), {kDynamic, 12}, {0, 3, -1}},
      {"i32: [6] -> {2, 3}", i32_tensor({6}, {5, -1, 7, 0, 42, 3}), {6}, {2, 3}},
  };
  std::vector<OpCase> cases;
  for (Spec& s : specs) {
    OpCase c{s.name};
    const Ref want = reshape_ref(ref_of(s.x), s.shape);
    Attributes attrs;
    attrs.set("shape", s.shape);
    c.output(c.graph.add_node(OpType::kReshape, "reshape", {c.input("x", std::move(s.x), s.graph_x)}, attrs), want);
    c.tolerance = kExact;
    c.n_tokens = want.shape[0];
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> transpose_cases() {
  Rand r(22);
  std::vector<OpCase> cases;
  for (const auto& [shape, perm] : std::vector<std::pair<Shape, std::vector<int64_t>>>{
           {{3, 5}, {1, 0}}, {{2, 3, 4}, {2, 0, 1}}, {{2, 3, 4}, {1, 0, 2}}, {{2, 3, 4}, {0, 2, 1}}, {{2, 3, 2, 4}, {0, 2, 1, 3}}}) {
    OpCase c{shape_to_string(shape) + " perm " + shape_to_string(perm)};
    HostTensor x = r.f32(shape);
    const Ref want = transpose_ref(ref_of(x), perm);
    Attributes attrs;
    attrs.set("perm", perm);
    c.output(c.graph.add_node(OpType::kTranspose, "transpose", {c.input("x", std::move(x))}, attrs), want);
    c.tolerance = kExact;
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> concat_cases() {
  Rand r(23);
  std::vector<OpCase> cases;
  for (const auto& [axis, shapes] : std::vector<std::pair<int64_t, std::vector<Shape>>>{
           {0, {{2, 4}, {3, 4}, {1, 4}}},
           {1, {{3, 2}, {3, 5}, {3, 1}}},
           {1, {{2, 1, 3}, {2, 2, 3}, {2, 3, 3}}},
           {2, {{2, 2, 1}, {2, 2, 3}, {2, 2, 2}}}}) {
    OpCase c{fmt::format("axis {}, three {}-D inputs", axis, shapes[0].size())};
    std::vector<ValueId> ins;
    std::vector<Ref> parts;
    for (const Shape& s : shapes) {
      HostTensor x = r.f32(s);
      parts.push_back(ref_of(x));
      ins.push_back(c.input(fmt::format("x{}", ins.size()), std::move(x)));
    }
    Attributes attrs;
    attrs.set("axis", axis);
    c.output(c.graph.add_node(OpType::kConcat, "concat", ins, attrs), concat_ref(parts, axis));
    c.tolerance = kExact;
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> slice_cases() {
  Rand r(24);
  struct Spec {
    Shape x;
    int64_t axis, begin, end;
  };
  std::vector<OpCase> cases;
  for (const Spec& s : std::vector<Spec>{
           {{5, 6}, 0, 1, 4}, {{5, 6}, 1, 2, 5}, {{2, 4, 3}, 1, 1, 3}, {{2, 4, 3}, 2, 0, 3}, {{4, 6}, 1, 5, 6}}) {
    OpCase c{shape_to_string(s.x) + " axis " + std::to_string(s.axis) + " [" + std::to_string(s.begin) + ", " +
             std::to_string(s.end) + ")"};
    HostTensor x = r.f32(s.x);
    const Ref want = slice_ref(ref_of(x), s.axis, s.begin, s.end);
    Attributes attrs;
    attrs.set("axis", s.axis);
    attrs.set("begin", s.begin);
    attrs.set("end", s.end);
    c.output(c.graph.add_node(OpType::kSlice, "slice", {c.input("x", std::move(x))}, attrs), want);
    c.tolerance = kExact;
    cases.push_back(std::move(c));
  }
  return cases;
}

// GatherRows: out[r] = x[rows[r]] (each sequence's last token of a batched step).
std::vector<OpCase> gather_rows_cases() {
  Rand r(23);
  std::vector<OpCase> cases;
  for (const std::vector<int32_t>& rows : std::vector<std::vector<int32_t>>{{4, 0, 4}, {2}, {0, 1, 2, 3, 4}}) {
    OpCase c{"[5, 6] rows " + shape_to_string(Shape(rows.begin(), rows.end()))};
    HostTensor x = r.f32({5, 6});
    const Ref xr = ref_of(x);
    Ref want = zeros({static_cast<int64_t>(rows.size()), 6});
    for (size_t i = 0; i < rows.size(); ++i) {
      for (size_t j = 0; j < 6; ++j) want.v[i * 6 + j] = xr.v[static_cast<size_t>(rows[i]) * 6 + j];
    }
    const ValueId vx = c.input("x", std::move(x), Shape{kDynamic, 6});
    const ValueId vr = c.input("rows", i32_tensor({static_cast<int64_t>(rows.size())}, rows), Shape{kDynamic});
    c.output(c.graph.add_node(OpType::kGatherRows, "pick", {vx, vr}), want);
    c.tolerance = kExact;
    c.n_tokens = 5;
    cases.push_back(std::move(c));
  }
  return cases;
}

// Every stored type the store supports for a weight matrix; K = 256 suits every block size.
std::vector<WeightKind> weight_kinds() {
  using S = StoredType;
  return {
      {"f32", S::kF32},
      {"f16", S::kF16},
      {"bf16", S::kBF16},
      {"int8_sym per-channel, f32 scales", S::kInt8Sym, 0, S::kF32},
      {"int8_sym g32, f16 scales", S::kInt8Sym, 32, S::kF16},
      {"int8_asym per-channel, f16 scales", S::kInt8Asym, 0, S::kF16},
      {"int8_asym g32, f32 scales", S::kInt8Asym, 32, S::kF32},
      {"int4_sym g32, f16 scales", S::kInt4Sym, 32, S::kF16},
      {"int4_sym g32, f32 scales", S::kInt4Sym, 32, S::kF32},
      {"int4_sym g128, f16 scales", S::kInt4Sym, 128, S::kF16},
      {"int4_sym g128, f32 scales", S::kInt4Sym, 128, S::kF32},
      {"int4_asym g32, f16 scales", S::kInt4Asym, 32, S::kF16},
      {"int4_asym g32, f32 scales", S::kInt4Asym, 32, S::kF32},
      {"int4_asym g128, f16 scales", S::kInt4Asym, 128, S::kF16},
      {"int4_asym g128, f32 scales", S::kInt4Asym, 128, S::kF32},
      {"mxfp4", S::kMxfp4, 32},
      {"q8_0", S::kQ8_0},
      {"q4_0", S::kQ4_0},
      {"q4_1", S::kQ4_1},
      {"q5_0", S::kQ5_0},
      {"q5_1", S::kQ5_1},
      {"q2_k", S::kQ2_K},
      {"q3_k", S::kQ3_K},
      {"q4_k", S::kQ4_K},
      {"q5_k", S::kQ5_K},
      {"q6_k", S::kQ6_K},
      {"gguf_mxfp4", S::kGgufMxfp4},
  };
}

// Half a step of an int8 grid per 32 activations, times the weights it multiplies (see the top).
std::vector<double> int8_activation_allowance(const Ref& x, const Ref& w) {
  const int64_t k = x.shape.back(), tokens = static_cast<int64_t>(x.v.size()) / k, out = w.shape[0];
  std::vector<double> a(static_cast<size_t>(tokens * out), 0.0);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t r = 0; r < out; ++r) {
      for (int64_t g = 0; g < k; g += 32) {
        double amax = 0, wsum = 0;
        for (int64_t c = g; c < std::min(k, g + 32); ++c) {
          amax = std::max(amax, std::fabs(x.v[static_cast<size_t>(t * k + c)]));
          wsum += std::fabs(w.v[static_cast<size_t>(r * k + c)]);
        }
        a[static_cast<size_t>(t * out + r)] += amax / 254 * wsum;
      }
    }
  }
  return a;
}

OpCase fc_case(const WeightKind& kind, const Shape& x_shape, bool bias, Rand& r) {
  constexpr int64_t kOut = 24;
  const int64_t k = x_shape.back();
  OpCase c{kind.label + ", x " + shape_to_string(x_shape) + (bias ? ", bias" : "")};
  HostTensor x = r.f32(x_shape);
  const Ref x_ref = ref_of(x);
  Shape graph_x = x_shape;
  graph_x[0] = kDynamic;
  std::vector<ValueId> ins = {c.input("x", std::move(x), graph_x)};
  const Tensor w = make_weight(kind, "w", {kOut, k}, r.normal(kOut * k));
  ins.push_back(c.weight(w));
  std::optional<Ref> b_ref;
  if (bias) {
    const Tensor b = make_weight(kF32Weight, "bias", {kOut}, r.normal(kOut));
    b_ref = ref_of(b);
    ins.push_back(c.weight(b));
  }
  c.output(c.graph.add_node(OpType::kFullyConnected, "fc", ins), fc_ref(x_ref, ref_of(w), b_ref ? &*b_ref : nullptr));
  if (!is_float(kind.type)) c.allowance.push_back(int8_activation_allowance(x_ref, ref_of(w)));
  c.n_tokens = x_shape[0];
  return c;
}

std::vector<OpCase> fc_cases() {
  Rand r(25);
  std::vector<OpCase> cases;
  for (const WeightKind& kind : weight_kinds()) {
    for (int64_t tokens : {1, 5}) {
      for (bool bias : {false, true}) cases.push_back(fc_case(kind, {tokens, 256}, bias, r));
    }
  }
  cases.push_back(fc_case(kF32Weight, {2, 3, 64}, true, r));
  cases.push_back(fc_case({"q8_0", StoredType::kQ8_0}, {2, 3, 64}, false, r));
  return cases;
}

OpCase rope_case(const RopeSpec& s, Rand& r) {
  OpCase c{s.name};
  const auto tokens = static_cast<int64_t>(s.positions.size());
  const Shape x_shape = s.x_3d ? Shape{tokens, s.heads, s.head_dim} : Shape{tokens, s.heads * s.head_dim};
  Shape graph_x = x_shape;
  graph_x[0] = kDynamic;
  HostTensor x = r.f32(x_shape);
  const Ref x_ref = ref_of(x);
  std::vector<ValueId> ins = {c.input("x", std::move(x), graph_x), c.input("positions", i32_tensor({tokens}, s.positions), Shape{kDynamic})};
  Attributes attrs;
  attrs.set("heads", s.heads);
  attrs.set("head_dim", s.head_dim);
  if (s.rotary_dim != s.head_dim) attrs.set("rotary_dim", s.rotary_dim);
  attrs.set("style", s.style);
  std::vector<Ref> tables;
  auto add_table = [&](const std::string& name, const Shape& shape, std::vector<float> values) {
    const Tensor t = make_f32_tensor(name, shape, values);
    tables.push_back(ref_of(t));
    ins.push_back(c.weight(t));
  };
  if (s.table) {
    // Random tables rather than real cos/sin: any entry read from the wrong place shows.
    constexpr int64_t kPositions = 32;
    attrs.set("mode", std::string("table"));
    add_table("cos", {kPositions, s.rotary_dim}, r.normal(kPositions * s.rotary_dim));
    add_table("sin", {kPositions, s.rotary_dim}, r.normal(kPositions * s.rotary_dim));
  } else {
    attrs.set("theta", s.theta);
    if (s.attention_factor != 1.0) attrs.set("attention_factor", s.attention_factor);
    if (s.freq_factors) add_table("freq_factors", {s.rotary_dim / 2}, r.uniform(s.rotary_dim / 2, 1.0f, 4.0f));
    if (s.long_factors) {
      add_table("long_factors", {s.rotary_dim / 2}, r.uniform(s.rotary_dim / 2, 4.0f, 16.0f));
      attrs.set("original_max_positions", s.original_max_positions);
    }
  }
  c.output(c.graph.add_node(OpType::kRoPE, "rope", ins, attrs), rope_ref(x_ref, s, tables));
  c.n_tokens = tokens;
  return c;
}

std::vector<OpCase> rope_cases() {
  Rand r(26);
  std::vector<RopeSpec> specs(14);
  specs[0].name = "theta rotate_half";
  specs[1].name = "theta adjacent";
  specs[1].style = "adjacent";
  specs[2].name = "theta rotate_half, rotary_dim 8 < head_dim 16";
  specs[2].head_dim = 16;
  specs[3].name = "theta adjacent, rotary_dim 4 < head_dim 16";
  specs[3].style = "adjacent";
  specs[3].head_dim = 16;
  specs[3].rotary_dim = 4;
  specs[4].name = "theta freq_factors";
  specs[4].freq_factors = true;
  specs[5].name = "theta long_factors, max position + 1 == original_max_positions: freq_factors apply";
  specs[5].freq_factors = specs[5].long_factors = true;
  specs[5].original_max_positions = 16;
  specs[5].positions = {12, 13, 14, 15};
  specs[6] = specs[5];
  specs[6].name = "theta long_factors, max position + 1 > original_max_positions: long_factors apply";
  specs[6].positions = {13, 14, 15, 16};
  specs[7].name = "theta attention_factor 1.25 with long_factors";
  specs[7].freq_factors = specs[7].long_factors = true;
  specs[7].original_max_positions = 4;
  specs[7].attention_factor = 1.25;
  specs[8].name = "theta x [T, heads, head_dim]";
  specs[8].x_3d = true;
  specs[9].name = "theta adjacent x [T, heads, head_dim], theta 500000";
  specs[9].x_3d = true;
  specs[9].style = "adjacent";
  specs[9].theta = 500000.0;
  specs[10].name = "theta one token at position 41";
  specs[10].positions = {41};
  specs[11].name = "theta positions out of order";
  specs[11].positions = {9, 2, 30, 0, 17};
  specs[12].name = "table";
  specs[12].table = true;
  specs[12].positions = {0, 7, 31, 5};
  specs[13].name = "table, rotary_dim 8 < head_dim 16, x [T, heads, head_dim]";
  specs[13].table = specs[13].x_3d = true;
  specs[13].head_dim = 16;
  specs[13].positions = {20, 21, 22};
  std::vector<OpCase> cases;
  for (const RopeSpec& s : specs) cases.push_back(rope_case(s, r));
  return cases;
}

Attributes sdpa_attrs(const SdpaSpec& s, int64_t cache_slot) {
  Attributes attrs;
  attrs.set("heads", s.heads);
  attrs.set("kv_heads", s.kv_heads);
  attrs.set("head_dim", s.head_dim);
  attrs.set("scale", s.effective_scale());
  attrs.set("layout", std::string(s.heads_layout ? "heads" : "tokens"));
  if (!s.heads_layout) attrs.set("cache_slot", cache_slot);
  if (s.sliding_window > 0) attrs.set("sliding_window", s.sliding_window);
  return attrs;
}

OpCase sdpa_case(const SdpaSpec& s, Rand& r) {
  OpCase c{s.name};
  const int64_t t = s.tokens, hd = s.head_dim;
  const Shape q_shape = s.heads_layout ? Shape{s.heads, t, hd} : Shape{t, s.heads * hd};
  const Shape kv_shape = s.heads_layout ? Shape{s.kv_heads, t, hd} : Shape{t, s.kv_heads * hd};
  HostTensor q = r.f32(q_shape), k = r.f32(kv_shape), v = r.f32(kv_shape);
  RefKvCache no_cache;
  Ref want = s.heads_layout ? sdpa_heads_ref(ref_of(q), ref_of(k), ref_of(v), s)
                            : sdpa_tokens_ref(ref_of(q), ref_of(k), ref_of(v), s, no_cache);
  auto graph_shape = [&](Shape shape) {
    if (!s.heads_layout) shape[0] = kDynamic;
    return shape;
  };
  const ValueId vq = c.input("q", std::move(q), graph_shape(q_shape));
  const ValueId vk = c.input("k", std::move(k), graph_shape(kv_shape));
  const ValueId vv = c.input("v", std::move(v), graph_shape(kv_shape));
  c.output(c.graph.add_node(OpType::kSDPA, "attn", {vq, vk, vv}, sdpa_attrs(s, -1)), std::move(want));
  c.n_tokens = t;
  return c;
}

std::vector<OpCase> sdpa_cases() {
  Rand r(27);
  const std::vector<SdpaSpec> specs = {
      {"tokens, GQA heads 4 kv_heads 2, T 5", 4, 2, 8, 5},
      {"tokens, MHA heads 2 kv_heads 2, T 3, head_dim 16", 2, 2, 16, 3},
      {"tokens, MQA heads 4 kv_heads 1, T 4, scale 0.3", 4, 1, 8, 4, false, 0.3},
      {"tokens, one token", 4, 2, 8, 1},
      {"heads, GQA heads 4 kv_heads 2, T 5", 4, 2, 8, 5, true},
      {"heads, MHA heads 2 kv_heads 2, T 3, head_dim 16", 2, 2, 16, 3, true},
      {"tokens, sliding_window 2, T 5", 4, 2, 8, 5, false, 0, 2},
      {"tokens, sliding_window 8 > T 5 (no effect)", 4, 2, 8, 5, false, 0, 8},
      {"heads, sliding_window 3, T 6", 4, 2, 8, 6, true, 0, 3},
  };
  std::vector<OpCase> cases;
  for (const SdpaSpec& s : specs) cases.push_back(sdpa_case(s, r));
  return cases;
}

// Data movement of i32 values: shape inference keeps the input's dtype for Reshape, Transpose,
// Concat and Slice, so a graph may move token ids around.
std::vector<OpCase> i32_data_movement_cases() {
  const HostTensor ids = i32_tensor({2, 3}, {1, 2, 3, 4, 5, 6});
  std::vector<OpCase> cases;
  auto add = [&](OpType op, Attributes attrs, Ref want) {
    OpCase c{std::string(core::to_string(op))};
    want.dtype = DType::kI32;
    c.output(c.graph.add_node(op, "move_ids", {c.input("ids", ids)}, attrs), std::move(want));
    c.tolerance = kExact;
    cases.push_back(std::move(c));
  };
  Attributes slice, transpose, concat;
  slice.set("axis", int64_t{1});
  slice.set("begin", int64_t{1});
  slice.set("end", int64_t{3});
  transpose.set("perm", std::vector<int64_t>{1, 0});
  concat.set("axis", int64_t{0});
  add(OpType::kSlice, slice, slice_ref(ref_of(ids), 1, 1, 3));
  add(OpType::kTranspose, transpose, transpose_ref(ref_of(ids), {1, 0}));
  add(OpType::kConcat, concat, concat_ref({ref_of(ids)}, 0));
  return cases;
}

// ---------------------------------------------------------------------------------------------
// The tests: each op on each device.

TEST(ConformancePlugins, APluginLoadsAndListsItsDevices) {
  const Registry& reg = registry();
  std::string skipped;
  for (const std::string& s : reg.scan.skipped) skipped += "\n  " + s;
  ASSERT_FALSE(reg.scan.plugins.empty()) << "no plugin loaded (the build always makes the CPU plugin); skipped:" << skipped;
  for (const std::string& p : reg.problems) ADD_FAILURE() << p;
  EXPECT_FALSE(reg.devices.empty()) << "the loaded plugins list no device";
  for (const Device& d : reg.devices) std::cout << "[   NOTE   ] conformance runs on " << d.label << "\n";
}

// Every op exists in this file: a new OpType fails here until it gets cases.
TEST(ConformancePlugins, EveryOpHasCases) {
  EXPECT_EQ(core::kOpCount, 18) << "a new op: add its oracle and cases to this file";
}

class Conformance : public ::testing::TestWithParam<size_t> {
 protected:
  const Device& device() const { return registry().devices[GetParam()]; }
};

TEST_P(Conformance, Gather) {
  const std::vector<OpCase> cases = gather_cases();
  run_cases(device(), "Gather", cases);
  expect_gather_rejects(device(), cases[0], {1, 10});  // f32 table, one past the end
  expect_gather_rejects(device(), cases[0], {-1});
  expect_gather_rejects(device(), cases[2], {16});  // q8_0 table
}
TEST_P(Conformance, MatMul) { run_cases(device(), "MatMul", matmul_cases()); }
TEST_P(Conformance, Add) { run_cases(device(), "Add", binary_cases(OpType::kAdd)); }
TEST_P(Conformance, Mul) { run_cases(device(), "Mul", binary_cases(OpType::kMul)); }
TEST_P(Conformance, Neg) { run_cases(device(), "Neg", unary_cases(OpType::kNeg)); }
TEST_P(Conformance, SiLU) { run_cases(device(), "SiLU", unary_cases(OpType::kSiLU)); }
TEST_P(Conformance, RMSNorm) { run_cases(device(), "RMSNorm", rmsnorm_cases()); }
TEST_P(Conformance, Softmax) { run_cases(device(), "Softmax", softmax_cases()); }
TEST_P(Conformance, Reshape) { run_cases(device(), "Reshape", reshape_cases()); }
TEST_P(Conformance, Transpose) { run_cases(device(), "Transpose", transpose_cases()); }
TEST_P(Conformance, Concat) { run_cases(device(), "Concat", concat_cases()); }
TEST_P(Conformance, Slice) { run_cases(device(), "Slice", slice_cases()); }
TEST_P(Conformance, CausalMask) { run_cases(device(), "CausalMask", causal_mask_cases()); }
TEST_P(Conformance, GatherRows) {
  const std::vector<OpCase> cases = gather_rows_cases();
  run_cases(device(), "GatherRows", cases);
  const OpCase& c = cases[0];
  if (unsupported_node(device(), c.graph)) return;
  for (int32_t bad : {5, -1}) {
    DeviceRun run(device(), c.graph, c.weights, kMaxContext);
    ASSERT_EQ(run.status(), LLMRT_OK) << run.message();
    std::vector<HostTensor> got;
    EXPECT_NE(run.execute(5, {c.inputs[0], i32_tensor({1}, {bad})}, &got), LLMRT_OK) << "row " << bad << " is outside x";
    EXPECT_NE(run.message().find("pick"), std::string::npos) << "the error must name the node: " << run.message();
  }
}
TEST_P(Conformance, FullyConnected) { run_cases(device(), "FullyConnected", fc_cases()); }
TEST_P(Conformance, RoPE) { run_cases(device(), "RoPE", rope_cases()); }
TEST_P(Conformance, SDPA) { run_cases(device(), "SDPA", sdpa_cases()); }
TEST_P(Conformance, SwiGLU) { run_cases(device(), "SwiGLU", swiglu_cases()); }
// Data movement (Reshape, Transpose, Concat, Slice) on i32 tensors: copied word for word.
TEST_P(Conformance, I32DataMovement) { run_cases(device(), "i32 data movement", i32_data_movement_cases()); }

// SDPA through a request's KV cache, for one layer (slot 0), for two (slots 0 and 1) and with a
// sliding window: steps of 3, 2 and 1 tokens whose queries attend to what is cached, against an
// oracle that keeps its own cache. A step past max_context fails with OUT_OF_RANGE and leaves
// the cache as it was; request_reset(keep) drops what follows the first `keep` tokens.
TEST_P(Conformance, SDPAWithCache) {
  constexpr int64_t kContext = 8;
  for (const auto& [layers, window] : std::vector<std::pair<int, int64_t>>{{1, 0}, {2, 0}, {1, 3}}) {
    const SdpaSpec spec{"cache", 4, 2, 8, 0, false, 0, window};
    const int64_t q_width = spec.heads * spec.head_dim, kv_width = spec.kv_heads * spec.head_dim;
    SCOPED_TRACE(device().label + " / SDPA with cache / " + std::to_string(layers) + " layer(s), sliding_window " +
                 std::to_string(window));
    Graph g;
    for (int l = 0; l < layers; ++l) {
      const std::string n = std::to_string(l);
      const ValueId q = g.add_input("q" + n, DType::kF32, {kDynamic, q_width});
      const ValueId k = g.add_input("k" + n, DType::kF32, {kDynamic, kv_width});
      const ValueId v = g.add_input("v" + n, DType::kF32, {kDynamic, kv_width});
      g.mark_output(g.add_node(OpType::kSDPA, "attn" + n, {q, k, v}, sdpa_attrs(spec, l)));
    }
    if (auto node = unsupported_node(device(), g)) {
      std::cout << "[   NOTE   ] " << device().label << ": SDPA with cache skipped, no support for " << *node << "\n";
      continue;
    }
    DeviceRun run(device(), g, {}, kContext);
    ASSERT_EQ(run.status(), LLMRT_OK) << run.message();
    std::vector<RefKvCache> caches(static_cast<size_t>(layers));
    Rand r(28);
    // One step of `tokens`; checks the outputs when it must succeed, the status when not.
    auto step = [&](int64_t tokens, bool fits) {
      SCOPED_TRACE("step of " + std::to_string(tokens) + " after " + std::to_string(caches[0].tokens) + " cached");
      std::vector<HostTensor> inputs;
      std::vector<Ref> want;
      for (int l = 0; l < layers; ++l) {
        HostTensor q = r.f32({tokens, q_width}), k = r.f32({tokens, kv_width}), v = r.f32({tokens, kv_width});
        if (fits) want.push_back(sdpa_tokens_ref(ref_of(q), ref_of(k), ref_of(v), spec, caches[static_cast<size_t>(l)]));
        inputs.push_back(std::move(q));
        inputs.push_back(std::move(k));
        inputs.push_back(std::move(v));
      }
      std::vector<HostTensor> got;
      const llmrt_status status = run.execute(tokens, std::move(inputs), &got);
      if (!fits) {
        EXPECT_EQ(status, LLMRT_ERR_OUT_OF_RANGE) << run.message();
        EXPECT_FALSE(run.message().empty()) << "an overflow needs a message";
        return;
      }
      ASSERT_EQ(status, LLMRT_OK) << run.message();
      ASSERT_EQ(got.size(), want.size());
      for (size_t l = 0; l < got.size(); ++l) expect_close(got[l], want[l], kF32, "layer " + std::to_string(l));
    };
    step(3, true);
    step(2, true);  // its queries attend to the 3 cached keys too
    step(1, true);
    step(3, false);  // 6 + 3 > 8
    step(2, true);   // the failed step left 6 cached: now exactly full
    step(1, false);
    ASSERT_EQ(run.reset(3), LLMRT_OK) << run.message();
    for (RefKvCache& c : caches) {
      c.tokens = 3;
      c.k.resize(static_cast<size_t>(3 * kv_width));
      c.v.resize(static_cast<size_t>(3 * kv_width));
    }
    step(2, true);
  }
}

// A first step longer than the whole context fails cleanly too.
TEST_P(Conformance, SDPACacheOverflowOnFirstStep) {
  const SdpaSpec spec{"cache", 4, 2, 8};
  Graph g;
  const ValueId q = g.add_input("q", DType::kF32, {kDynamic, spec.heads * spec.head_dim});
  const ValueId k = g.add_input("k", DType::kF32, {kDynamic, spec.kv_heads * spec.head_dim});
  const ValueId v = g.add_input("v", DType::kF32, {kDynamic, spec.kv_heads * spec.head_dim});
  g.mark_output(g.add_node(OpType::kSDPA, "attn", {q, k, v}, sdpa_attrs(spec, 0)));
  if (unsupported_node(device(), g)) GTEST_SKIP() << device().label << " does not support SDPA with a cache";
  DeviceRun run(device(), g, {}, 4);
  ASSERT_EQ(run.status(), LLMRT_OK) << run.message();
  Rand r(29);
  std::vector<HostTensor> got;
  EXPECT_EQ(run.execute(5, {r.f32({5, 32}), r.f32({5, 16}), r.f32({5, 16})}, &got), LLMRT_ERR_OUT_OF_RANGE) << run.message();
  EXPECT_FALSE(run.message().empty());
}

std::string device_test_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string name = registry().devices[info.param].label;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

// With no device this instantiates nothing, and gtest reports the uninstantiated suite as a
// failure beside ConformancePlugins.APluginLoadsAndListsItsDevices.
INSTANTIATE_TEST_SUITE_P(Devices, Conformance, ::testing::Range<size_t>(0, registry().devices.size()), device_test_name);

}  // namespace
}  // namespace llmrt
