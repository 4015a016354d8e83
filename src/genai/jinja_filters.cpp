// jinja2's built-in filters, with transformers' tojson in place of jinja2's own.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "genai/jinja_builtins.h"
#include "genai/jinja_eval.h"
#include "genai/jinja_format.h"
#include "genai/jinja_json.h"
#include "genai/jinja_ops.h"
#include "genai/jinja_text.h"

namespace llmrt::genai::jinja {

namespace {

std::string filter_name(std::string_view name) { return fmt::format("filter '{}'", name); }

// jinja2's soft_str: str(), keeping markup.
Value soft_str(const Value& v) { return v.is_string() ? v : Value::string(to_str(v)); }

// make_attrgetter: "a.b.0" looks up a, then b, then item 0, each with jinja2's getitem.
Value lookup_path(const Value& item, const Value& attribute, const Value& default_value = Value()) {
  Value v = item;
  if (attribute.is_integral()) {
    v = get_item(v, attribute);
  } else if (attribute.is_string()) {
    const std::string& path = attribute.get_string();
    size_t start = 0;
    while (true) {
      const size_t dot = path.find('.', start);
      const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      const bool numeric = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
      v = get_item(v, numeric ? Value::integer(std::stoll(part)) : Value::string(part));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  } else if (!attribute.is_none()) {
    fault(ErrorCode::kInvalidArgument, "attribute must be a string or an integer, not {}", type_name(attribute));
  }
  if (v.is_undefined() && !default_value.is_undefined()) return default_value;
  return v;
}

Value ignore_case(const Value& v, bool case_sensitive) {
  return !case_sensitive && v.is_string() ? Value::string(py_lower(v.get_string())) : v;
}

// ---- Python number parsing for |int and |float ----

std::optional<double> parse_py_float(const std::string& text) {
  std::string s(py_strip(text, nullptr, true, true));
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
        return std::nullopt;
      }
      continue;
    }
    clean += s[i];
  }
  std::string lower = py_lower(clean);
  const bool negative = !lower.empty() && lower[0] == '-';
  const std::string body = !lower.empty() && (lower[0] == '-' || lower[0] == '+') ? lower.substr(1) : lower;
  if (body == "inf" || body == "infinity") return negative ? -INFINITY : INFINITY;
  if (body == "nan") return NAN;
  if (body.empty() || body.find_first_not_of("0123456789.e+-") != std::string::npos) return std::nullopt;
  double value = 0;
  const char* begin = clean.data() + (clean[0] == '+' ? 1 : 0);
  const auto res = std::from_chars(begin, clean.data() + clean.size(), value);
  if (res.ec != std::errc() || res.ptr != clean.data() + clean.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> parse_py_int(const std::string& text, int64_t base) {
  std::string s(py_strip(text, nullptr, true, true));
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.erase(0, 1);
  }
  if (s.size() > 2 && s[0] == '0') {
    const char p = static_cast<char>(s[1] | 0x20);
    const int64_t prefixed = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
    if (prefixed && (base == prefixed || base == 0)) {
      base = prefixed;
      s.erase(0, 2);
      if (!s.empty() && s[0] == '_') s.erase(0, 1);
    }
  }
  if (base == 0) base = 10;
  if (base < 2 || base > 36 || s.empty() || s.front() == '_' || s.back() == '_') return std::nullopt;
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (s[i + 1] == '_') return std::nullopt;
      continue;
    }
    digits += s[i];
  }
  int64_t value = 0;
  const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), value, static_cast<int>(base));
  if (res.ec != std::errc() || res.ptr != digits.data() + digits.size()) return std::nullopt;
  return negative ? -value : value;
}

// ---- filters ----

Value f_abs(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("abs"));
  if (v.is_integral()) return v.get_int() < 0 ? negate(v) : Value::integer(v.get_int());
  if (v.is_float()) return Value::floating(std::fabs(v.get_float()));
  if (v.is_undefined()) raise_undefined(v);
  fault(ErrorCode::kInvalidArgument, "bad operand type for abs(): '{}'", type_name(v));
}

Value f_attr(Interpreter&, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {required("name")}, filter_name("attr"));
  if (!a[0].is_string()) return Value::undefined("attribute name must be a string");
  return get_attribute(v, a[0].get_string());
}

