#include "genai/jinja_methods.h"

#include <algorithm>
#include <unordered_map>

#include "genai/jinja_eval.h"
#include "genai/jinja_format.h"
#include "genai/jinja_ops.h"
#include "genai/jinja_text.h"

namespace llmrt::genai::jinja {

namespace {

using MethodFn = Value (*)(Interpreter& interp, const Value& self, const CallArgs& args);

class BoundMethod : public Object {
 public:
  BoundMethod(Value self, std::string_view name, MethodFn fn) : self_(std::move(self)), name_(name), fn_(fn) {}
  std::string type_name() const override { return "builtin_function_or_method"; }
  bool callable() const override { return true; }
  Value call(Interpreter& interp, const CallArgs& args) override {
    if (!fn_) {
      fault(ErrorCode::kUnsupported, "unsupported method {}.{}()", jinja::type_name(self_), name_);
    }
    return fn_(interp, self_, args);
  }

 private:
  Value self_;
  std::string_view name_;
  MethodFn fn_;  // null: a Python method this interpreter does not implement
};

std::string what(const Value& self, std::string_view method) { return fmt::format("{}.{}()", type_name(self), method); }

const std::string& str_arg(const Value& v, std::string_view method) {
  if (!v.is_string()) fault(ErrorCode::kInvalidArgument, "{}: expected str, got {}", method, type_name(v));
  return v.get_string();
}

int64_t int_arg(const Value& v, std::string_view method) {
  if (!v.is_integral()) fault(ErrorCode::kInvalidArgument, "{}: expected int, got {}", method, type_name(v));
  return v.get_int();
}

Value string_list(std::vector<std::string> parts) {
  List items;
  items.reserve(parts.size());
  for (std::string& p : parts) items.push_back(Value::string(std::move(p)));
  return Value::list(std::move(items));
}

// self[start:end] by code points, and the code point offset of its first character.
std::pair<std::string, int64_t> window(const Value& self, const Value& start, const Value& end) {
  if (start.is_none() && end.is_none()) return {self.get_string(), 0};
  const Value sub = slice(self, start, end, Value::none());
  int64_t offset = 0;
  if (!start.is_none()) {
    const int64_t n = static_cast<int64_t>(codepoint_count(self.get_string()));
    offset = start.get_int() < 0 ? std::max<int64_t>(0, start.get_int() + n) : std::min(start.get_int(), n);
  }
  return {sub.get_string(), offset};
}

int64_t cp_index(const std::string& s, size_t byte_pos) {
  return static_cast<int64_t>(codepoint_count(std::string_view(s).substr(0, byte_pos)));
}

Value str_find(const Value& self, const CallArgs& args, std::string_view name, bool reverse, bool raise) {
  const auto a = bind_args(args, {required("sub"), {"start"}, {"end"}}, what(self, name));
  const std::string& sub = str_arg(a[0], name);
  const auto [text, offset] = window(self, a[1], a[2]);
  const size_t hit = reverse ? text.rfind(sub) : text.find(sub);
  if (hit == std::string::npos) {
    if (raise) fault(ErrorCode::kInvalidArgument, "substring not found");
    return Value::integer(-1);
  }
  return Value::integer(offset + cp_index(text, hit));
}

Value str_count(Interpreter&, const Value& self, const CallArgs& args) {
  const auto a = bind_args(args, {required("sub"), {"start"}, {"end"}}, what(self, "count"));
  const std::string& sub = str_arg(a[0], "count");
  const std::string text = window(self, a[1], a[2]).first;
  if (sub.empty()) return Value::integer(static_cast<int64_t>(codepoint_count(text)) + 1);
  int64_t n = 0;
  for (size_t p = text.find(sub); p != std::string::npos; p = text.find(sub, p + sub.size())) ++n;
  return Value::integer(n);
}

Value str_affix(const Value& self, const CallArgs& args, std::string_view name, bool prefix) {
  const auto a = bind_args(args, {required(prefix ? "prefix" : "suffix"), {"start"}, {"end"}}, what(self, name));
  const std::string text = window(self, a[1], a[2]).first;
  List candidates;
  if (a[0].is_list() && a[0].list_kind() == ListKind::kTuple) {
    candidates = a[0].get_list();
  } else if (a[0].is_string()) {
    candidates.push_back(a[0]);
  } else {
    fault(ErrorCode::kInvalidArgument, "{} first arg must be str or a tuple of str, not {}", name, type_name(a[0]));
  }
  for (const Value& c : candidates) {
    const std::string& s = str_arg(c, name);
    if (s.size() > text.size()) continue;
    if (prefix ? text.compare(0, s.size(), s) == 0 : text.compare(text.size() - s.size(), s.size(), s) == 0) {
      return Value::boolean(true);
    }
  }
  return Value::boolean(false);
}

Value str_strip_impl(const Value& self, const CallArgs& args, std::string_view name, bool left, bool right) {
  const auto a = bind_args(args, {{"chars"}}, what(self, name));
  const std::string* chars = a[0].is_none() ? nullptr : &str_arg(a[0], name);
  return Value::string(std::string(py_strip(self.get_string(), chars, left, right)));
}

Value str_split_impl(Interpreter& interp, const Value& self, const CallArgs& args, std::string_view name, bool reverse) {
  const auto a = bind_args(args, {{"sep"}, {"maxsplit", Value::integer(-1)}}, what(self, name));
  const std::string* sep = a[0].is_none() ? nullptr : &str_arg(a[0], name);
  if (sep && sep->empty()) fault(ErrorCode::kInvalidArgument, "empty separator");
  interp.charge(static_cast<int64_t>(self.get_string().size() / 64));
  const int64_t maxsplit = int_arg(a[1], name);
  return string_list(reverse ? py_rsplit(self.get_string(), sep, maxsplit) : py_split(self.get_string(), sep, maxsplit));
}

Value str_replace(Interpreter& interp, const Value& self, const CallArgs& args) {
  const auto a = bind_args(args, {required("old"), required("new"), {"count", Value::integer(-1)}}, what(self, "replace"));
  const std::string& s = self.get_string();
  const std::string& from = str_arg(a[0], "replace");
  const std::string& to = str_arg(a[1], "replace");
  int64_t count = int_arg(a[2], "replace");
  interp.charge(static_cast<int64_t>(s.size() / 64));
  std::string out;
  if (from.empty()) {
    // Python inserts `to` before every character and at the end.
    size_t pos = 0;
    while (pos < s.size()) {
      if (count-- != 0) out += to;
      const size_t start = pos;
      next_codepoint(s, pos);
      out.append(s, start, pos - start);
      interp.check_size(out.size());
    }
    if (count != 0) out += to;
    return Value::string(std::move(out));
  }
  size_t start = 0;
  for (size_t hit = s.find(from); hit != std::string::npos && count != 0; hit = s.find(from, start), --count) {
    out.append(s, start, hit - start);
    out += to;
    start = hit + from.size();
    interp.check_size(out.size());
  }
  out.append(s, start, std::string::npos);
  interp.check_size(out.size());
  return Value::string(std::move(out));
}

Value str_join(Interpreter& interp, const Value& self, const CallArgs& args) {
  const auto a = bind_args(args, {required("iterable")}, what(self, "join"));
  const List items = iterate(a[0]);
  interp.charge(static_cast<int64_t>(items.size()));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string()) {
      fault(ErrorCode::kInvalidArgument, "sequence item {}: expected str instance, {} found", i, type_name(items[i]));
    }
    if (i) out += self.get_string();
    out += items[i].get_string();
    interp.check_size(out.size());
  }
  return Value::string(std::move(out));
}

