// A test plugin: the CPU plugin's table (its entry renamed at compile time) presented as the
// device "PARTIAL", which claims only Gather, RMSNorm, FullyConnected and Add. The runtime must
// run everything else on the CPU, and the logits must not change.
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "llmrt/plugin/plugin_abi.h"

extern "C" const llmrt_plugin_api* llmrt_cpu_plugin_entry_inner(uint32_t);

namespace {

const llmrt_plugin_api* inner() { return llmrt_cpu_plugin_entry_inner(LLMRT_PLUGIN_ABI_VERSION); }

llmrt_status device_info(void* plugin, uint32_t device, llmrt_device_info* info, llmrt_error* err) {
  llmrt_status s = inner()->device_info(plugin, device, info, err);
  if (s == LLMRT_OK) std::strcpy(info->name, "PARTIAL");
  return s;
}

llmrt_status supports(void*, uint32_t, const char* node_json, int32_t* supported, llmrt_error*) {
  static const std::set<std::string> kOps = {"Gather", "RMSNorm", "FullyConnected", "Add"};
  nlohmann::json node = nlohmann::json::parse(node_json, nullptr, false);
  *supported = !node.is_discarded() && node.contains("op") && kOps.count(node["op"].get<std::string>()) ? 1 : 0;
  return LLMRT_OK;
}

llmrt_plugin_api make() {
  llmrt_plugin_api api = *inner();
  api.plugin_name = "partial";
  api.device_info = device_info;
  api.supports = supports;
  return api;
}

const llmrt_plugin_api kApi = make();

}  // namespace

extern "C" LLMRT_PLUGIN_EXPORT const llmrt_plugin_api* llmrt_plugin_entry(uint32_t version) {
  return version == LLMRT_PLUGIN_ABI_VERSION ? &kApi : nullptr;
}
