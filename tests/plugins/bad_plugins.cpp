// Deliberately broken plugins for the loader test, one per build (selected by BAD_KIND):
//   1: exports no entry symbol          2: speaks another ABI version
//   3: a valid table whose init fails
#include <cstring>

#include "llmrt/plugin/plugin_abi.h"

#if BAD_KIND == 1
extern "C" LLMRT_PLUGIN_EXPORT int not_the_entry_point(void) { return 42; }
#elif BAD_KIND == 2
namespace {
llmrt_plugin_api table() {
  llmrt_plugin_api api{};
  api.abi_version = 999;
  api.struct_size = sizeof(llmrt_plugin_api);
  api.plugin_name = "future";
  return api;
}
const llmrt_plugin_api kApi = table();
}  // namespace
extern "C" LLMRT_PLUGIN_EXPORT const llmrt_plugin_api* llmrt_plugin_entry(uint32_t) { return &kApi; }
#elif BAD_KIND == 3
namespace {
llmrt_status fail_init(const llmrt_host_api*, void**, llmrt_error* err) {
  if (err) {
    err->code = LLMRT_ERR_DEVICE;
    std::strcpy(err->message, "no such hardware here");
  }
  return LLMRT_ERR_DEVICE;
}
void noop_shutdown(void*) {}
llmrt_status any(...) { return LLMRT_ERR_INTERNAL; }
void noop_release(void*) {}
void noop_release2(void*, void*) {}
llmrt_plugin_api table() {
  llmrt_plugin_api api{};
  api.abi_version = LLMRT_PLUGIN_ABI_VERSION;
  api.struct_size = sizeof(llmrt_plugin_api);
  api.plugin_name = "broken_init";
  api.init = fail_init;
  api.shutdown = noop_shutdown;
  api.device_count = reinterpret_cast<decltype(api.device_count)>(any);
  api.device_info = reinterpret_cast<decltype(api.device_info)>(any);
  api.supports = reinterpret_cast<decltype(api.supports)>(any);
  api.buffer_create = reinterpret_cast<decltype(api.buffer_create)>(any);
  api.buffer_release = noop_release2;
  api.buffer_write = reinterpret_cast<decltype(api.buffer_write)>(any);
  api.buffer_read = reinterpret_cast<decltype(api.buffer_read)>(any);
  api.compile = reinterpret_cast<decltype(api.compile)>(any);
  api.compiled_release = noop_release;
  api.request_create = reinterpret_cast<decltype(api.request_create)>(any);
  api.request_release = noop_release;
  api.request_reset = reinterpret_cast<decltype(api.request_reset)>(any);
  api.execute = reinterpret_cast<decltype(api.execute)>(any);
  return api;
}
const llmrt_plugin_api kApi = table();
}  // namespace
extern "C" LLMRT_PLUGIN_EXPORT const llmrt_plugin_api* llmrt_plugin_entry(uint32_t) { return &kApi; }
#endif