Value str_justify(Interpreter& interp, const Value& self, const CallArgs& args, std::string_view name, char align) {
  const auto a = bind_args(args, {required("width"), {"fillchar", Value::string(" ")}}, what(self, name));
  const int64_t width = int_arg(a[0], name);
  const std::string& fill = str_arg(a[1], name);
  if (codepoint_count(fill) != 1) fault(ErrorCode::kInvalidArgument, "The fill character must be exactly one character long");
  const std::string& s = self.get_string();
  const int64_t len = static_cast<int64_t>(codepoint_count(s));
  if (width <= len) return self;
  interp.check_size(static_cast<size_t>(width) * fill.size());
  const int64_t missing = width - len;
  // CPython's center(): the odd character goes left when the width is odd.
  const int64_t left = align == '>' ? missing : align == '^' ? missing / 2 + (missing & width & 1) : 0;
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = left; i < missing; ++i) out += fill;
  return Value::string(std::move(out));
}

Value str_partition(const Value& self, const CallArgs& args, std::string_view name, bool reverse) {
  const auto a = bind_args(args, {required("sep")}, what(self, name));
  const std::string& sep = str_arg(a[0], name);
  if (sep.empty()) fault(ErrorCode::kInvalidArgument, "empty separator");
  const std::string& s = self.get_string();
  const size_t hit = reverse ? s.rfind(sep) : s.find(sep);
  List parts;
  if (hit == std::string::npos) {
    parts = reverse ? List{Value::string(""), Value::string(""), self} : List{self, Value::string(""), Value::string("")};
  } else {
    parts = {Value::string(s.substr(0, hit)), a[0], Value::string(s.substr(hit + sep.size()))};
  }
  return Value::list(std::move(parts), ListKind::kTuple);
}

