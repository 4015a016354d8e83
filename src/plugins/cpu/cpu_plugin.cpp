// The CPU plugin's C entry point: the llmrt_plugin_api table over the executor.
// Built as its own shared library (libllmrt_plugin_cpu.so) and loaded at run time.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/graph.h"
#include "llmrt/plugin/plugin.hpp"
#include "plugins/cpu/executor.h"
#include "plugins/cpu/onednn_matmul.h"
#include "util/cpu_features.h"
#include "util/error.h"
#include "util/log.h"
#include "util/threads.h"

namespace llmrt::cpu {
namespace {

struct PluginState {
  llmrt_host_api host{};
};

struct Buffer {
  std::unique_ptr<std::byte[]> bytes;
  uint64_t size = 0;
};

struct Compiled {
  std::unique_ptr<CompiledGraph> graph;
};

void forward_log(llmrt_log_level level, const char* message, void* user) {
  auto* host = static_cast<const llmrt_host_api*>(user);
  if (host->log) host->log(host->host_data, level, message);
}

void copy_text(char* dst, size_t cap, std::string_view text) {
  size_t n = std::min(text.size(), cap - 1);
  std::memcpy(dst, text.data(), n);
  dst[n] = '\0';
}

// The host's pointers are checked at the boundary: a NULL gets an error, never a crash.
void require(const void* p, const char* what) {
  if (!p) fail(ErrorCode::kInvalidArgument, "{} is NULL", what);
}

void check_device(uint32_t device) {
  if (device != 0) fail(ErrorCode::kNotFound, "CPU plugin has one device (0), not {}", device);
}

llmrt_status init(const llmrt_host_api* host, void** plugin, llmrt_error* err) {
  return plugin::guard(err, [&] {
    require(plugin, "init(): plugin");
    if (!host || host->abi_version != LLMRT_PLUGIN_ABI_VERSION || host->struct_size < sizeof(llmrt_host_api)) {
      fail(ErrorCode::kVersionMismatch, "the host's services table is missing or of another ABI version");
    }
    auto state = std::make_unique<PluginState>();
    state->host = *host;
    log::set_sink(forward_log, &state->host);
    log::set_level(static_cast<log::Level>(host->log_level));
    log::set_verbose(host->verbose != 0);
    *plugin = state.release();
  });
}

void shutdown(void* plugin) {
  log::set_sink(nullptr, nullptr);
  delete static_cast<PluginState*>(plugin);
}

llmrt_status device_count(void*, uint32_t* count, llmrt_error* err) {
  return plugin::guard(err, [&] {
    require(count, "device_count(): count");
    *count = 1;
  });
}

llmrt_status device_info(void*, uint32_t device, llmrt_device_info* info, llmrt_error* err) {
  return plugin::guard(err, [&] {
    check_device(device);
    require(info, "device_info(): info");
    std::memset(info, 0, sizeof *info);
    const CpuFeatures& f = cpu_features();
    copy_text(info->name, sizeof info->name, "CPU");
    copy_text(info->full_name, sizeof info->full_name, f.brand.empty() ? "x86-64 CPU" : f.brand);
    copy_text(info->vendor, sizeof info->vendor, f.vendor);
    long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    info->memory_bytes = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
    info->compute_units = std::thread::hardware_concurrency();
    nlohmann::json props = {{"isa", std::string(to_string(cpu_isa()))},
                            {"isa_best", std::string(to_string(f.best))},
                            {"threads", num_threads()},
                            {"avx512_vnni", f.avx512_vnni},
                            {"avx512_bf16", f.avx512_bf16},
                            {"amx", f.amx_tile},
                            {"matmul", onednn_version_text()}};
    copy_text(info->properties_json, sizeof info->properties_json, props.dump());
  });
}

llmrt_status supports(void*, uint32_t device, const char* node_json, int32_t* supported, llmrt_error* err) {
  return plugin::guard(err, [&] {
    check_device(device);
    require(supported, "supports(): supported");
    nlohmann::json node = nlohmann::json::parse(node_json ? node_json : "", nullptr, false);
    if (node.is_discarded() || !node.is_object() || !node.contains("op") || !node["op"].is_string()) {
      fail(ErrorCode::kInvalidArgument, "supports(): node description is not JSON with an \"op\"");
    }
    *supported = core::parse_op(node["op"].get<std::string>()).has_value() ? 1 : 0;  // every op of the IR
  });
}

llmrt_status buffer_create(void*, uint32_t device, uint64_t bytes, void** buffer, llmrt_error* err) {
  return plugin::guard(err, [&] {
    check_device(device);
    require(buffer, "buffer_create(): buffer");
    auto b = std::make_unique<Buffer>();
    b->bytes = std::make_unique<std::byte[]>(bytes);
    b->size = bytes;
    *buffer = b.release();
  });
}

void buffer_release(void*, void* buffer) { delete static_cast<Buffer*>(buffer); }

void check_range(const Buffer* b, uint64_t offset, uint64_t bytes) {
  if (!b) fail(ErrorCode::kInvalidArgument, "buffer is NULL");
  if (offset > b->size || bytes > b->size - offset) {
    fail(ErrorCode::kOutOfRange, "bytes [{}, {}+{}) lie outside the {}-byte buffer", offset, offset, bytes, b->size);
  }
}

llmrt_status buffer_write(void*, void* buffer, uint64_t offset, const void* src, uint64_t bytes, llmrt_error* err) {
  return plugin::guard(err, [&] {
    auto* b = static_cast<Buffer*>(buffer);
    check_range(b, offset, bytes);
    if (bytes) require(src, "buffer_write(): src");
    if (bytes) std::memcpy(b->bytes.get() + offset, src, bytes);
  });
}

llmrt_status buffer_read(void*, void* buffer, uint64_t offset, void* dst, uint64_t bytes, llmrt_error* err) {
  return plugin::guard(err, [&] {
    auto* b = static_cast<Buffer*>(buffer);
    check_range(b, offset, bytes);
    if (bytes) require(dst, "buffer_read(): dst");
    if (bytes) std::memcpy(dst, b->bytes.get() + offset, bytes);
  });
}

llmrt_status compile(void*, uint32_t device, const char* graph_json, const llmrt_weight* weights, uint32_t n_weights,
                     const llmrt_compile_options* options, void** compiled, llmrt_error* err) {
  return plugin::guard(err, [&] {
    check_device(device);
    require(graph_json, "compile(): graph_json");
    require(compiled, "compile(): compiled");
    if (n_weights) require(weights, "compile(): weights");
    const uint32_t size = options ? options->struct_size : 0;
    const int64_t max_context = size >= offsetof(llmrt_compile_options, max_context) + 8 ? options->max_context : 0;
    const uint8_t* flags = size >= offsetof(llmrt_compile_options, weight_flags) + sizeof(void*) ? options->weight_flags : nullptr;
    PagedConfig paged;
    if (size >= offsetof(llmrt_compile_options, kv_precision) + sizeof(int32_t) && options->kv_num_blocks > 0) {
      paged = {options->kv_block_size, options->kv_num_blocks, options->kv_precision};
    }
    auto c = std::make_unique<Compiled>();
    c->graph = std::make_unique<CompiledGraph>(core::Graph::deserialize(graph_json), weights, n_weights, max_context, flags, paged);
    log::debug("cpu: compiled {} nodes, context {}", c->graph->graph().nodes().size(), max_context);
    *compiled = c.release();
  });
}

void compiled_release(void* compiled) { delete static_cast<Compiled*>(compiled); }

llmrt_status request_create(void* compiled, void** request, llmrt_error* err) {
  return plugin::guard(err, [&] {
    require(compiled, "request_create(): compiled");
    require(request, "request_create(): request");
    *request = static_cast<Compiled*>(compiled)->graph->create_request().release();
  });
}

void request_release(void* request) { delete static_cast<Request*>(request); }

llmrt_status request_reset(void* request, int64_t keep_tokens, llmrt_error* err) {
  return plugin::guard(err, [&] {
    require(request, "request_reset(): request");
    static_cast<Request*>(request)->reset(keep_tokens);
  });
}

llmrt_status execute(void* request, int64_t n_tokens, const llmrt_tensor* inputs, uint32_t n_inputs, llmrt_tensor* outputs,
                     uint32_t n_outputs, llmrt_error* err) {
  return plugin::guard(err, [&] {
    require(request, "execute(): request");
    if (n_inputs) require(inputs, "execute(): inputs");
    if (n_outputs) require(outputs, "execute(): outputs");
    static_cast<Request*>(request)->execute(n_tokens, inputs, n_inputs, outputs, n_outputs);
  });
}

llmrt_status execute_paged(void* request, const llmrt_sequence_step* sequences, uint32_t n_sequences, const llmrt_tensor* inputs,
                           uint32_t n_inputs, llmrt_tensor* outputs, uint32_t n_outputs, llmrt_error* err) {
  return plugin::guard(err, [&] {
    require(request, "execute_paged(): request");
    if (n_sequences) require(sequences, "execute_paged(): sequences");
    if (n_inputs) require(inputs, "execute_paged(): inputs");
    if (n_outputs) require(outputs, "execute_paged(): outputs");
    std::vector<SeqStep> seqs(n_sequences);
    int64_t row = 0;
    for (uint32_t i = 0; i < n_sequences; ++i) {
      const llmrt_sequence_step& s = sequences[i];
      if (s.n_blocks < 0 || (s.n_blocks > 0 && !s.block_table)) {
        fail(ErrorCode::kInvalidArgument, "execute_paged(): sequence {} has {} blocks and {} table", i, s.n_blocks,
             s.block_table ? "a" : "no");
      }
      seqs[i] = {s.n_past, s.n_tokens, row, std::span<const int32_t>(s.block_table, static_cast<size_t>(s.n_blocks))};
      row += std::max<int64_t>(s.n_tokens, 0);
    }
    static_cast<Request*>(request)->execute_paged(seqs, inputs, n_inputs, outputs, n_outputs);
  });
}

llmrt_status copy_blocks(void* request, const int32_t* src, const int32_t* dst, uint32_t n, llmrt_error* err) {
  return plugin::guard(err, [&] {
    require(request, "copy_blocks(): request");
    if (n) {
      require(src, "copy_blocks(): src");
      require(dst, "copy_blocks(): dst");
    }
    static_cast<Request*>(request)->copy_blocks(std::span<const int32_t>(src, n), std::span<const int32_t>(dst, n));
  });
}

const llmrt_plugin_api kApi = {
    LLMRT_PLUGIN_ABI_VERSION, sizeof(llmrt_plugin_api), "cpu", init, shutdown, device_count, device_info, supports,
    buffer_create, buffer_release, buffer_write, buffer_read, compile, compiled_release, request_create, request_release,
    request_reset, execute, execute_paged, copy_blocks};

}  // namespace
}  // namespace llmrt::cpu

extern "C" LLMRT_PLUGIN_EXPORT const llmrt_plugin_api* llmrt_plugin_entry(uint32_t host_abi_version) {
  return host_abi_version == LLMRT_PLUGIN_ABI_VERSION ? &llmrt::cpu::kApi : nullptr;
}
