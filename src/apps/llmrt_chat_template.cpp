// llmrt-chat-template: renders a chat template the way transformers' apply_chat_template does.
//
//   llmrt-chat-template -t TEMPLATE.jinja -i VARIABLES.json [--now 2026-01-15[T10:30:00]]
//
// Every key of VARIABLES.json (a JSON object, key order kept) becomes a template variable.
// The rendering goes to stdout with nothing added. --now pins the time strftime_now() reads
// (default: the current local time).
//
// Exits 0 on success; 1 when the template or the variables fail (a raise_exception() in the
// template, a syntax error, bad JSON), with the message on stderr; 2 on usage errors and
// unreadable files.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "genai/jinja_template.h"
#include "llmrt/error.hpp"

namespace {

constexpr const char* kUsage =
    "usage: llmrt-chat-template -t TEMPLATE.jinja -i VARIABLES.json [--now YYYY-MM-DD[THH:MM:SS]]\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "llmrt-chat-template: %s\n%s", message.c_str(), kUsage);
  return 2;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return buffer.str();
}

// "2026-01-15" or "2026-01-15T10:30:00".
std::optional<std::tm> parse_time(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &consumed) != 3) {
    return std::nullopt;
  }
  if (static_cast<size_t>(consumed) != text.size()) {
    int rest = 0;
    if (std::sscanf(text.c_str() + consumed, "T%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &rest) != 3 ||
        static_cast<size_t>(consumed + rest) != text.size()) {
      return std::nullopt;
    }
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return tm;
}

}  // namespace

int main(int argc, char** argv) {
  std::string template_path, variables_path;
  llmrt::genai::jinja::RenderOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg != "-t" && arg != "-i" && arg != "--now") return usage_error("unknown argument '" + arg + "'");
    if (i + 1 >= argc) return usage_error(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "-t") {
      template_path = value;
    } else if (arg == "-i") {
      variables_path = value;
    } else {
      options.now = parse_time(value);
      if (!options.now) return usage_error("--now takes YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, not '" + value + "'");
    }
  }
  if (template_path.empty() || variables_path.empty()) return usage_error("both -t and -i are required");

  const std::optional<std::string> source = read_file(template_path);
  if (!source) return usage_error("cannot read template " + template_path + ": " + std::strerror(errno));
  const std::optional<std::string> variables_text = read_file(variables_path);
  if (!variables_text) return usage_error("cannot read variables " + variables_path + ": " + std::strerror(errno));

  nlohmann::ordered_json variables;
  try {
    variables = nlohmann::ordered_json::parse(*variables_text);
  } catch (const nlohmann::json::exception& e) {
    std::fprintf(stderr, "llmrt-chat-template: %s: %s\n", variables_path.c_str(), e.what());
    return 1;
  }
  std::string rendered;
  try {
    const llmrt::genai::jinja::Template tmpl(*source);
    rendered = tmpl.render(variables, options);
  } catch (const llmrt::Error& e) {
    // The template's own message, as raise_exception gave it (or the interpreter's, with the line).
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmrt-chat-template: %s\n", e.what());
    return 1;
  }
  if (std::fwrite(rendered.data(), 1, rendered.size(), stdout) != rendered.size() || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "llmrt-chat-template: cannot write the rendering to stdout\n");
    return 1;
  }
  return 0;
}