Value f_batch(Interpreter& interp, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {required("linecount"), {"fill_with"}}, filter_name("batch"));
  if (!a[0].is_integral() || a[0].get_int() <= 0) fault(ErrorCode::kInvalidArgument, "batch size must be a positive integer");
  const size_t n = static_cast<size_t>(a[0].get_int());
  const List items = iterate(v);
  interp.charge(static_cast<int64_t>(items.size()));
  List batches, current;
  for (const Value& item : items) {
    current.push_back(item);
    if (current.size() == n) {
      batches.push_back(Value::list(std::move(current)));
      current.clear();
    }
  }
  if (!current.empty()) {
    if (!a[1].is_none()) {
      while (current.size() < n) current.push_back(a[1]);
    }
    batches.push_back(Value::list(std::move(current)));
  }
  return make_generator(std::move(batches));
}

Value f_capitalize(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("capitalize"));
  return Value::string(py_capitalize(to_str(v)));
}

Value f_center(Interpreter& interp, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"width", Value::integer(80)}}, filter_name("center"));
  CallArgs method_args;
  method_args.positional.push_back(a[0]);
  return interp.call(get_attribute(soft_str(v), "center"), method_args);
}

Value f_default(Interpreter&, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"default_value", Value::string("")}, {"boolean", Value::boolean(false)}},
                           filter_name("default"));
  if (v.is_undefined() || (truthy(a[1]) && !truthy(v))) return a[0];
  return v;
}

Value f_dictsort(Interpreter& interp, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"case_sensitive", Value::boolean(false)}, {"by", Value::string("key")},
                                  {"reverse", Value::boolean(false)}},
                           filter_name("dictsort"));
  if (!v.is_dict()) fault(ErrorCode::kInvalidArgument, "dictsort needs a dict, got {}", type_name(v));
  const std::string by = to_str(a[1]);
  if (by != "key" && by != "value") fault(ErrorCode::kInvalidArgument, "You can only sort by either \"key\" or \"value\"");
  const size_t pos = by == "key" ? 0 : 1;
  List items;
  for (const auto& [key, value] : v.get_dict().entries()) items.push_back(Value::list({key, value}, ListKind::kTuple));
  interp.charge(static_cast<int64_t>(items.size()) * 8);
  const bool cs = truthy(a[0]);
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return compare(ignore_case(x.get_list()[pos], cs), ignore_case(y.get_list()[pos], cs), "<") < 0;
  });
  if (truthy(a[2])) std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value f_escape(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("escape"));
  if (v.markup()) return v;
  return Value::string(html_escape(to_str(v)), true);
}

Value f_forceescape(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("forceescape"));
  return Value::string(html_escape(to_str(v)), true);
}

Value f_first(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("first"));
  if (is_generator(v)) {
    auto* gen = static_cast<Generator*>(&v.get_object());
    if (std::optional<Value> item = gen->take_one()) return *item;
  } else {
    const List items = iterate(v);
    if (!items.empty()) return items.front();
  }
  return Value::undefined("No first item, sequence was empty.");
}

Value f_last(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("last"));
  if (is_generator(v)) fault(ErrorCode::kInvalidArgument, "'generator' object is not reversible");
  const List items = iterate(v);
  if (!items.empty()) return items.back();
  return Value::undefined("No last item, sequence was empty.");
}

Value f_float(Interpreter&, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"default", Value::floating(0.0)}}, filter_name("float"));
  if (v.is_number()) return Value::floating(v.get_float());
  if (v.is_string()) {
    if (std::optional<double> f = parse_py_float(v.get_string())) return Value::floating(*f);
    return a[0];
  }
  if (v.is_undefined()) raise_undefined(v);
  return a[0];
}

Value f_format(Interpreter& interp, const Value& v, const CallArgs& args) {
  if (!args.keyword.empty() && !args.positional.empty()) {
    fault(ErrorCode::kInvalidArgument, "can't handle positional and keyword arguments at the same time");
  }
  Value format_args;
  if (!args.keyword.empty()) {
    Dict d;
    for (const auto& [k, val] : args.keyword) d.set(Value::string(k), val);
    format_args = Value::dict(std::move(d));
  } else {
    format_args = Value::list(args.positional, ListKind::kTuple);
  }
  std::string out = percent_format(to_str(v), format_args);
  interp.check_size(out.size());
  return Value::string(std::move(out));
}

