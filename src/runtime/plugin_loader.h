// Finds and loads device plugins (libllmrt_plugin_*.so), checks their ABI, and keeps them
// loaded for as long as anything uses them. A plugin that fails any check is skipped with a
// warning naming the file and the reason; loading goes on without it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "llmrt/plugin/plugin_abi.h"

namespace llmrt {

class Plugin {
 public:
  ~Plugin();
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  const llmrt_plugin_api& api() const { return *api_; }
  void* state() const { return state_; }
  const std::filesystem::path& path() const { return path_; }
  std::string name() const { return api_->plugin_name ? api_->plugin_name : "?"; }

  // Loads one plugin; throws llmrt::Error (naming the file) on any failure.
  static std::shared_ptr<Plugin> load(const std::filesystem::path& path);

 private:
  Plugin() = default;
  std::filesystem::path path_;
  void* handle_ = nullptr;
  const llmrt_plugin_api* api_ = nullptr;
  void* state_ = nullptr;
};

struct PluginScan {
  std::vector<std::shared_ptr<Plugin>> plugins;
  std::vector<std::string> skipped;  // "path: reason"
};

// Every libllmrt_plugin_*.so in `dirs`, in name order; the first of a plugin name wins.
PluginScan load_plugins(const std::vector<std::filesystem::path>& dirs);
// LLMRT_PLUGIN_PATH, or the build's plugin folder and llmrt-plugins/ beside this library.
std::vector<std::filesystem::path> default_plugin_dirs();

}  // namespace llmrt
