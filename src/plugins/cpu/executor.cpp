#include "plugins/cpu/executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_set>

#include "plugins/cpu/packed_weights.h"
#include "util/error.h"
#include "util/log.h"
#include "util/mapped_file.h"

namespace llmrt::cpu {

using core::DType;
using core::ValueId;
using core::ValueKind;

Tensor tensor_from_abi(const llmrt_weight& w) {
  std::string name = w.name ? w.name : "";
  if (name.empty()) fail(ErrorCode::kInvalidArgument, "a weight has no name");
  auto type = parse_stored_type(w.stored_type ? w.stored_type : "");
  if (!type) fail(ErrorCode::kInvalidArgument, "weight '{}': unknown stored type '{}'", name, w.stored_type ? w.stored_type : "");
  if (w.rank > LLMRT_MAX_RANK) fail(ErrorCode::kInvalidArgument, "weight '{}': rank {} exceeds {}", name, w.rank, LLMRT_MAX_RANK);
  Tensor t;
  t.name = name;
  t.type = *type;
  t.shape.assign(w.shape, w.shape + w.rank);
  t.group_size = w.group_size;
  if (w.scale_type && *w.scale_type) {
    auto st = parse_stored_type(w.scale_type);
    if (!st) fail(ErrorCode::kInvalidArgument, "weight '{}': unknown scale type '{}'", name, w.scale_type);
    t.scale_type = *st;
  }
  auto span = [](const void* p, uint64_t n) { return std::span<const std::byte>(static_cast<const std::byte*>(p), n); };
  t.data = span(w.data, w.data_bytes);
  t.scales = span(w.scales, w.scales_bytes);
  t.zero_points = span(w.zero_points, w.zero_points_bytes);
  if ((w.data_bytes && !w.data) || (w.scales_bytes && !w.scales) || (w.zero_points_bytes && !w.zero_points)) {
    fail(ErrorCode::kInvalidArgument, "weight '{}': a plane has a size but no data", name);
  }
  t.validate();
  return t;
}

CompiledGraph::CompiledGraph(core::Graph graph, const llmrt_weight* weights, uint32_t n_weights, int64_t max_context,
                             const uint8_t* weight_flags, const PagedConfig& paged)
    : graph_(std::move(graph)), max_context_(max_context), paged_(paged) {
  if (paged_.num_blocks > 0 && (paged_.block_size <= 0 || paged_.block_size > 4096)) {
    fail(ErrorCode::kInvalidArgument, "paged KV cache: block size {} must be in [1, 4096]", paged_.block_size);
  }
  graph_.validate();
  std::unordered_map<std::string, const llmrt_weight*> by_name;
  for (uint32_t i = 0; i < n_weights; ++i) by_name[weights[i].name ? weights[i].name : ""] = &weights[i];
  std::unordered_set<ValueId> releasable;  // weights in host file mappings we may drop pages of
  const auto& values = graph_.values();
  for (size_t id = 0; id < values.size(); ++id) {
    const core::Value& v = values[id];
    if (v.kind != ValueKind::kWeight) continue;
    auto it = by_name.find(v.name);
    if (it == by_name.end()) fail(ErrorCode::kBadFormat, "weight '{}' used by the graph was not given", v.name);
    Tensor t = tensor_from_abi(*it->second);
    if (t.shape != v.shape || t.type != v.stored) {
      fail(ErrorCode::kBadFormat, "weight '{}': the graph expects {} {}, got {} {}", v.name, llmrt::to_string(v.stored),
           shape_to_string(v.shape), llmrt::to_string(t.type), shape_to_string(t.shape));
    }
    weights_.emplace(static_cast<ValueId>(id), std::move(t));
    if (weight_flags && (weight_flags[it->second - weights] & LLMRT_WEIGHT_FILE_MAPPED)) releasable.insert(static_cast<ValueId>(id));
  }
  // Weights read as plain operands (everything except FullyConnected's matrix and Gather's
  // table) are decoded to f32 once here.
  for (const core::Node& n : graph_.nodes()) {
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      ValueId in = n.inputs[i];
      if (!weights_.count(in) || decoded_.count(in)) continue;
      bool streamed = (n.op == core::OpType::kFullyConnected && i == 1) || (n.op == core::OpType::kGather && i == 0);
      if (streamed) continue;
      Activation a;
      a.resize(DType::kF32, weights_.at(in).shape);
      weights_.at(in).dequantize(a.f());
      decoded_.emplace(in, std::move(a));
    }
    if (n.op == core::OpType::kSDPA) {
      int64_t slot = n.attrs.i("cache_slot", -1);
      if (slot < 0) continue;
      if (slot > 4096) fail(ErrorCode::kBadFormat, "node '{}': cache_slot {} is absurd", n.name, slot);
      if (static_cast<size_t>(slot) >= slot_widths_.size()) {
        slot_widths_.resize(static_cast<size_t>(slot) + 1, 0);
        slot_heads_.resize(slot_widths_.size(), {0, 0});
      }
      slot_widths_[static_cast<size_t>(slot)] = n.attrs.i("kv_heads") * n.attrs.i("head_dim");
      slot_heads_[static_cast<size_t>(slot)] = {n.attrs.i("kv_heads"), n.attrs.i("head_dim")};
    }
  }
  // Liveness: the last node reading each activation. Graph outputs live to the end, and graph
  // inputs keep their own (small) buffers: execute() sizes them before any node runs.
  {
    std::vector<int64_t> last(values.size(), -1);
    const auto& nodes = graph_.nodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
      for (ValueId in : nodes[i].inputs) last[static_cast<size_t>(in)] = static_cast<int64_t>(i);
    }
    for (ValueId o : graph_.outputs()) last[static_cast<size_t>(o)] = -1;
    for (ValueId in : graph_.inputs()) last[static_cast<size_t>(in)] = -1;
    dead_after_.resize(nodes.size());
    for (size_t v = 0; v < values.size(); ++v) {
      if (last[v] >= 0 && !weights_.count(static_cast<ValueId>(v))) {
        dead_after_[static_cast<size_t>(last[v])].push_back(static_cast<ValueId>(v));
      }
    }
  }
  // Block-quantized FullyConnected weights are repacked for the CPU kernels now, each in
  // parallel over its panels, so that the first step does not pay for it. Largest first: with
  // the host's pages of each released after packing, peak memory is then the packed model plus
  // one small source tensor rather than plus the (often largest) output head.
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t packed_bytes = 0;
  std::vector<std::unordered_map<ValueId, Tensor>::iterator> fc_weights;
  for (const core::Node& n : graph_.nodes()) {
    if (n.op != core::OpType::kFullyConnected || n.inputs.size() < 2) continue;
    auto w = weights_.find(n.inputs[1]);
    if (w != weights_.end() && std::find(fc_weights.begin(), fc_weights.end(), w) == fc_weights.end()) fc_weights.push_back(w);
  }
  std::stable_sort(fc_weights.begin(), fc_weights.end(),
                   [](const auto& a, const auto& b) { return a->second.storage_bytes() > b->second.storage_bytes(); });
  for (auto w : fc_weights) {
    const auto t1 = std::chrono::steady_clock::now();
    if (const kernels::PackedMatrix* p = packed_weights(w->second)) {
      packed_.emplace(w->first, p);
      packed_bytes += p->bytes();
      // The kernels read only the packed copy now; the host's pages of the original need not
      // stay resident (a Gather of the same tied table faults back the rows it reads).
      if (releasable.count(w->first)) {
        for (auto plane : {w->second.data, w->second.scales, w->second.zero_points}) release_file_pages(plane.data(), plane.size());
      }
      log::debug("cpu: packed '{}' ({}, {}) as {} in {:.1f} ms", w->second.name, llmrt::to_string(w->second.type),
                 shape_to_string(w->second.shape), kernels::to_string(p->kind()),
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count());
    }
  }
  if (packed_bytes) {
    log::info("cpu: repacked {:.1f} MB of block-quantized weights in {:.0f} ms", static_cast<double>(packed_bytes) / 1e6,
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  if (!slot_widths_.empty() && max_context_ <= 0) {
    fail(ErrorCode::kInvalidArgument, "the graph uses a KV cache but max_context is {}", max_context_);
  }
}

std::unique_ptr<Request> CompiledGraph::create_request() const { return std::make_unique<Request>(*this); }

Request::Request(const CompiledGraph& compiled) : compiled_(compiled) {
  values_.resize(compiled.graph_.values().size());
  if (compiled.paged_.num_blocks > 0) {
    const PagedConfig& p = compiled.paged_;
    for (const auto& [kv_heads, head_dim] : compiled.slot_heads_) {
      paged_.push_back(kv_heads > 0 ? std::make_unique<PagedKv>(kv_heads, head_dim, p.block_size, p.num_blocks, p.precision) : nullptr);
    }
    return;
  }
  kv_.resize(compiled.slot_widths_.size());
  for (size_t s = 0; s < kv_.size(); ++s) {
    kv_[s].capacity = compiled.max_context_;
    kv_[s].width = compiled.slot_widths_[s];
    kv_[s].k.assign(static_cast<size_t>(kv_[s].capacity * kv_[s].width), 0.0f);
    kv_[s].v.assign(kv_[s].k.size(), 0.0f);
  }
}

bool Request::is_paged() const { return compiled_.paged_.num_blocks > 0; }

void Request::reset(int64_t keep_tokens) {
  if (is_paged() && keep_tokens != 0) {
    fail(ErrorCode::kInvalidArgument, "reset({}): a paged request keeps no positions of its own (its sequences' blocks hold them)", keep_tokens);
  }
  if (keep_tokens < 0 || keep_tokens > n_past_) {
    fail(ErrorCode::kInvalidArgument, "reset keeps {} tokens but the request holds {}", keep_tokens, n_past_);
  }
  n_past_ = keep_tokens;
}

void Request::execute(int64_t n_tokens, const llmrt_tensor* inputs, uint32_t n_inputs, llmrt_tensor* outputs,
                      uint32_t n_outputs) {
  if (is_paged()) fail(ErrorCode::kInvalidArgument, "this model was compiled with a paged KV cache: run it with execute_paged");
  OpContext ctx{n_past_, n_tokens, &kv_, compiled_.max_context_, &scratch_};
  run(n_tokens, inputs, n_inputs, outputs, n_outputs, ctx);
  n_past_ += n_tokens;
}

void Request::execute_paged(std::span<const SeqStep> seqs, const llmrt_tensor* inputs, uint32_t n_inputs, llmrt_tensor* outputs,
                            uint32_t n_outputs) {
  if (!is_paged() && !compiled_.slot_widths_.empty()) {
    fail(ErrorCode::kInvalidArgument, "this model was compiled without a paged KV cache (kv_num_blocks 0): run it with execute");
  }
  int64_t rows = 0;
  for (const SeqStep& s : seqs) rows += std::max<int64_t>(s.n_tokens, 0);
  // A part of a partitioned model without attention runs the rows and ignores the tables.
  if (is_paged() && !paged_.empty()) check_paged_step(seqs, rows, compiled_.paged_.block_size, compiled_.paged_.num_blocks, compiled_.max_context_);
  if (rows <= 0) fail(ErrorCode::kInvalidArgument, "a paged step needs at least one token");
  OpContext ctx{0, rows, nullptr, compiled_.max_context_, &scratch_, &paged_, seqs};
  run(rows, inputs, n_inputs, outputs, n_outputs, ctx);
}

void Request::copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) {
  if (!is_paged()) fail(ErrorCode::kInvalidArgument, "copy_blocks(): this request has no paged KV cache");
  for (size_t i = 0; i < src.size(); ++i) {
    for (auto& kv : paged_) {
      if (kv) kv->copy_block(src[i], dst[i]);
    }
  }
}