template <class Pred>
bool all_codepoints(const std::string& s, Pred pred) {
  if (s.empty()) return false;
  for (size_t pos = 0; pos < s.size();) {
    if (!pred(next_codepoint(s, pos))) return false;
  }
  return true;
}

Value str_case_check(const Value& self, bool upper) { return Value::boolean(py_str_is_case(self.get_string(), upper)); }

Value no_args(const Value& self, const CallArgs& args, std::string_view name) {
  bind_args(args, {}, what(self, name));
  return self;
}

const std::unordered_map<std::string_view, MethodFn>& str_methods() {
  static const std::unordered_map<std::string_view, MethodFn> methods = {
      {"upper", [](Interpreter&, const Value& s, const CallArgs& a) { return Value::string(py_upper(no_args(s, a, "upper").get_string())); }},
      {"lower", [](Interpreter&, const Value& s, const CallArgs& a) { return Value::string(py_lower(no_args(s, a, "lower").get_string())); }},
      {"title", [](Interpreter&, const Value& s, const CallArgs& a) { return Value::string(py_title(no_args(s, a, "title").get_string())); }},
      {"capitalize", [](Interpreter&, const Value& s, const CallArgs& a) { return Value::string(py_capitalize(no_args(s, a, "capitalize").get_string())); }},
      {"swapcase", [](Interpreter&, const Value& s, const CallArgs& a) { return Value::string(py_swapcase(no_args(s, a, "swapcase").get_string())); }},
      {"strip", [](Interpreter&, const Value& s, const CallArgs& a) { return str_strip_impl(s, a, "strip", true, true); }},
      {"lstrip", [](Interpreter&, const Value& s, const CallArgs& a) { return str_strip_impl(s, a, "lstrip", true, false); }},
      {"rstrip", [](Interpreter&, const Value& s, const CallArgs& a) { return str_strip_impl(s, a, "rstrip", false, true); }},
      {"split", [](Interpreter& i, const Value& s, const CallArgs& a) { return str_split_impl(i, s, a, "split", false); }},
      {"rsplit", [](Interpreter& i, const Value& s, const CallArgs& a) { return str_split_impl(i, s, a, "rsplit", true); }},
      {"splitlines", [](Interpreter&, const Value& s, const CallArgs& args) {
         const auto a = bind_args(args, {{"keepends", Value::boolean(false)}}, what(s, "splitlines"));
         return string_list(py_splitlines(s.get_string(), truthy(a[0])));
       }},
      {"startswith", [](Interpreter&, const Value& s, const CallArgs& a) { return str_affix(s, a, "startswith", true); }},
      {"endswith", [](Interpreter&, const Value& s, const CallArgs& a) { return str_affix(s, a, "endswith", false); }},
      {"find", [](Interpreter&, const Value& s, const CallArgs& a) { return str_find(s, a, "find", false, false); }},
      {"rfind", [](Interpreter&, const Value& s, const CallArgs& a) { return str_find(s, a, "rfind", true, false); }},
      {"index", [](Interpreter&, const Value& s, const CallArgs& a) { return str_find(s, a, "index", false, true); }},
      {"rindex", [](Interpreter&, const Value& s, const CallArgs& a) { return str_find(s, a, "rindex", true, true); }},
      {"count", str_count},
      {"replace", str_replace},
      {"join", str_join},
      {"format", [](Interpreter& i, const Value& s, const CallArgs& a) {
         std::string out = str_format(s.get_string(), a);
         i.check_size(out.size());
         return Value::string(std::move(out));
       }},
      {"center", [](Interpreter& i, const Value& s, const CallArgs& a) { return str_justify(i, s, a, "center", '^'); }},
      {"ljust", [](Interpreter& i, const Value& s, const CallArgs& a) { return str_justify(i, s, a, "ljust", '<'); }},
      {"rjust", [](Interpreter& i, const Value& s, const CallArgs& a) { return str_justify(i, s, a, "rjust", '>'); }},
      {"zfill", [](Interpreter& interp, const Value& s, const CallArgs& args) {
         const auto a = bind_args(args, {required("width")}, what(s, "zfill"));
         const std::string& text = s.get_string();
         const int64_t width = int_arg(a[0], "zfill");
         const int64_t len = static_cast<int64_t>(codepoint_count(text));
         if (width <= len) return s;
         interp.check_size(static_cast<size_t>(width));
         const size_t sign = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
         return Value::string(text.substr(0, sign) + std::string(static_cast<size_t>(width - len), '0') + text.substr(sign));
       }},
      {"partition", [](Interpreter&, const Value& s, const CallArgs& a) { return str_partition(s, a, "partition", false); }},
      {"rpartition", [](Interpreter&, const Value& s, const CallArgs& a) { return str_partition(s, a, "rpartition", true); }},
      {"removeprefix", [](Interpreter&, const Value& s, const CallArgs& args) {
         const auto a = bind_args(args, {required("prefix")}, what(s, "removeprefix"));
         const std::string& p = str_arg(a[0], "removeprefix");
         const std::string& text = s.get_string();
         return text.compare(0, p.size(), p) == 0 ? Value::string(text.substr(p.size())) : s;
       }},
      {"removesuffix", [](Interpreter&, const Value& s, const CallArgs& args) {
         const auto a = bind_args(args, {required("suffix")}, what(s, "removesuffix"));
         const std::string& p = str_arg(a[0], "removesuffix");
         const std::string& text = s.get_string();
         const bool ends = !p.empty() && text.size() >= p.size() && text.compare(text.size() - p.size(), p.size(), p) == 0;
         return ends ? Value::string(text.substr(0, text.size() - p.size())) : s;
       }},
      {"isalnum", [](Interpreter&, const Value& s, const CallArgs& a) { return Value::boolean(all_codepoints(no_args(s, a, "isalnum").get_string(), py_is_alnum)); }},
      {"isalpha", [](Interpreter&, const Value& s, const CallArgs& a) {
         return Value::boolean(all_codepoints(no_args(s, a, "isalpha").get_string(), py_is_alpha));
       }},
      {"isdigit", [](Interpreter&, const Value& s, const CallArgs& a) { return Value::boolean(all_codepoints(no_args(s, a, "isdigit").get_string(), py_is_digit)); }},
      {"isdecimal", [](Interpreter&, const Value& s, const CallArgs& a) { return Value::boolean(all_codepoints(no_args(s, a, "isdecimal").get_string(), py_is_decimal)); }},
      {"isnumeric", [](Interpreter&, const Value& s, const CallArgs& a) { return Value::boolean(all_codepoints(no_args(s, a, "isnumeric").get_string(), py_is_numeric)); }},
      {"isprintable", [](Interpreter&, const Value& s, const CallArgs& a) {
         const std::string& text = no_args(s, a, "isprintable").get_string();
         return Value::boolean(text.empty() || all_codepoints(text, py_is_printable));
       }},
      {"isspace", [](Interpreter&, const Value& s, const CallArgs& a) { return Value::boolean(all_codepoints(no_args(s, a, "isspace").get_string(), py_isspace)); }},
      {"isascii", [](Interpreter&, const Value& s, const CallArgs& a) { return Value::boolean(is_ascii(no_args(s, a, "isascii").get_string())); }},
      {"istitle", [](Interpreter&, const Value& s, const CallArgs& a) {
         // Upper/title case only after uncased characters, lower case only after cased ones.
         const std::string& text = no_args(s, a, "istitle").get_string();
         bool cased = false, previous_cased = false;
         for (size_t pos = 0; pos < text.size();) {
           const uint32_t cp = next_codepoint(text, pos);
           if (py_is_upper(cp) || py_is_titlecase(cp)) {
             if (previous_cased) return Value::boolean(false);
             previous_cased = cased = true;
           } else if (py_is_lower(cp)) {
             if (!previous_cased) return Value::boolean(false);
             previous_cased = cased = true;
           } else {
             previous_cased = false;
           }
         }
         return Value::boolean(cased);
       }},
      {"islower", [](Interpreter&, const Value& s, const CallArgs& a) { return str_case_check(no_args(s, a, "islower"), false); }},
      {"isupper", [](Interpreter&, const Value& s, const CallArgs& a) { return str_case_check(no_args(s, a, "isupper"), true); }},
      {"casefold", [](Interpreter&, const Value& s, const CallArgs& a) { return Value::string(py_casefold(no_args(s, a, "casefold").get_string())); }},
      // Python str methods left out; calling one raises UNSUPPORTED.
      {"encode", nullptr}, {"expandtabs", nullptr}, {"format_map", nullptr},
      {"isidentifier", nullptr}, {"maketrans", nullptr}, {"translate", nullptr},
  };
  return methods;
}

