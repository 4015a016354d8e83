#include "runtime/plugin_loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "llmrt/plugin/plugin.hpp"
#include "util/error.h"
#include "util/log.h"

namespace llmrt {
namespace {

void host_log(void*, llmrt_log_level level, const char* message) {
  auto l = static_cast<log::Level>(std::clamp(static_cast<int>(level), 0, 5));
  if (log::enabled(l)) log::write(l, message ? message : "");
}

llmrt_host_api make_host_api() {
  llmrt_host_api h{};
  h.abi_version = LLMRT_PLUGIN_ABI_VERSION;
  h.struct_size = sizeof(llmrt_host_api);
  h.log = host_log;
  h.host_data = nullptr;
  h.log_level = static_cast<llmrt_log_level>(log::level());
  h.verbose = log::verbose() ? 1 : 0;
  return h;
}

}  // namespace

Plugin::~Plugin() {
  if (api_ && state_) api_->shutdown(state_);
  if (handle_) ::dlclose(handle_);
}

std::shared_ptr<Plugin> Plugin::load(const std::filesystem::path& path) {
  std::shared_ptr<Plugin> p(new Plugin());
  p->path_ = path;
  // RTLD_NODELETE: a plugin stays mapped after dlclose. Plugins start threads (the CPU plugin's
  // OpenMP pool) that outlive its shutdown; unmapping their code under them would crash.
  p->handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!p->handle_) {
    const char* why = ::dlerror();
    fail(ErrorCode::kIo, "cannot load plugin '{}': {}", path.string(), why ? why : "unknown dlopen error");
  }
  auto entry = reinterpret_cast<llmrt_plugin_entry_fn>(::dlsym(p->handle_, LLMRT_PLUGIN_ENTRY_SYMBOL));
  if (!entry) fail(ErrorCode::kBadFormat, "plugin '{}' does not export {}", path.string(), LLMRT_PLUGIN_ENTRY_SYMBOL);
  p->api_ = entry(LLMRT_PLUGIN_ABI_VERSION);
  std::string why;
  if (!plugin::compatible(p->api_, &why)) {
    p->api_ = nullptr;
    fail(ErrorCode::kVersionMismatch, "plugin '{}': {}", path.string(), why);
  }
  static const llmrt_host_api host = make_host_api();
  llmrt_error err{};
  plugin::check(p->api_->init(&host, &p->state_, &err), err, fmt::format("plugin '{}' failed to initialise", path.string()));
  return p;
}

PluginScan load_plugins(const std::vector<std::filesystem::path>& dirs) {
  PluginScan scan;
  std::set<std::string> names;
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) continue;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      const std::string f = e.path().filename().string();
      if (f.rfind("libllmrt_plugin_", 0) == 0 && e.path().extension() == ".so") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      try {
        auto p = Plugin::load(f);
        if (!names.insert(p->name()).second) {
          scan.skipped.push_back(fmt::format("{}: a plugin named '{}' is already loaded", f.string(), p->name()));
          log::info("skipping plugin {}: a plugin named '{}' is already loaded", f.string(), p->name());
          continue;
        }
        log::debug("loaded plugin '{}' from {}", p->name(), f.string());
        scan.plugins.push_back(std::move(p));
      } catch (const Error& e) {
        scan.skipped.push_back(e.what());
        log::warn("skipping plugin: {}", e.what());
      }
    }
  }
  return scan;
}

std::vector<std::filesystem::path> default_plugin_dirs() {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("LLMRT_PLUGIN_PATH"); env && *env) {
    std::string s = env;
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) dirs.emplace_back(s.substr(start, end - start));
      start = end + 1;
    }
    return dirs;
  }
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&default_plugin_dirs), &info) && info.dli_fname) {
    dirs.push_back(std::filesystem::path(info.dli_fname).parent_path() / "llmrt-plugins");
  }
#ifdef LLMRT_BUILD_PLUGIN_DIR
  dirs.emplace_back(LLMRT_BUILD_PLUGIN_DIR);
#endif
  return dirs;
}

}  // namespace llmrt
