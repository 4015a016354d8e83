// The public C++ API (include/llmrt/runtime.hpp) over the plugin loader, the model builder
// and the partitioner.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "llmrt/plugin/plugin.hpp"
#include "llmrt/runtime.hpp"
#include "runtime/abi_weights.h"
#include "runtime/model_builder.h"
#include "runtime/partition.h"
#include "runtime/plugin_loader.h"
#include "util/error.h"
#include "util/log.h"

namespace llmrt {

namespace {

struct Device {
  std::shared_ptr<Plugin> plugin;
  uint32_t index = 0;
  DeviceInfo info;
};

std::string text(const char* s, size_t cap) { return std::string(s, strnlen(s, cap)); }

}  // namespace

struct Core::Impl {
  std::vector<Device> devices;
  std::vector<std::string> skipped;

  const Device& resolve(std::string_view name) const {
    for (const Device& d : devices) {
      if (d.info.name == name) return d;
    }
    // "GPU" means the first "GPU.N".
    for (const Device& d : devices) {
      if (d.info.name.size() > name.size() && d.info.name.compare(0, name.size(), name) == 0 && d.info.name[name.size()] == '.') return d;
    }
    std::string known;
    for (const Device& d : devices) known += (known.empty() ? "" : ", ") + d.info.name;
    fail(ErrorCode::kNotFound, "no device named '{}' (available: {})", name, known.empty() ? "none: no plugin loaded" : known);
  }
  const Device* cpu() const {
    for (const Device& d : devices) {
      if (d.info.name == "CPU") return &d;
    }
    return nullptr;
  }
};

struct Model::Impl {
  std::shared_ptr<const LoadedModel> loaded;
  ModelInfo info;
};

struct CompiledModel::Impl {
  struct Part {
    const Device* device;
    void* compiled = nullptr;
    Segment segment;
    ~Part() {
      if (compiled) device->plugin->api().compiled_release(compiled);
    }
  };
  std::shared_ptr<const Core::Impl> core;  // keeps the plugins loaded
  std::shared_ptr<const LoadedModel> model;  // keeps the weight bytes alive
  std::vector<std::unique_ptr<Part>> parts;
  std::string device;
  int64_t max_context = 0;
  bool last_token_logits = false;
  int64_t kv_num_blocks = 0, kv_block_size = 0;
  std::vector<std::pair<std::string, std::string>> placement;
};

struct InferRequest::Impl {
  std::shared_ptr<const CompiledModel::Impl> compiled;
  std::vector<void*> requests;  // one per part
  int64_t n_past = 0;
  ~Impl() {
    for (size_t i = 0; i < requests.size(); ++i) {
      if (requests[i]) compiled->parts[i]->device->plugin->api().request_release(requests[i]);
    }
  }
};

Core::Core(const CoreOptions& options) : impl_(std::make_shared<Impl>()) {
  PluginScan scan = load_plugins(options.plugin_dirs.empty() ? default_plugin_dirs() : options.plugin_dirs);
  impl_->skipped = scan.skipped;
  for (const auto& p : scan.plugins) {
    llmrt_error err{};
    uint32_t count = 0;
    if (p->api().device_count(p->state(), &count, &err) != LLMRT_OK) {
      log::warn("plugin '{}': cannot count devices: {}", p->name(), text(err.message, sizeof err.message));
      continue;
    }
    for (uint32_t i = 0; i < count; ++i) {
      llmrt_device_info info{};
      if (p->api().device_info(p->state(), i, &info, &err) != LLMRT_OK) {
        log::warn("plugin '{}': device {}: {}", p->name(), i, text(err.message, sizeof err.message));
        continue;
      }
      Device d{p, i, {}};
      d.info.name = text(info.name, sizeof info.name);
      d.info.full_name = text(info.full_name, sizeof info.full_name);
      d.info.vendor = text(info.vendor, sizeof info.vendor);
      d.info.plugin = p->name();
      d.info.plugin_path = p->path().string();
      d.info.memory_bytes = info.memory_bytes;
      d.info.compute_units = info.compute_units;
      d.info.properties_json = text(info.properties_json, sizeof info.properties_json);
      impl_->devices.push_back(std::move(d));
    }
  }
}

Core::~Core() = default;
Core::Core(Core&&) noexcept = default;
Core& Core::operator=(Core&&) noexcept = default;

std::vector<DeviceInfo> Core::devices() const {
  std::vector<DeviceInfo> out;
  for (const Device& d : impl_->devices) out.push_back(d.info);
  return out;
}

std::vector<std::string> Core::skipped_plugins() const { return impl_->skipped; }

const ModelInfo& Model::info() const { return impl_->info; }

std::string Model::graph_text(int64_t max_context) const {
  return build_graph(*impl_->loaded, max_context > 0 ? max_context : impl_->info.max_position_embeddings).dump();
}

Model Core::read_model(const std::filesystem::path& path) const {
  auto impl = std::make_shared<Model::Impl>();
  impl->loaded = load_model(path);
  const ModelConfig& c = impl->loaded->config;
  ModelInfo& i = impl->info;
  i.architecture = std::string(to_string(c.arch));
  i.format = c.container ? (c.format == ModelFormat::kGguf ? "llmrt (from gguf)" : "llmrt (from huggingface)")
                         : c.format == ModelFormat::kGguf ? "gguf" : "huggingface";
  i.source = c.source;
  i.vocab_size = c.vocab_size;
  i.hidden_size = c.hidden_size;
  i.num_layers = c.num_layers;
  i.num_heads = c.num_heads;
  i.num_kv_heads = c.num_kv_heads;
  i.head_dim = c.head_dim;
  i.intermediate_size = c.intermediate_size;
  i.max_position_embeddings = c.max_position_embeddings;
  i.bos_token_id = c.bos_token_id;
  i.eos_token_id = c.eos_token_id;
  std::map<std::string, uint64_t> by_type;
  for (const Tensor& t : impl->loaded->tensors.tensors()) {
    i.weight_bytes += t.storage_bytes();
    by_type[std::string(to_string(t.type))] += t.storage_bytes();
  }
  i.decode_weight_bytes = i.weight_bytes;
  const std::string embed = tensor_names(c.format).embed;
  if (!c.tie_word_embeddings) {
    if (const Tensor* e = impl->loaded->tensors.find(embed)) i.decode_weight_bytes -= e->storage_bytes();
  }
  std::vector<std::pair<uint64_t, std::string>> shares;
  for (const auto& [type, bytes] : by_type) shares.emplace_back(bytes, type);
  std::sort(shares.rbegin(), shares.rend());
  for (const auto& [bytes, type] : shares) {
    i.weight_types += fmt::format("{}{} {:.0f}%", i.weight_types.empty() ? "" : ", ", type,
                                  100.0 * static_cast<double>(bytes) / static_cast<double>(std::max<uint64_t>(i.weight_bytes, 1)));
  }
  Model m;
  m.impl_ = std::move(impl);
  return m;
}

CompiledModel Core::compile(const Model& model, std::string_view device_name, const CompileOptions& options) const {
  const Device& target = impl_->resolve(device_name);
  const ModelConfig& cfg = model.impl_->loaded->config;
  int64_t max_context = options.max_context > 0 ? options.max_context : std::min<int64_t>(cfg.max_position_embeddings, 4096);
  if (max_context > (int64_t{1} << 24)) fail(ErrorCode::kOutOfRange, "max_context {} is beyond any sensible KV cache", max_context);
  const bool paged = options.kv_num_blocks > 0;
  if (paged && (options.kv_block_size < 1 || options.kv_block_size > 4096)) {
    fail(ErrorCode::kInvalidArgument, "kv_block_size {} must be in [1, 4096]", options.kv_block_size);
  }
  if (paged && options.kv_num_blocks > (int64_t{1} << 30)) fail(ErrorCode::kOutOfRange, "kv_num_blocks {} is absurd", options.kv_num_blocks);
  core::Graph graph = build_graph(*model.impl_->loaded, max_context,
                                  paged ? LogitRows::kSelected : options.last_token_logits ? LogitRows::kLast : LogitRows::kAll);
  if (const char* dump = std::getenv("LLMRT_DUMP_GRAPH"); dump && *dump && std::string_view(dump) != "0") {
    log::write(log::Level::kInfo, "graph of " + cfg.source + ":\n" + graph.dump());
  }

  // Placement: the target's plugin where it supports the node, else the CPU.
  std::vector<const Device*> devices = {&target};
  std::vector<int> node_device;
  auto impl = std::make_shared<CompiledModel::Impl>();
  for (const core::Node& n : graph.nodes()) {
    llmrt_error err{};
    int32_t ok = 0;
    std::string json = graph.node_json(n);
    plugin::check(target.plugin->api().supports(target.plugin->state(), target.index, json.c_str(), &ok, &err), err,
                  fmt::format("{}: supports({})", target.info.name, n.name));
    int dev = 0;
    if (!ok) {
      const Device* cpu = impl_->cpu();
      if (!cpu) fail(ErrorCode::kUnsupported, "{} cannot run node '{}' ({}) and no CPU plugin is loaded to fall back on", target.info.name, n.name, core::to_string(n.op));
      auto it = std::find(devices.begin(), devices.end(), cpu);
      dev = static_cast<int>(it - devices.begin());
      if (it == devices.end()) devices.push_back(cpu);
      log::info("node '{}' ({}) is not supported by {}: it runs on the CPU", n.name, core::to_string(n.op), target.info.name);
    }
    node_device.push_back(dev);
    impl->placement.emplace_back(n.name, devices[static_cast<size_t>(dev)]->info.name);
  }

  impl->core = impl_;
  impl->model = model.impl_->loaded;
  impl->device = target.info.name;
  impl->max_context = max_context;
  impl->last_token_logits = options.last_token_logits;
  impl->kv_num_blocks = paged ? options.kv_num_blocks : 0;
  impl->kv_block_size = paged ? options.kv_block_size : 0;
  for (Segment& seg : partition(graph, node_device)) {
    auto part = std::make_unique<CompiledModel::Impl::Part>();
    part->device = devices[static_cast<size_t>(seg.device)];
    const std::string json = seg.graph.serialize();
    AbiWeights weights = abi_weights(seg.graph, [&](std::string_view name) -> const Tensor& { return impl->model->weight(name); });
    // The model (and so its file maps) lives as long as any compiled model that uses it.
    const llmrt_compile_options copts{sizeof(llmrt_compile_options), 0, max_context, weights.flags.data(),
                                      static_cast<int32_t>(impl->kv_block_size), static_cast<int32_t>(impl->kv_num_blocks),
                                      static_cast<int32_t>(options.kv_precision), 0};
    llmrt_error err{};
    const llmrt_plugin_api& api = part->device->plugin->api();
    if (paged && !plugin::has_paged(api)) {
      fail(ErrorCode::kUnsupported, "the {} plugin ('{}') cannot run a paged KV cache (its table has no execute_paged)",
           part->device->info.name, part->device->plugin->name());
    }
    plugin::check(api.compile(part->device->plugin->state(), part->device->index, json.c_str(), weights.entries.data(),
                              static_cast<uint32_t>(weights.entries.size()), &copts, &part->compiled, &err),
                  err, fmt::format("compiling '{}' for {}", cfg.source, part->device->info.name));
    part->segment = std::move(seg);
    impl->parts.push_back(std::move(part));
  }
  CompiledModel cm;
  cm.impl_ = std::move(impl);
  return cm;
}

const std::string& CompiledModel::device() const { return impl_->device; }
int64_t CompiledModel::max_context() const { return impl_->max_context; }
int64_t CompiledModel::kv_num_blocks() const { return impl_->kv_num_blocks; }
int64_t CompiledModel::kv_block_size() const { return impl_->kv_block_size; }

std::string_view to_string(KvPrecision p) {
  switch (p) {
    case KvPrecision::kF32: return "f32";
    case KvPrecision::kF16: return "f16";
    case KvPrecision::kBF16: return "bf16";
    case KvPrecision::kU8: return "u8";
  }
  return "?";
}
std::vector<std::pair<std::string, std::string>> CompiledModel::placement() const { return impl_->placement; }

InferRequest CompiledModel::create_request() const {
  auto r = std::make_unique<InferRequest::Impl>();
  r->compiled = impl_;
  for (const auto& part : impl_->parts) {
    llmrt_error err{};
    void* req = nullptr;
    plugin::check(part->device->plugin->api().request_create(part->compiled, &req, &err), err,
                  fmt::format("creating a request on {}", part->device->info.name));
    r->requests.push_back(req);
  }
  return InferRequest(std::move(r));
}

InferRequest::InferRequest(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InferRequest::InferRequest(InferRequest&&) noexcept = default;
InferRequest& InferRequest::operator=(InferRequest&&) noexcept = default;
InferRequest::~InferRequest() = default;

int64_t InferRequest::n_past() const { return impl_->n_past; }
int64_t InferRequest::vocab_size() const { return impl_->compiled->model->config.vocab_size; }

void InferRequest::reset(int64_t keep_tokens) {
  if (keep_tokens < 0 || keep_tokens > impl_->n_past) {
    fail(ErrorCode::kInvalidArgument, "reset({}): the request holds {} tokens", keep_tokens, impl_->n_past);
  }
  for (size_t i = 0; i < impl_->requests.size(); ++i) {
    llmrt_error err{};
    plugin::check(impl_->compiled->parts[i]->device->plugin->api().request_reset(impl_->requests[i], keep_tokens, &err), err, "reset");
  }
  impl_->n_past = keep_tokens;
}

namespace {

// Named activations crossing between parts (host copies).
struct HostValue {
  int32_t dtype;
  std::vector<int64_t> shape;
  std::vector<std::byte> bytes;
};
using HostValues = std::map<std::string, HostValue, std::less<>>;

void put_i32(HostValues& values, const char* name, const std::vector<int32_t>& v) {
  HostValue h{LLMRT_DTYPE_I32, {static_cast<int64_t>(v.size())}, std::vector<std::byte>(v.size() * 4)};
  if (!v.empty()) std::memcpy(h.bytes.data(), v.data(), h.bytes.size());
  values[name] = std::move(h);
}

void check_tokens(std::span<const int32_t> tokens, int64_t vocab, std::string_view what) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab) {
      fail(ErrorCode::kInvalidArgument, "{}token id {} at index {} is outside the vocabulary of {} tokens", what, tokens[i], i, vocab);
    }
  }
}