Value f_indent(Interpreter& interp, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"width", Value::integer(4)}, {"first", Value::boolean(false)},
                                  {"blank", Value::boolean(false)}},
                           filter_name("indent"));
  std::string indention;
  if (a[0].is_string()) {
    indention = a[0].get_string();
  } else if (a[0].is_integral()) {
    interp.check_size(static_cast<size_t>(std::max<int64_t>(0, a[0].get_int())));
    indention = std::string(static_cast<size_t>(std::max<int64_t>(0, a[0].get_int())), ' ');
  } else {
    fault(ErrorCode::kInvalidArgument, "indent width must be a string or an integer");
  }
  // jinja2 appends "\n" with +=, which only a string survives.
  if (v.is_undefined()) raise_undefined(v);
  if (!v.is_string()) fault(ErrorCode::kInvalidArgument, "unsupported operand type(s) for +=: '{}' and 'str'", type_name(v));
  const std::string s = v.get_string() + "\n";  // jinja2's quirk for splitlines
  const std::vector<std::string> lines = py_splitlines(s, false);
  interp.charge(static_cast<int64_t>(lines.size()));
  std::string out;
  if (truthy(a[2])) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) out += "\n" + indention;
      out += lines[i];
    }
  } else {
    out = lines.empty() ? std::string() : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      out += "\n";
      if (!lines[i].empty()) out += indention;
      out += lines[i];
      interp.check_size(out.size());
    }
  }
  if (truthy(a[1])) out = indention + out;
  interp.check_size(out.size());
  return Value::string(std::move(out));
}

Value f_int(Interpreter&, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"default", Value::integer(0)}, {"base", Value::integer(10)}}, filter_name("int"));
  if (v.is_integral()) return Value::integer(v.get_int());
  if (v.is_float()) {
    const double f = v.get_float();
    if (std::isnan(f)) return a[0];
    if (std::isinf(f)) fault(ErrorCode::kInvalidArgument, "cannot convert float infinity to integer");
    if (std::fabs(f) >= 9.2e18) fault(ErrorCode::kOutOfRange, "integer overflow (this interpreter's integers are 64-bit)");
    return Value::integer(static_cast<int64_t>(std::trunc(f)));
  }
  if (v.is_string()) {
    if (!a[1].is_integral()) fault(ErrorCode::kInvalidArgument, "int() base must be an integer");
    if (std::optional<int64_t> i = parse_py_int(v.get_string(), a[1].get_int())) return Value::integer(*i);
    if (std::optional<double> f = parse_py_float(v.get_string())) {
      if (std::isfinite(*f) && std::fabs(*f) < 9.2e18) return Value::integer(static_cast<int64_t>(std::trunc(*f)));
      if (std::isinf(*f)) fault(ErrorCode::kInvalidArgument, "cannot convert float infinity to integer");
    }
    return a[0];
  }
  if (v.is_undefined()) raise_undefined(v);
  return a[0];
}

Value f_items(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("items"));
  if (v.is_undefined()) return make_generator({});
  if (!v.is_dict()) fault(ErrorCode::kInvalidArgument, "Can only get item pairs from a mapping.");
  List items;
  for (const auto& [key, value] : v.get_dict().entries()) items.push_back(Value::list({key, value}, ListKind::kTuple));
  return make_generator(std::move(items));
}

Value f_join(Interpreter& interp, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"d", Value::string("")}, {"attribute"}}, filter_name("join"));
  const List items = iterate(v);
  interp.charge(static_cast<int64_t>(items.size()));
  const std::string sep = to_str(a[0]);
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += to_str(a[1].is_none() ? items[i] : lookup_path(items[i], a[1]));
    interp.check_size(out.size());
  }
  return Value::string(std::move(out));
}

Value f_length(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("length"));
  return Value::integer(length(v));
}

Value f_list(Interpreter& interp, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("list"));
  List items = iterate(v);
  interp.charge(static_cast<int64_t>(items.size()));
  return Value::list(std::move(items));
}

Value f_lower(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("lower"));
  return Value::string(py_lower(to_str(v)));
}