void Request::run(int64_t n_tokens, const llmrt_tensor* inputs, uint32_t n_inputs, llmrt_tensor* outputs, uint32_t n_outputs,
                  OpContext& ctx) {
  const core::Graph& g = compiled_.graph_;
  if (n_inputs != g.inputs().size()) fail(ErrorCode::kInvalidArgument, "the graph takes {} inputs, {} given", g.inputs().size(), n_inputs);
  if (n_outputs != g.outputs().size()) fail(ErrorCode::kInvalidArgument, "the graph has {} outputs, {} requested", g.outputs().size(), n_outputs);
  if (n_tokens <= 0) fail(ErrorCode::kInvalidArgument, "a step needs at least one token, got {}", n_tokens);
  if (!kv_.empty() && ctx.kv && n_past_ + n_tokens > compiled_.max_context_) {
    fail(ErrorCode::kOutOfRange, "{} cached + {} new tokens exceed the context of {} tokens", n_past_, n_tokens,
         compiled_.max_context_);
  }
  for (uint32_t i = 0; i < n_inputs; ++i) {
    const core::Value& v = g.value(g.inputs()[i]);
    const llmrt_tensor& src = inputs[i];
    const DType want = v.dtype;
    if (src.dtype != (want == DType::kF32 ? LLMRT_DTYPE_F32 : LLMRT_DTYPE_I32)) {
      fail(ErrorCode::kInvalidArgument, "input '{}' must be {}", v.name, core::to_string(want));
    }
    if (src.rank != v.shape.size()) fail(ErrorCode::kInvalidArgument, "input '{}' must have rank {}, has {}", v.name, v.shape.size(), src.rank);
    Shape shape(src.shape, src.shape + src.rank);
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] < 0 || (v.shape[d] != core::kDynamic && v.shape[d] != shape[d])) {
        fail(ErrorCode::kInvalidArgument, "input '{}' has shape {}, the graph expects {}", v.name, shape_to_string(shape),
             shape_to_string(v.shape));
      }
    }
    Activation& a = values_[static_cast<size_t>(g.inputs()[i])];
    a.resize(want, shape);
    if (src.bytes != a.bytes() || (a.bytes() && !src.data)) {
      fail(ErrorCode::kInvalidArgument, "input '{}' of shape {} needs {} bytes, {} given", v.name, shape_to_string(shape), a.bytes(), src.bytes);
    }
    std::memcpy(a.raw(), src.data, a.bytes());
  }
  std::vector<Operand> operands;
  for (size_t ni = 0; ni < g.nodes().size(); ++ni) {
    const core::Node& n = g.nodes()[ni];
    operands.clear();
    for (ValueId in : n.inputs) {
      Operand op;
      if (auto w = compiled_.weights_.find(in); w != compiled_.weights_.end()) {
        op.weight = &w->second;
        if (auto d = compiled_.decoded_.find(in); d != compiled_.decoded_.end()) op.weight_f32 = &d->second;
        if (auto p = compiled_.packed_.find(in); p != compiled_.packed_.end()) op.packed = p->second;
      } else {
        op.act = &values_[static_cast<size_t>(in)];
      }
      operands.push_back(op);
    }
    // A value without storage (it died last step) takes a dead value's buffer of its dtype.
    Activation& out = values_[static_cast<size_t>(n.outputs[0])];
    auto reuse = [](auto& storage, auto& pool) {
      if (storage.capacity() == 0 && !pool.empty()) {
        storage = std::move(pool.back());
        pool.pop_back();
      }
    };
    if (g.value(n.outputs[0]).dtype == DType::kF32) reuse(out.f32, pool_f32_);
    else reuse(out.i32, pool_i32_);
    auto t0 = std::chrono::steady_clock::now();
    run_ref(n, operands, out, ctx);
    if (log::verbose()) {
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      log::info("cpu: {} '{}' ref {} -> {} {:.3f} ms", core::to_string(n.op), n.name,
                n.inputs.empty() ? "" : shape_to_string(operands[0].shape()),
                shape_to_string(values_[static_cast<size_t>(n.outputs[0])].shape), ms);
    }
    for (ValueId dead : compiled_.dead_after_[ni]) {
      Activation& a = values_[static_cast<size_t>(dead)];
      if (a.f32.capacity()) pool_f32_.push_back(std::move(a.f32));
      if (a.i32.capacity()) pool_i32_.push_back(std::move(a.i32));
      a.f32 = {};
      a.i32 = {};
    }
  }
  for (uint32_t i = 0; i < n_outputs; ++i) {
    Activation& a = values_[static_cast<size_t>(g.outputs()[i])];
    llmrt_tensor& dst = outputs[i];
    dst.dtype = a.dtype == DType::kF32 ? LLMRT_DTYPE_F32 : LLMRT_DTYPE_I32;
    dst.rank = static_cast<uint32_t>(a.shape.size());
    for (size_t d = 0; d < a.shape.size() && d < LLMRT_MAX_RANK; ++d) dst.shape[d] = a.shape[d];
    dst.data = a.raw();
    dst.bytes = a.bytes();
  }
}

}  // namespace llmrt::cpu
