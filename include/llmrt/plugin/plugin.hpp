// Header-only C++ helpers for the two sides of the plugin ABI. Standard library only.
//
// Plugin side:  llmrt::plugin::guard(err, [&] { ... }) runs C++ code behind a C entry point,
//               turning exceptions into a status and message (codes from llmrt::Error).
// Host side:    llmrt::plugin::Table wraps a checked llmrt_plugin_api* and turns each failed
//               call into an llmrt::Error carrying the plugin's message.
#pragma once

#include <cstddef>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <utility>

#include "llmrt/error.hpp"
#include "llmrt/plugin/plugin_abi.h"

namespace llmrt::plugin {

inline void set_error(llmrt_error* err, llmrt_status code, const std::string& message) {
  if (!err) return;
  err->code = code;
  size_t n = std::min(message.size(), sizeof(err->message) - 1);
  std::memcpy(err->message, message.data(), n);
  err->message[n] = '\0';
}

template <class F>
llmrt_status guard(llmrt_error* err, F&& fn) noexcept {
  try {
    std::forward<F>(fn)();
    set_error(err, LLMRT_OK, "");
    return LLMRT_OK;
  } catch (const Error& e) {
    set_error(err, static_cast<llmrt_status>(e.code()), e.what());
    return static_cast<llmrt_status>(e.code());
  } catch (const std::bad_alloc&) {
    set_error(err, LLMRT_ERR_OUT_OF_MEMORY, "out of memory");
    return LLMRT_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_error(err, LLMRT_ERR_INTERNAL, std::string("internal error: ") + e.what());
    return LLMRT_ERR_INTERNAL;
  } catch (...) {
    set_error(err, LLMRT_ERR_INTERNAL, "internal error: unknown exception");
    return LLMRT_ERR_INTERNAL;
  }
}

// Throws llmrt::Error for a failed status, prefixing the plugin's message with `what`.
inline void check(llmrt_status status, const llmrt_error& err, const std::string& what) {
  if (status == LLMRT_OK) return;
  size_t n = strnlen(err.message, sizeof(err.message));
  throw Error(static_cast<ErrorCode>(status), what + ": " + std::string(err.message, n));
}

// The table up to `execute`: what every ABI-1 plugin has. Later additions (execute_paged,
// copy_blocks) are optional and read only when struct_size covers them.
inline constexpr size_t kCoreApiSize = offsetof(llmrt_plugin_api, execute_paged);

// Does the plugin serve paged requests (execute_paged and copy_blocks)?
inline bool has_paged(const llmrt_plugin_api& api) {
  return api.struct_size >= offsetof(llmrt_plugin_api, copy_blocks) + sizeof(api.copy_blocks) && api.execute_paged &&
         api.copy_blocks;
}

// Is `api` a table this host can use? Fills `why` when not.
inline bool compatible(const llmrt_plugin_api* api, std::string* why) {
  if (!api) {
    *why = "the entry point returned no table (the plugin does not speak ABI version " +
           std::to_string(LLMRT_PLUGIN_ABI_VERSION) + ")";
    return false;
  }
  if (api->abi_version != LLMRT_PLUGIN_ABI_VERSION) {
    *why = "plugin ABI version " + std::to_string(api->abi_version) + ", host speaks " +
           std::to_string(LLMRT_PLUGIN_ABI_VERSION);
    return false;
  }
  if (api->struct_size < kCoreApiSize) {
    *why = "plugin table is " + std::to_string(api->struct_size) + " bytes, expected at least " +
           std::to_string(kCoreApiSize);
    return false;
  }
  if (!api->init || !api->shutdown || !api->device_count || !api->device_info || !api->supports || !api->compile ||
      !api->compiled_release || !api->request_create || !api->request_release || !api->request_reset ||
      !api->execute || !api->buffer_create || !api->buffer_release || !api->buffer_write || !api->buffer_read) {
    *why = "plugin table has a NULL function";
    return false;
  }
  return true;
}

}  // namespace llmrt::plugin