Value f_upper(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("upper"));
  return Value::string(py_upper(to_str(v)));
}

Value f_map(Interpreter& interp, const Value& v, const CallArgs& args) {
  if (!truthy(v)) return make_generator({});  // jinja2: `if value:` before anything else
  const List items = iterate(v);
  interp.charge(static_cast<int64_t>(items.size()));
  List out;
  out.reserve(items.size());
  if (args.positional.empty()) {
    Value attribute, default_value;
    bool has_attribute = false;
    for (const auto& [k, val] : args.keyword) {
      if (k == "attribute") {
        attribute = val;
        has_attribute = true;
      } else if (k == "default") {
        default_value = val;
      } else {
        fault(ErrorCode::kInvalidArgument, "Unexpected keyword argument '{}'", k);
      }
    }
    if (!has_attribute) fault(ErrorCode::kInvalidArgument, "map requires a filter argument");
    for (const Value& item : items) out.push_back(lookup_path(item, attribute, default_value));
  } else {
    const std::string name = to_str(args.positional[0]);
    CallArgs rest;
    rest.positional.assign(args.positional.begin() + 1, args.positional.end());
    rest.keyword = args.keyword;
    for (const Value& item : items) out.push_back(apply_filter(interp, name, item, rest));
  }
  return make_generator(std::move(out));
}

Value min_max(Interpreter& interp, const Value& v, const CallArgs& args, bool want_max) {
  const auto a = bind_args(args, {{"case_sensitive", Value::boolean(false)}, {"attribute"}},
                           filter_name(want_max ? "max" : "min"));
  const List items = iterate(v);
  interp.charge(static_cast<int64_t>(items.size()));
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  const bool cs = truthy(a[0]);
  const auto key = [&](const Value& item) { return ignore_case(a[1].is_none() ? item : lookup_path(item, a[1]), cs); };
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    const int c = compare(key(items[i]), key(items[best]), want_max ? ">" : "<");
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return items[best];
}

Value f_max(Interpreter& interp, const Value& v, const CallArgs& args) { return min_max(interp, v, args, true); }
Value f_min(Interpreter& interp, const Value& v, const CallArgs& args) { return min_max(interp, v, args, false); }

// select/reject/selectattr/rejectattr.
Value select_impl(Interpreter& interp, const Value& v, const CallArgs& args, bool by_attribute, bool keep) {
  if (!truthy(v)) return make_generator({});  // jinja2: `if value:` before anything else
  const List items = iterate(v);
  interp.charge(static_cast<int64_t>(items.size()));
  size_t next = 0;
  Value attribute;
  if (by_attribute) {
    if (args.positional.empty()) fault(ErrorCode::kInvalidArgument, "Missing parameter for attribute name");
    attribute = args.positional[next++];
  }
  std::string test;
  CallArgs test_args;
  const bool has_test = next < args.positional.size();
  if (has_test) {
    test = to_str(args.positional[next++]);
    test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next), args.positional.end());
    test_args.keyword = args.keyword;
  }
  List out;
  for (const Value& item : items) {
    const Value subject = by_attribute ? lookup_path(item, attribute) : item;
    const bool passed = has_test ? apply_test(interp, test, subject, test_args) : truthy(subject);
    if (passed == keep) out.push_back(item);
  }
  return make_generator(std::move(out));
}

Value f_select(Interpreter& i, const Value& v, const CallArgs& a) { return select_impl(i, v, a, false, true); }
Value f_reject(Interpreter& i, const Value& v, const CallArgs& a) { return select_impl(i, v, a, false, false); }
Value f_selectattr(Interpreter& i, const Value& v, const CallArgs& a) { return select_impl(i, v, a, true, true); }
Value f_rejectattr(Interpreter& i, const Value& v, const CallArgs& a) { return select_impl(i, v, a, true, false); }

Value f_replace(Interpreter& interp, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {required("old"), required("new"), {"count"}}, filter_name("replace"));
  CallArgs method_args;
  method_args.positional = {soft_str(a[0]), soft_str(a[1])};
  if (!a[2].is_none()) method_args.positional.push_back(a[2]);
  return interp.call(get_attribute(soft_str(v), "replace"), method_args);
}