// Runs every part in order, moving named values between them; `seqs` non-null: a paged step.
void run_parts(const CompiledModel::Impl& c, const std::vector<void*>& requests, HostValues& values, int64_t t,
               const std::vector<llmrt_sequence_step>* seqs) {
  for (size_t p = 0; p < c.parts.size(); ++p) {
    const auto& part = *c.parts[p];
    std::vector<llmrt_tensor> ins(part.segment.inputs.size()), outs(part.segment.outputs.size());
    for (size_t i = 0; i < ins.size(); ++i) {
      auto it = values.find(part.segment.inputs[i]);
      if (it == values.end()) fail(ErrorCode::kInternal, "value '{}' is not available for {}", part.segment.inputs[i], part.device->info.name);
      HostValue& h = it->second;
      ins[i].dtype = h.dtype;
      ins[i].rank = static_cast<uint32_t>(h.shape.size());
      std::copy(h.shape.begin(), h.shape.end(), ins[i].shape);
      ins[i].data = h.bytes.data();
      ins[i].bytes = h.bytes.size();
    }
    llmrt_error err{};
    const llmrt_plugin_api& api = part.device->plugin->api();
    const llmrt_status st =
        seqs ? api.execute_paged(requests[p], seqs->data(), static_cast<uint32_t>(seqs->size()), ins.data(),
                                 static_cast<uint32_t>(ins.size()), outs.data(), static_cast<uint32_t>(outs.size()), &err)
             : api.execute(requests[p], t, ins.data(), static_cast<uint32_t>(ins.size()), outs.data(),
                           static_cast<uint32_t>(outs.size()), &err);
    plugin::check(st, err, fmt::format("running on {}", part.device->info.name));
    for (size_t o = 0; o < outs.size(); ++o) {
      const llmrt_tensor& r = outs[o];
      HostValue h{r.dtype, std::vector<int64_t>(r.shape, r.shape + std::min<uint32_t>(r.rank, LLMRT_MAX_RANK)), std::vector<std::byte>(r.bytes)};
      if (r.bytes) std::memcpy(h.bytes.data(), r.data, r.bytes);
      values[part.segment.outputs[o]] = std::move(h);
    }
  }
}

