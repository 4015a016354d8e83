// The levelled logger behind include/llmrt/log.h. Messages below the current level are
// dropped before formatting, so a disabled debug line costs one atomic load.
//
//   log::info("loaded {} tensors from {}", n, path);
//   if (log::verbose()) log::info("kernel gemv_int4 avx512: {:.3f} ms", ms);
//
// Each shared library that links util (libllmrt, each plugin) has its own copy of this
// state; plugins forward to the host's sink through the plugin ABI.
#pragma once

#include <fmt/format.h>

#include <string_view>
#include <utility>

#include "llmrt/log.h"

namespace llmrt::log {

enum class Level { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };

bool enabled(Level level);
bool verbose();
void write(Level level, std::string_view message);

void set_level(Level level);
Level level();
void set_verbose(bool on);
void set_sink(llmrt_log_callback callback, void* user_data);

// Parses "trace".."off" or "0".."5" (case-insensitive); false when it is neither.
bool parse_level(std::string_view text, Level* out);
std::string_view level_name(Level level);

template <class... A>
void emit(Level level, fmt::format_string<A...> format, A&&... args) {
  if (enabled(level)) write(level, fmt::format(format, std::forward<A>(args)...));
}
template <class... A> void trace(fmt::format_string<A...> f, A&&... a) { emit(Level::kTrace, f, std::forward<A>(a)...); }
template <class... A> void debug(fmt::format_string<A...> f, A&&... a) { emit(Level::kDebug, f, std::forward<A>(a)...); }
template <class... A> void info(fmt::format_string<A...> f, A&&... a) { emit(Level::kInfo, f, std::forward<A>(a)...); }
template <class... A> void warn(fmt::format_string<A...> f, A&&... a) { emit(Level::kWarn, f, std::forward<A>(a)...); }
template <class... A> void error(fmt::format_string<A...> f, A&&... a) { emit(Level::kError, f, std::forward<A>(a)...); }

}  // namespace llmrt::log