Value f_reverse(Interpreter& interp, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("reverse"));
  if (v.is_string()) {
    const Value r = slice(v, Value::none(), Value::none(), Value::integer(-1));
    return r;
  }
  const bool generator = is_generator(v);
  List items = iterate(v);
  interp.charge(static_cast<int64_t>(items.size()));
  std::reverse(items.begin(), items.end());
  // reversed() of a list is an iterator in Python; a generator input becomes a list.
  return generator ? Value::list(std::move(items)) : make_generator(std::move(items));
}

Value f_round(Interpreter&, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"precision", Value::integer(0)}, {"method", Value::string("common")}},
                           filter_name("round"));
  const std::string method = to_str(a[1]);
  if (method != "common" && method != "ceil" && method != "floor") {
    fault(ErrorCode::kInvalidArgument, "method must be common, ceil or floor");
  }
  if (v.is_undefined()) raise_undefined(v);
  if (!v.is_number()) fault(ErrorCode::kInvalidArgument, "type {} doesn't define __round__ method", type_name(v));
  if (!a[0].is_integral()) fault(ErrorCode::kInvalidArgument, "precision must be an integer");
  const int64_t precision = a[0].get_int();
  if (method == "common") {
    if (v.is_integral() && precision >= 0) return Value::integer(v.get_int());
    const double x = v.get_float();
    if (!std::isfinite(x)) return Value::floating(x);
    if (precision >= 0 && precision < 300) {
      // Correctly rounded decimal (half to even on the exact binary value), as Python's round.
      const std::string text = fmt::format("{:.{}f}", x, precision);
      double r = 0;
      std::from_chars(text.data(), text.data() + text.size(), r);
      return v.is_integral() ? Value::integer(static_cast<int64_t>(r)) : Value::floating(r);
    }
    const double scale = std::pow(10.0, static_cast<double>(-precision));
    return Value::floating(std::nearbyint(x / scale) * scale);
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = v.get_float() * scale;
  return Value::floating((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Value f_safe(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("safe"));
  return Value::string(to_str(v), true);
}

Value f_slice(Interpreter& interp, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {required("slices"), {"fill_with"}}, filter_name("slice"));
  if (!a[0].is_integral() || a[0].get_int() <= 0) fault(ErrorCode::kInvalidArgument, "slices must be a positive integer");
  const List items = iterate(v);
  interp.charge(static_cast<int64_t>(items.size()));
  const size_t slices = static_cast<size_t>(a[0].get_int());
  const size_t per = items.size() / slices, extra = items.size() % slices;
  List out;
  size_t offset = 0;
  for (size_t i = 0; i < slices; ++i) {
    const size_t start = offset + i * per;
    if (i < extra) ++offset;
    const size_t end = offset + (i + 1) * per;
    List part(items.begin() + static_cast<std::ptrdiff_t>(start), items.begin() + static_cast<std::ptrdiff_t>(end));
    if (!a[1].is_none() && i >= extra) part.push_back(a[1]);
    out.push_back(Value::list(std::move(part)));
  }
  return make_generator(std::move(out));
}

Value f_sort(Interpreter& interp, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"reverse", Value::boolean(false)}, {"case_sensitive", Value::boolean(false)},
                                  {"attribute"}},
                           filter_name("sort"));
  List items = iterate(v);
  interp.charge(static_cast<int64_t>(items.size()) * 8);
  const bool cs = truthy(a[1]);
  std::vector<Value> attributes;  // "a,b" sorts by a, then b
  if (a[2].is_string()) {
    const std::string sep = ",";
    for (std::string& part : py_split(a[2].get_string(), &sep, -1)) attributes.push_back(Value::string(std::move(part)));
  } else if (!a[2].is_none()) {
    attributes.push_back(a[2]);
  }
  const auto key = [&](const Value& item) {
    if (attributes.empty()) return ignore_case(item, cs);
    if (attributes.size() == 1) return ignore_case(lookup_path(item, attributes[0]), cs);
    List parts;
    for (const Value& attr : attributes) parts.push_back(ignore_case(lookup_path(item, attr), cs));
    return Value::list(std::move(parts), ListKind::kTuple);
  };
  std::vector<std::pair<Value, Value>> keyed;
  keyed.reserve(items.size());
  for (Value& item : items) keyed.emplace_back(key(item), std::move(item));
  const bool reverse = truthy(a[0]);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? compare(y.first, x.first, "<") < 0 : compare(x.first, y.first, "<") < 0;
  });
  List out;
  out.reserve(keyed.size());
  for (auto& [k, item] : keyed) out.push_back(std::move(item));
  return Value::list(std::move(out));
}