std::vector<float> take_logits(const HostValues& values, int64_t rows, int64_t vocab) {
  const HostValue& logits = values.at("logits");
  if (logits.dtype != LLMRT_DTYPE_F32 || logits.bytes.size() != static_cast<size_t>(rows * vocab) * 4) {
    fail(ErrorCode::kInternal, "logits came back with {} bytes, expected {}", logits.bytes.size(), rows * vocab * 4);
  }
  std::vector<float> out(static_cast<size_t>(rows * vocab));
  if (!out.empty()) std::memcpy(out.data(), logits.bytes.data(), logits.bytes.size());
  return out;
}

}  // namespace

std::vector<float> InferRequest::infer(std::span<const int32_t> tokens) {
  const auto& c = *impl_->compiled;
  if (c.kv_num_blocks > 0) fail(ErrorCode::kInvalidArgument, "infer(): this model was compiled with a paged KV cache: use infer_paged");
  const int64_t t = static_cast<int64_t>(tokens.size());
  if (t == 0) fail(ErrorCode::kInvalidArgument, "infer(): no tokens given");
  if (impl_->n_past + t > c.max_context) {
    fail(ErrorCode::kOutOfRange, "{} tokens after the {} already processed exceed the context of {} tokens (compile with a larger "
         "max_context, up to the model's {})", t, impl_->n_past, c.max_context, c.model->config.max_position_embeddings);
  }
  const int64_t vocab = c.model->config.vocab_size;
  check_tokens(tokens, vocab, "");
  HostValues values;
  put_i32(values, "input_ids", std::vector<int32_t>(tokens.begin(), tokens.end()));
  std::vector<int32_t> positions(static_cast<size_t>(t));
  for (int64_t i = 0; i < t; ++i) positions[static_cast<size_t>(i)] = static_cast<int32_t>(impl_->n_past + i);
  put_i32(values, "positions", positions);

  // A failure in a later part must not leave earlier parts' caches ahead of n_past.
  struct Rollback {
    InferRequest::Impl& r;
    bool done = false;
    ~Rollback() {
      if (done) return;
      for (size_t i = 0; i < r.requests.size(); ++i) {
        llmrt_error ignored{};
        r.compiled->parts[i]->device->plugin->api().request_reset(r.requests[i], r.n_past, &ignored);
      }
    }
  } rollback{*impl_};
  run_parts(c, impl_->requests, values, t, nullptr);
  rollback.done = true;
  impl_->n_past += t;
  return take_logits(values, impl_->compiled->last_token_logits ? 1 : t, vocab);
}