Value dict_view(const Value& self, const CallArgs& args, std::string_view name, ListKind kind) {
  bind_args(args, {}, what(self, name));
  List items;
  items.reserve(self.get_dict().size());
  for (const auto& [key, value] : self.get_dict().entries()) {
    if (kind == ListKind::kDictKeys) {
      items.push_back(key);
    } else if (kind == ListKind::kDictValues) {
      items.push_back(value);
    } else {
      items.push_back(Value::list({key, value}, ListKind::kTuple));
    }
  }
  return Value::list(std::move(items), kind);
}

const std::unordered_map<std::string_view, MethodFn>& dict_methods() {
  static const std::unordered_map<std::string_view, MethodFn> methods = {
      {"items", [](Interpreter&, const Value& s, const CallArgs& a) { return dict_view(s, a, "items", ListKind::kDictItems); }},
      {"keys", [](Interpreter&, const Value& s, const CallArgs& a) { return dict_view(s, a, "keys", ListKind::kDictKeys); }},
      {"values", [](Interpreter&, const Value& s, const CallArgs& a) { return dict_view(s, a, "values", ListKind::kDictValues); }},
      {"get", [](Interpreter&, const Value& s, const CallArgs& args) {
         const auto a = bind_args(args, {required("key"), {"default"}}, what(s, "get"));
         const Value* v = s.get_dict().find(a[0]);
         return v ? *v : a[1];
       }},
      {"copy", [](Interpreter&, const Value& s, const CallArgs& a) { return no_args(s, a, "copy"); }},
      {"fromkeys", nullptr},
  };
  return methods;
}