Value f_string(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("string"));
  return soft_str(v);
}

Value f_sum(Interpreter& interp, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"attribute"}, {"start", Value::integer(0)}}, filter_name("sum"));
  const List items = iterate(v);
  interp.charge(static_cast<int64_t>(items.size()));
  Value total = a[1];
  for (const Value& item : items) {
    const Value x = a[0].is_none() ? item : lookup_path(item, a[0]);
    if (total.is_string() || x.is_string()) fault(ErrorCode::kInvalidArgument, "sum() can't sum strings");
    total = binary_op(BinaryOp::kAdd, total, x);
  }
  return total;
}

// jinja2's do_title (not str.title): splits on runs of whitespace, dashes and opening
// brackets, then upper()s the first character of every piece and lower()s the rest.
Value f_title(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("title"));
  const std::string s = to_str(v);
  std::string out;
  size_t piece = 0;
  bool piece_is_separator = false;
  const auto flush = [&](size_t end) {
    if (end == piece) return;
    size_t first_end = piece;
    next_codepoint(s, first_end);
    out += py_upper(std::string_view(s).substr(piece, first_end - piece));
    out += py_lower(std::string_view(s).substr(first_end, end - first_end));
    piece = end;
  };
  for (size_t pos = 0; pos < s.size();) {
    const size_t here = pos;
    const uint32_t cp = next_codepoint(s, pos);
    const bool separator = py_isspace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    if (here == 0) {
      piece_is_separator = separator;
    } else if (separator != piece_is_separator) {
      flush(here);
      piece_is_separator = separator;
    }
  }
  flush(s.size());
  return Value::string(std::move(out));
}

// transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value f_tojson(Interpreter& interp, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"ensure_ascii", Value::boolean(false)}, {"indent"}, {"separators"},
                                  {"sort_keys", Value::boolean(false)}},
                           filter_name("tojson"));
  JsonOptions options;
  options.ensure_ascii = truthy(a[0]);
  options.sort_keys = truthy(a[3]);
  if (a[1].is_integral()) {
    const int64_t n = std::max<int64_t>(0, a[1].get_int());
    interp.check_size(static_cast<size_t>(n));
    options.indent = std::string(static_cast<size_t>(n), ' ');
  } else if (a[1].is_string()) {
    options.indent = a[1].get_string();
  } else if (!a[1].is_none()) {
    fault(ErrorCode::kInvalidArgument, "tojson indent must be an integer, a string or none");
  }
  if (options.indent) options.item_separator = std::string(1, ',');
  if (!a[2].is_none()) {
    if (!a[2].is_list() || a[2].get_list().size() != 2 || !a[2].get_list()[0].is_string() ||
        !a[2].get_list()[1].is_string()) {
      fault(ErrorCode::kInvalidArgument, "tojson separators must be a pair of strings");
    }
    options.item_separator = a[2].get_list()[0].get_string();
    options.key_separator = a[2].get_list()[1].get_string();
  }
  std::string out = to_json(v, options);
  interp.charge(static_cast<int64_t>(out.size() / 64));
  interp.check_size(out.size());
  return Value::string(std::move(out));
}

Value f_trim(Interpreter&, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"chars"}}, filter_name("trim"));
  const std::string s = to_str(v);
  const std::string chars = a[0].is_none() ? std::string() : to_str(a[0]);
  return Value::string(std::string(py_strip(s, a[0].is_none() ? nullptr : &chars, true, true)));
}

