#include "genai/jinja_json.h"

#include <algorithm>
#include <cmath>

#include "genai/jinja_text.h"

namespace llmrt::genai::jinja {

namespace {

template <class Json>
Value convert(const Json& j, int depth) {
  if (depth > kMaxValueDepth) fault(ErrorCode::kOutOfRange, "variables nested more than {} levels deep", kMaxValueDepth);
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value::integer(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const uint64_t u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) fault(ErrorCode::kOutOfRange, "integer {} does not fit in 64 bits", u);
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value::floating(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value::string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      List items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(convert(item, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d.set(Value::string(it.key()), convert(it.value(), depth + 1));
      return Value::dict(std::move(d));
    }
    default:
      fault(ErrorCode::kInvalidArgument, "variables hold a JSON value of type {}, which templates cannot use",
            j.type_name());
  }
}

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  for (size_t pos = 0; pos < s.size();) {
    const uint32_t cp = next_codepoint(s, pos);
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
          if (cp >= 0x10000) {
            const uint32_t v = cp - 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
          } else {
            out += fmt::format("\\u{:04x}", cp);
          }
        } else {
          append_utf8(out, cp);
        }
    }
  }
  out += '"';
}

std::string json_float(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f < 0 ? "-Infinity" : "Infinity";
  return py_float_repr(f);
}

std::string json_key(const Value& key) {
  switch (key.type()) {
    case Type::kString:
      return key.get_string();
    case Type::kNone:
      return "null";
    case Type::kBool:
      return key.get_bool() ? "true" : "false";
    case Type::kInt:
      return std::to_string(key.get_int());
    case Type::kFloat:
      return json_float(key.get_float());
    default:
      fault(ErrorCode::kInvalidArgument, "keys must be str, int, float, bool or None, not {}", type_name(key));
  }
}

class JsonWriter {
 public:
  JsonWriter(const JsonOptions& options, std::string& out) : options_(options), out_(out) {}

  void write(const Value& v, int level) {
    switch (v.type()) {
      case Type::kNone:
        out_ += "null";
        return;
      case Type::kBool:
        out_ += v.get_bool() ? "true" : "false";
        return;
      case Type::kInt:
        out_ += std::to_string(v.get_int());
        return;
      case Type::kFloat:
        out_ += json_float(v.get_float());
        return;
      case Type::kString:
        append_json_string(out_, v.get_string(), options_.ensure_ascii);
        return;
      case Type::kList:
        if (v.list_kind() == ListKind::kList || v.list_kind() == ListKind::kTuple) {
          write_list(v.get_list(), level);
          return;
        }
        break;
      case Type::kDict:
        write_dict(v.get_dict(), level);
        return;
      default:
        break;
    }
    fault(ErrorCode::kInvalidArgument, "Object of type {} is not JSON serializable", type_name(v));
  }

 private:
  void newline(int level) {
    if (!options_.indent) return;
    out_ += '\n';
    for (int i = 0; i < level; ++i) out_ += *options_.indent;
  }

  void write_list(const List& items, int level) {
    if (items.empty()) {
      out_ += "[]";
      return;
    }
    out_ += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out_ += options_.item_separator;
      newline(level + 1);
      write(items[i], level + 1);
    }
    newline(level);
    out_ += ']';
  }

  void write_dict(const Dict& d, int level) {
    if (d.size() == 0) {
      out_ += "{}";
      return;
    }
    std::vector<std::pair<std::string, const Value*>> entries;
    entries.reserve(d.size());
    for (const auto& [key, value] : d.entries()) {
      if (options_.sort_keys && !key.is_string()) {
        fault(ErrorCode::kUnsupported, "tojson(sort_keys=true) with a key of type {}", type_name(key));
      }
      entries.emplace_back(json_key(key), &value);
    }
    if (options_.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    out_ += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) out_ += options_.item_separator;
      newline(level + 1);
      append_json_string(out_, entries[i].first, options_.ensure_ascii);
      out_ += options_.key_separator;
      write(*entries[i].second, level + 1);
    }
    newline(level);
    out_ += '}';
  }

  const JsonOptions& options_;
  std::string& out_;
};

}  // namespace

Value from_json(const nlohmann::json& j) { return convert(j, 0); }
Value from_json(const nlohmann::ordered_json& j) { return convert(j, 0); }

std::string to_json(const Value& v, const JsonOptions& options) {
  std::string out;
  JsonWriter(options, out).write(v, 0);
  return out;
}

}  // namespace llmrt::genai::jinja
