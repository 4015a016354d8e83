#include "util/log.h"

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace llmrt::log {
namespace {

struct State {
  std::atomic<int> level{static_cast<int>(Level::kWarn)};
  std::atomic<bool> verbose{false};
  std::mutex sink_mutex;
  llmrt_log_callback callback = nullptr;
  void* user_data = nullptr;
  std::string env_warning;  // a bad environment value, reported once the logger exists

  State() {
    if (const char* env = std::getenv("LLMRT_LOG_LEVEL"); env && *env) {
      Level parsed;
      if (parse_level(env, &parsed)) {
        level = static_cast<int>(parsed);
      } else {
        env_warning = fmt::format("LLMRT_LOG_LEVEL='{}' is not one of trace, debug, info, warn, error, off; "
                                  "using warn", env);
      }
    }
    if (const char* env = std::getenv("LLMRT_VERBOSE"); env && *env && std::string_view(env) != "0") {
      verbose = true;
      if (level > static_cast<int>(Level::kInfo)) level = static_cast<int>(Level::kInfo);
    }
  }
};

State& state() {
  static State* s = [] {
    auto* created = new State();  // never destroyed: logging must work during static teardown
    if (!created->env_warning.empty()) {
      std::fprintf(stderr, "llmrt [warn] %s\n", created->env_warning.c_str());
    }
    return created;
  }();
  return *s;
}

}  // namespace

bool parse_level(std::string_view text, Level* out) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::pair<std::string_view, Level> kNames[] = {
      {"trace", Level::kTrace}, {"debug", Level::kDebug}, {"info", Level::kInfo},
      {"warn", Level::kWarn},   {"warning", Level::kWarn}, {"error", Level::kError},
      {"off", Level::kOff},     {"none", Level::kOff}};
  for (auto [name, value] : kNames) {
    if (lower == name) {
      *out = value;
      return true;
    }
  }
  if (lower.size() == 1 && lower[0] >= '0' && lower[0] <= '5') {
    *out = static_cast<Level>(lower[0] - '0');
    return true;
  }
  return false;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kTrace: return "trace";
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
    case Level::kOff: return "off";
  }
  return "?";
}

bool enabled(Level level) {
  return level != Level::kOff && static_cast<int>(level) >= state().level.load(std::memory_order_relaxed);
}

bool verbose() { return state().verbose.load(std::memory_order_relaxed); }

void write(Level level, std::string_view message) {
  State& s = state();
  std::string line(message);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  std::lock_guard lock(s.sink_mutex);
  if (s.callback) {
    s.callback(static_cast<llmrt_log_level>(level), line.c_str(), s.user_data);
  } else {
    std::fprintf(stderr, "llmrt [%.*s] %s\n", static_cast<int>(level_name(level).size()),
                 level_name(level).data(), line.c_str());
  }
}

void set_level(Level level) { state().level = static_cast<int>(level); }
Level level() { return static_cast<Level>(state().level.load()); }
void set_verbose(bool on) { state().verbose = on; }

void set_sink(llmrt_log_callback callback, void* user_data) {
  State& s = state();
  std::lock_guard lock(s.sink_mutex);
  s.callback = callback;
  s.user_data = user_data;
}

}  // namespace llmrt::log

extern "C" {
void llmrt_log_set_callback(llmrt_log_callback callback, void* user_data) {
  llmrt::log::set_sink(callback, user_data);
}
void llmrt_log_set_level(llmrt_log_level level) {
  int v = static_cast<int>(level);
  if (v < LLMRT_LOG_TRACE) v = LLMRT_LOG_TRACE;
  if (v > LLMRT_LOG_OFF) v = LLMRT_LOG_OFF;
  llmrt::log::set_level(static_cast<llmrt::log::Level>(v));
}
llmrt_log_level llmrt_log_get_level(void) { return static_cast<llmrt_log_level>(llmrt::log::level()); }
void llmrt_log_set_verbose(int enabled) { llmrt::log::set_verbose(enabled != 0); }
}