Value f_truncate(Interpreter&, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"length", Value::integer(255)}, {"killwords", Value::boolean(false)},
                                  {"end", Value::string("...")}, {"leeway"}},
                           filter_name("truncate"));
  const Value s = soft_str(v);
  const std::string end = to_str(a[2]);
  const int64_t len = a[0].is_integral() ? a[0].get_int() : 255;
  const int64_t leeway = a[3].is_integral() ? a[3].get_int() : 5;
  const int64_t end_len = static_cast<int64_t>(codepoint_count(end));
  if (len < end_len) fault(ErrorCode::kInvalidArgument, "expected length >= {}, got {}", end_len, len);
  if (leeway < 0) fault(ErrorCode::kInvalidArgument, "expected leeway >= 0, got {}", leeway);
  if (length(s) <= len + leeway) return s;
  const std::string head = slice(s, Value::none(), Value::integer(len - end_len), Value::none()).get_string();
  if (truthy(a[1])) return Value::string(head + end);
  const std::string sep = " ";
  return Value::string(py_rsplit(head, &sep, 1)[0] + end);
}

Value f_unique(Interpreter& interp, const Value& v, const CallArgs& args) {
  const auto a = bind_args(args, {{"case_sensitive", Value::boolean(false)}, {"attribute"}}, filter_name("unique"));
  const List items = iterate(v);
  interp.charge(static_cast<int64_t>(items.size()));
  std::unordered_set<std::string> seen;
  List out;
  for (const Value& item : items) {
    const Value key = ignore_case(a[1].is_none() ? item : lookup_path(item, a[1]), truthy(a[0]));
    if (seen.insert(hash_key(key)).second) out.push_back(item);
  }
  return make_generator(std::move(out));
}

Value f_wordcount(Interpreter&, const Value& v, const CallArgs& args) {
  bind_args(args, {}, filter_name("wordcount"));
  const std::string s = to_str(v);
  int64_t words = 0;
  bool in_word = false;
  for (size_t pos = 0; pos < s.size();) {
    const uint32_t cp = next_codepoint(s, pos);
    const bool word_char = py_is_alnum(cp) || cp == '_';
    if (word_char && !in_word) ++words;
    in_word = word_char;
  }
  return Value::integer(words);
}

const std::unordered_map<std::string_view, FilterFn>& filters() {
  static const std::unordered_map<std::string_view, FilterFn> table = {
      {"abs", f_abs},           {"attr", f_attr},           {"batch", f_batch},
      {"capitalize", f_capitalize}, {"center", f_center},   {"count", f_length},
      {"d", f_default},         {"default", f_default},     {"dictsort", f_dictsort},
      {"e", f_escape},          {"escape", f_escape},       {"first", f_first},
      {"float", f_float},       {"forceescape", f_forceescape}, {"format", f_format},
      {"indent", f_indent},     {"int", f_int},             {"items", f_items},
      {"join", f_join},         {"last", f_last},           {"length", f_length},
      {"list", f_list},         {"lower", f_lower},         {"map", f_map},
      {"max", f_max},           {"min", f_min},             {"reject", f_reject},
      {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse},
      {"round", f_round},       {"safe", f_safe},           {"select", f_select},
      {"selectattr", f_selectattr}, {"slice", f_slice},     {"sort", f_sort},
      {"string", f_string},     {"sum", f_sum},             {"title", f_title},
      {"tojson", f_tojson},     {"trim", f_trim},           {"truncate", f_truncate},
      {"unique", f_unique},     {"upper", f_upper},         {"wordcount", f_wordcount},
  };
  return table;
}

constexpr std::string_view kUnimplementedFilters[] = {
    "filesizeformat", "groupby", "pprint", "random", "striptags", "urlencode", "urlize", "wordwrap", "xmlattr",
};

}  // namespace

FilterFn find_filter(std::string_view name) {
  const auto it = filters().find(name);
  return it == filters().end() ? nullptr : it->second;
}

bool is_unimplemented_filter(std::string_view name) {
  return std::find(std::begin(kUnimplementedFilters), std::end(kUnimplementedFilters), name) !=
         std::end(kUnimplementedFilters);
}

Value apply_filter(Interpreter& interp, std::string_view name, const Value& operand, const CallArgs& args) {
  const FilterFn fn = find_filter(name);
  if (!fn) {
    if (is_unimplemented_filter(name)) fault(ErrorCode::kUnsupported, "unsupported filter '{}'", name);
    fault(ErrorCode::kBadFormat, "no filter named '{}'", name);
  }
  return fn(interp, operand, args);
}

}  // namespace llmrt::genai::jinja