std::vector<float> InferRequest::infer_paged(std::span<const SequenceStep> sequences) {
  const auto& c = *impl_->compiled;
  if (c.kv_num_blocks <= 0) fail(ErrorCode::kInvalidArgument, "infer_paged(): this model was compiled without a paged KV cache (kv_num_blocks 0)");
  if (sequences.empty()) fail(ErrorCode::kInvalidArgument, "infer_paged(): no sequences given");
  const int64_t vocab = c.model->config.vocab_size;
  std::vector<int32_t> ids, positions, rows;
  std::vector<llmrt_sequence_step> steps;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const SequenceStep& q = sequences[s];
    if (q.tokens.empty()) fail(ErrorCode::kInvalidArgument, "infer_paged(): sequence {} has no tokens", s);
    if (q.n_past < 0 || q.n_past + static_cast<int64_t>(q.tokens.size()) > c.max_context) {
      fail(ErrorCode::kOutOfRange, "infer_paged(): sequence {}: {} tokens after {} exceed the context of {} tokens", s,
           q.tokens.size(), q.n_past, c.max_context);
    }
    check_tokens(q.tokens, vocab, fmt::format("infer_paged(): sequence {}: ", s));
    for (size_t i = 0; i < q.tokens.size(); ++i) {
      ids.push_back(q.tokens[i]);
      positions.push_back(static_cast<int32_t>(q.n_past + static_cast<int64_t>(i)));
    }
    if (q.logits) rows.push_back(static_cast<int32_t>(ids.size() - 1));
    steps.push_back({q.n_past, static_cast<int64_t>(q.tokens.size()), q.block_table.data(), static_cast<int64_t>(q.block_table.size())});
  }
  HostValues values;
  put_i32(values, "input_ids", ids);
  put_i32(values, "positions", positions);
  if (rows.empty()) rows.push_back(static_cast<int32_t>(ids.size() - 1));  // the head needs a row; its logits are dropped
  put_i32(values, "logit_rows", rows);
  run_parts(c, impl_->requests, values, static_cast<int64_t>(ids.size()), &steps);
  std::vector<float> logits = take_logits(values, static_cast<int64_t>(rows.size()), vocab);
  const bool any = std::any_of(sequences.begin(), sequences.end(), [](const SequenceStep& q) { return q.logits; });
  if (!any) logits.clear();
  return logits;
}

void InferRequest::copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) {
  const auto& c = *impl_->compiled;
  if (c.kv_num_blocks <= 0) fail(ErrorCode::kInvalidArgument, "copy_blocks(): this model was compiled without a paged KV cache");
  if (src.size() != dst.size()) fail(ErrorCode::kInvalidArgument, "copy_blocks(): {} sources but {} destinations", src.size(), dst.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] < 0 || src[i] >= c.kv_num_blocks || dst[i] < 0 || dst[i] >= c.kv_num_blocks) {
      fail(ErrorCode::kInvalidArgument, "copy_blocks(): block {} -> {} is outside the pool of {} blocks", src[i], dst[i], c.kv_num_blocks);
    }
  }
  if (src.empty()) return;
  for (size_t p = 0; p < c.parts.size(); ++p) {
    llmrt_error err{};
    const auto& part = *c.parts[p];
    plugin::check(part.device->plugin->api().copy_blocks(impl_->requests[p], src.data(), dst.data(),
                                                        static_cast<uint32_t>(src.size()), &err),
                  err, fmt::format("copying KV blocks on {}", part.device->info.name));
  }
}

}  // namespace llmrt