const std::unordered_map<std::string_view, MethodFn>& list_methods() {
  static const std::unordered_map<std::string_view, MethodFn> methods = {
      {"count", [](Interpreter& interp, const Value& s, const CallArgs& args) {
         const auto a = bind_args(args, {required("value")}, what(s, "count"));
         interp.charge(static_cast<int64_t>(s.get_list().size()));
         int64_t n = 0;
         for (const Value& v : s.get_list()) n += equals(v, a[0]);
         return Value::integer(n);
       }},
      {"index", [](Interpreter& interp, const Value& s, const CallArgs& args) {
         const auto a = bind_args(args, {required("value")}, what(s, "index"));
         interp.charge(static_cast<int64_t>(s.get_list().size()));
         const List& items = s.get_list();
         for (size_t i = 0; i < items.size(); ++i) {
           if (equals(items[i], a[0])) return Value::integer(static_cast<int64_t>(i));
         }
         fault(ErrorCode::kInvalidArgument, "{} is not in {}", repr(a[0]), type_name(s));
       }},
      {"copy", [](Interpreter&, const Value& s, const CallArgs& a) { return no_args(s, a, "copy"); }},
  };
  return methods;
}

constexpr std::string_view kMutatingListMethods[] = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"};
constexpr std::string_view kMutatingDictMethods[] = {"clear", "pop", "popitem", "setdefault", "update"};

Value unsafe(const Value& obj, std::string_view name) {
  return Value::undefined(fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, type_name(obj)));
}

}  // namespace

std::optional<Value> find_method(const Value& obj, std::string_view name) {
  const std::unordered_map<std::string_view, MethodFn>* table = nullptr;
  if (obj.is_string()) {
    table = &str_methods();
  } else if (obj.is_dict()) {
    if (std::find(std::begin(kMutatingDictMethods), std::end(kMutatingDictMethods), name) != std::end(kMutatingDictMethods)) {
      return unsafe(obj, name);
    }
    table = &dict_methods();
  } else if (obj.is_list() && (obj.list_kind() == ListKind::kList || obj.list_kind() == ListKind::kTuple ||
                                obj.list_kind() == ListKind::kRange)) {
    const bool is_list = obj.list_kind() == ListKind::kList;
    if (is_list && std::find(std::begin(kMutatingListMethods), std::end(kMutatingListMethods), name) !=
                       std::end(kMutatingListMethods)) {
      return unsafe(obj, name);
    }
    if (!is_list && name == "copy") return std::nullopt;
    table = &list_methods();
  }
  if (!table) return std::nullopt;
  const auto it = table->find(name);
  if (it == table->end()) return std::nullopt;
  return Value::object(std::make_shared<BoundMethod>(obj, it->first, it->second));
}

}  // namespace llmrt::genai::jinja
