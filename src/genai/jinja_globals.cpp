// jinja2's tests (x is defined, x is string, ...) and the globals chat templates call:
// range (with the sandbox's 100000 cap), dict, namespace, joiner, cycler, and transformers'
// raise_exception and strftime_now.
#include <algorithm>
#include <array>
#include <unordered_map>

#include "genai/jinja_builtins.h"
#include "genai/jinja_eval.h"
#include "genai/jinja_ops.h"
#include "genai/jinja_text.h"
#include "util/error.h"

namespace llmrt::genai::jinja {

namespace {

// ---- tests ----

const Value& one_arg(const CallArgs& args, std::string_view test) {
  if (args.positional.size() != 1 || !args.keyword.empty()) {
    fault(ErrorCode::kInvalidArgument, "test '{}' takes exactly one argument", test);
  }
  return args.positional[0];
}

void no_arg(const CallArgs& args, std::string_view test) {
  if (!args.positional.empty() || !args.keyword.empty()) {
    fault(ErrorCode::kInvalidArgument, "test '{}' takes no arguments", test);
  }
}

// jinja2's Undefined defines __call__ (to raise), so Python's callable() is true for it.
bool is_callable(const Value& v) { return v.is_undefined() || (v.is_object() && v.get_object().callable()); }

Value modulo(const Value& v, int64_t divisor) {
  return binary_op(BinaryOp::kMod, v, Value::integer(divisor));
}

template <CompareOp op>
bool t_compare(Interpreter&, const Value& v, const CallArgs& args) {
  return compare_op(op, v, one_arg(args, "compare"));
}

const std::unordered_map<std::string_view, TestFn>& tests() {
  static const std::unordered_map<std::string_view, TestFn> table = {
      {"boolean", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "boolean"); return v.is_bool(); }},
      {"callable", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "callable"); return is_callable(v); }},
      {"defined", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "defined"); return !v.is_undefined(); }},
      {"undefined", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "undefined"); return v.is_undefined(); }},
      {"none", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "none"); return v.is_none(); }},
      {"true", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "true"); return v.is_bool() && v.get_bool(); }},
      {"false", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "false"); return v.is_bool() && !v.get_bool(); }},
      {"string", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "string"); return v.is_string(); }},
      {"number", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "number"); return v.is_number(); }},
      {"integer", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "integer"); return v.is_int(); }},
      {"float", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "float"); return v.is_float(); }},
      {"mapping", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "mapping"); return v.is_dict(); }},
      {"iterable", [](Interpreter&, const Value& v, const CallArgs& a) {
         no_arg(a, "iterable");
         return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict() || is_generator(v) ||
                (v.is_object() && v.get_object().type_name() == "LoopContext");
       }},
      {"sequence", [](Interpreter&, const Value& v, const CallArgs& a) {
         no_arg(a, "sequence");
         // len() and __getitem__: str, list, tuple, dict, and jinja2's Undefined.
         return v.is_undefined() || v.is_string() || v.is_dict() ||
                (v.is_list() && (v.list_kind() == ListKind::kList || v.list_kind() == ListKind::kTuple ||
                                 v.list_kind() == ListKind::kRange));
       }},
      {"escaped", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "escaped"); return v.markup(); }},
      {"lower", [](Interpreter&, const Value& v, const CallArgs& a) {
         no_arg(a, "lower");
         return py_str_is_case(to_str(v), false);
       }},
      {"upper", [](Interpreter&, const Value& v, const CallArgs& a) {
         no_arg(a, "upper");
         return py_str_is_case(to_str(v), true);
       }},
      {"odd", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "odd"); return equals(modulo(v, 2), Value::integer(1)); }},
      {"even", [](Interpreter&, const Value& v, const CallArgs& a) { no_arg(a, "even"); return equals(modulo(v, 2), Value::integer(0)); }},
      {"divisibleby", [](Interpreter&, const Value& v, const CallArgs& a) {
         const Value& n = one_arg(a, "divisibleby");
         return equals(binary_op(BinaryOp::kMod, v, n), Value::integer(0));
       }},
      {"sameas", [](Interpreter&, const Value& v, const CallArgs& a) { return v.identical(one_arg(a, "sameas")); }},
      {"in", [](Interpreter&, const Value& v, const CallArgs& a) { return contains(one_arg(a, "in"), v); }},
      {"filter", [](Interpreter&, const Value& v, const CallArgs& a) {
         no_arg(a, "filter");
         return v.is_string() && find_filter(v.get_string()) != nullptr;
       }},
      {"test", [](Interpreter&, const Value& v, const CallArgs& a) {
         no_arg(a, "test");
         return v.is_string() && find_test(v.get_string()) != nullptr;
       }},
      {"eq", t_compare<CompareOp::kEq>},          {"equalto", t_compare<CompareOp::kEq>},
      {"==", t_compare<CompareOp::kEq>},          {"ne", t_compare<CompareOp::kNe>},
      {"!=", t_compare<CompareOp::kNe>},          {"lt", t_compare<CompareOp::kLt>},
      {"lessthan", t_compare<CompareOp::kLt>},    {"<", t_compare<CompareOp::kLt>},
      {"le", t_compare<CompareOp::kLe>},          {"<=", t_compare<CompareOp::kLe>},
      {"gt", t_compare<CompareOp::kGt>},          {"greaterthan", t_compare<CompareOp::kGt>},
      {">", t_compare<CompareOp::kGt>},           {"ge", t_compare<CompareOp::kGe>},
      {">=", t_compare<CompareOp::kGe>},
  };
  return table;
}

// ---- globals ----

using GlobalFn = Value (*)(Interpreter& interp, const CallArgs& args);

class BuiltinFunction : public Object {
 public:
  explicit BuiltinFunction(GlobalFn fn) : fn_(fn) {}
  std::string type_name() const override { return "function"; }
  bool callable() const override { return true; }
  Value call(Interpreter& interp, const CallArgs& args) override { return fn_(interp, args); }

 private:
  GlobalFn fn_;
};

// The sandbox's safe_range: at most 100000 items.
constexpr int64_t kMaxRange = 100'000;

Value g_range(Interpreter& interp, const CallArgs& args) {
  if (!args.keyword.empty()) fault(ErrorCode::kInvalidArgument, "range() takes no keyword arguments");
  const size_t n = args.positional.size();
  if (n < 1 || n > 3) fault(ErrorCode::kInvalidArgument, "range expected 1 to 3 arguments, got {}", n);
  for (const Value& a : args.positional) {
    if (a.is_undefined()) raise_undefined(a);
    if (!a.is_integral()) fault(ErrorCode::kInvalidArgument, "'{}' object cannot be interpreted as an integer", type_name(a));
  }
  const int64_t start = n == 1 ? 0 : args.positional[0].get_int();
  const int64_t stop = n == 1 ? args.positional[0].get_int() : args.positional[1].get_int();
  const int64_t step = n == 3 ? args.positional[2].get_int() : 1;
  if (step == 0) fault(ErrorCode::kInvalidArgument, "range() arg 3 must not be zero");
  const long double span = step > 0 ? static_cast<long double>(stop) - start : static_cast<long double>(start) - stop;
  const long double count = span <= 0 ? 0 : std::ceil(span / std::abs(static_cast<long double>(step)));
  if (count > kMaxRange) {
    fault(ErrorCode::kOutOfRange, "Range too big. The sandbox blocks ranges larger than MAX_RANGE ({}).", kMaxRange);
  }
  interp.charge(static_cast<int64_t>(count));
  List items;
  items.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) items.push_back(Value::integer(start + i * step));
  return Value::list(std::move(items), ListKind::kRange);
}

// dict(mapping_or_pairs, **kwargs), and namespace(...) which takes the same arguments.
Dict dict_from_args(const CallArgs& args, std::string_view what) {
  if (args.positional.size() > 1) {
    fault(ErrorCode::kInvalidArgument, "{} expected at most 1 positional argument, got {}", what, args.positional.size());
  }
  Dict d;
  if (!args.positional.empty()) {
    const Value& src = args.positional[0];
    if (src.is_dict()) {
      d = src.get_dict();
    } else {
      for (const Value& pair : iterate(src)) {
        const List kv = iterate(pair);
        if (kv.size() != 2) fault(ErrorCode::kInvalidArgument, "{} update sequence element has length {}; 2 is required", what, kv.size());
        d.set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : args.keyword) d.set(Value::string(k), v);
  return d;
}

Value g_dict(Interpreter&, const CallArgs& args) { return Value::dict(dict_from_args(args, "dict")); }

Value g_namespace(Interpreter& interp, const CallArgs& args) {
  auto ns = interp.make_namespace();
  ns->attributes = dict_from_args(args, "namespace");
  return Value::object(ns);
}

class Joiner : public Object {
 public:
  explicit Joiner(std::string sep) : sep_(std::move(sep)) {}
  std::string type_name() const override { return "Joiner"; }
  bool callable() const override { return true; }
  Value call(Interpreter&, const CallArgs& args) override {
    bind_args(args, {}, "joiner()");
    if (!used_) {
      used_ = true;
      return Value::string("");
    }
    return Value::string(sep_);
  }

 private:
  std::string sep_;
  bool used_ = false;
};

Value g_joiner(Interpreter&, const CallArgs& args) {
  const auto a = bind_args(args, {{"sep", Value::string(", ")}}, "joiner()");
  return Value::object(std::make_shared<Joiner>(to_str(a[0])));
}

class Cycler : public Object, public std::enable_shared_from_this<Cycler> {
 public:
  explicit Cycler(List items) : items_(std::move(items)) {}
  std::string type_name() const override { return "Cycler"; }
  std::optional<Value> attribute(std::string_view name) const override;
  Value current() const { return items_[position_]; }
  Value next() {
    Value v = items_[position_];
    position_ = (position_ + 1) % items_.size();
    return v;
  }
  void reset() { position_ = 0; }

 private:
  List items_;
  size_t position_ = 0;
};

class CyclerMethod : public Object {
 public:
  CyclerMethod(std::shared_ptr<Cycler> cycler, bool is_next) : cycler_(std::move(cycler)), is_next_(is_next) {}
  std::string type_name() const override { return "method"; }
  bool callable() const override { return true; }
  Value call(Interpreter&, const CallArgs& args) override {
    bind_args(args, {}, is_next_ ? "cycler.next()" : "cycler.reset()");
    if (is_next_) return cycler_->next();
    cycler_->reset();
    return Value::none();
  }

 private:
  std::shared_ptr<Cycler> cycler_;
  bool is_next_;
};

std::optional<Value> Cycler::attribute(std::string_view name) const {
  if (name == "current") return current();
  if (name == "next" || name == "reset") {
    auto self = std::const_pointer_cast<Cycler>(shared_from_this());
    return Value::object(std::make_shared<CyclerMethod>(std::move(self), name == "next"));
  }
  return std::nullopt;
}

Value g_cycler(Interpreter&, const CallArgs& args) {
  if (!args.keyword.empty()) fault(ErrorCode::kInvalidArgument, "cycler() takes no keyword arguments");
  if (args.positional.empty()) fault(ErrorCode::kInvalidArgument, "at least one item has to be provided");
  return Value::object(std::make_shared<Cycler>(args.positional));
}

Value g_lipsum(Interpreter&, const CallArgs&) { fault(ErrorCode::kUnsupported, "unsupported global 'lipsum'"); }

// transformers' raise_exception: the template's own message, nothing added.
Value g_raise_exception(Interpreter&, const CallArgs& args) {
  const auto a = bind_args(args, {required("message")}, "raise_exception()");
  throw Error(ErrorCode::kInvalidArgument, to_str(a[0]));
}

// ---- strftime in the C locale ----

constexpr std::array<const char*, 7> kDays = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<const char*, 12> kMonths = {"January", "February", "March", "April", "May", "June", "July",
                                                 "August", "September", "October", "November", "December"};

int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Date {
  int64_t year, month, day, hour, minute, second, wday, yday;  // wday 0 = Sunday, yday 0-based
};

Date to_date(const std::tm& tm) {
  Date d{tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, 0, 0};
  const int64_t days = days_from_civil(d.year, d.month, d.day);
  d.wday = ((days % 7) + 11) % 7;  // 1970-01-01 was a Thursday
  d.yday = days - days_from_civil(d.year, 1, 1);
  return d;
}

// ISO 8601 week-based year and week.
std::pair<int64_t, int64_t> iso_week(const Date& d) {
  const int64_t iso_wday = d.wday == 0 ? 7 : d.wday;
  const int64_t thursday = days_from_civil(d.year, d.month, d.day) - iso_wday + 4;
  int64_t year = d.year;
  if (thursday < days_from_civil(year, 1, 1)) --year;
  if (thursday >= days_from_civil(year + 1, 1, 1)) ++year;
  return {year, (thursday - days_from_civil(year, 1, 1)) / 7 + 1};
}

std::string strftime_c(std::string_view format, const std::tm& tm) {
  const Date d = to_date(tm);
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 == format.size()) {
      out += format[i];
      continue;
    }
    char flag = 0;
    ++i;
    if (format[i] == '-' || format[i] == '_' || format[i] == '0' || format[i] == '^' || format[i] == '#') {
      flag = format[i++];
      if (i == format.size()) {
        out += '%';
        out += flag;
        break;
      }
    }
    const auto num = [&](int64_t v, int width, char pad) {
      if (flag == '-') return std::to_string(v);
      if (flag == '_') pad = ' ';
      if (flag == '0') pad = '0';
      std::string s = std::to_string(v);
      if (static_cast<int>(s.size()) < width) s.insert(0, static_cast<size_t>(width) - s.size(), pad);
      return s;
    };
    std::string text;
    const int64_t hour12 = d.hour % 12 == 0 ? 12 : d.hour % 12;
    switch (format[i]) {
      case 'a': text = std::string(kDays[d.wday]).substr(0, 3); break;
      case 'A': text = kDays[d.wday]; break;
      case 'b':
      case 'h': text = std::string(kMonths[d.month - 1]).substr(0, 3); break;
      case 'B': text = kMonths[d.month - 1]; break;
      case 'c': text = strftime_c("%a %b %e %H:%M:%S %Y", tm); break;
      case 'C': text = num(d.year / 100, 2, '0'); break;
      case 'd': text = num(d.day, 2, '0'); break;
      case 'D': text = strftime_c("%m/%d/%y", tm); break;
      case 'e': text = num(d.day, 2, ' '); break;
      case 'F': text = strftime_c("%Y-%m-%d", tm); break;
      case 'G': text = num(iso_week(d).first, 4, '0'); break;
      case 'g': text = num(iso_week(d).first % 100, 2, '0'); break;
      case 'H': text = num(d.hour, 2, '0'); break;
      case 'I': text = num(hour12, 2, '0'); break;
      case 'j': text = num(d.yday + 1, 3, '0'); break;
      case 'k': text = num(d.hour, 2, ' '); break;
      case 'l': text = num(hour12, 2, ' '); break;
      case 'm': text = num(d.month, 2, '0'); break;
      case 'M': text = num(d.minute, 2, '0'); break;
      case 'n': text = std::string("\n"); break;
      case 'p': text = std::string(d.hour < 12 ? "AM" : "PM"); break;
      case 'P': text = std::string(d.hour < 12 ? "am" : "pm"); break;
      case 'r': text = strftime_c("%I:%M:%S %p", tm); break;
      case 'R': text = strftime_c("%H:%M", tm); break;
      case 'S': text = num(d.second, 2, '0'); break;
      case 't': text = std::string("\t"); break;
      case 'T': text = strftime_c("%H:%M:%S", tm); break;
      case 'u': text = num(d.wday == 0 ? 7 : d.wday, 1, '0'); break;
      case 'U': text = num((d.yday + 7 - d.wday) / 7, 2, '0'); break;
      case 'V': text = num(iso_week(d).second, 2, '0'); break;
      case 'w': text = num(d.wday, 1, '0'); break;
      case 'W': text = num((d.yday + 7 - (d.wday + 6) % 7) / 7, 2, '0'); break;
      case 'x': text = strftime_c("%m/%d/%y", tm); break;
      case 'X': text = strftime_c("%H:%M:%S", tm); break;
      case 'y': text = num(d.year % 100, 2, '0'); break;
      case 'Y': text = num(d.year, 1, '0'); break;
      case 'z':
      case 'Z': text = std::string(""); break;  // a naive datetime has no zone
      case '%': text = std::string("%"); break;
      default:
        fault(ErrorCode::kUnsupported, "unsupported strftime directive '%{}'", format[i]);
    }
    if (flag == '^' || flag == '#') text = py_upper(text);
    out += text;
  }
  return out;
}

Value g_strftime_now(Interpreter& interp, const CallArgs& args) {
  const auto a = bind_args(args, {required("format")}, "strftime_now()");
  if (!a[0].is_string()) fault(ErrorCode::kInvalidArgument, "strftime_now() format must be a string");
  return Value::string(strftime_c(a[0].get_string(), interp.now()));
}

const std::unordered_map<std::string_view, Value>& globals() {
  static const std::unordered_map<std::string_view, Value> table = [] {
    std::unordered_map<std::string_view, Value> t;
    const std::pair<std::string_view, GlobalFn> fns[] = {
        {"range", g_range},       {"dict", g_dict},     {"namespace", g_namespace},
        {"joiner", g_joiner},     {"cycler", g_cycler}, {"lipsum", g_lipsum},
        {"raise_exception", g_raise_exception}, {"strftime_now", g_strftime_now},
    };
    for (const auto& [name, fn] : fns) t.emplace(name, Value::object(std::make_shared<BuiltinFunction>(fn)));
    return t;
  }();
  return table;
}

}  // namespace

TestFn find_test(std::string_view name) {
  const auto it = tests().find(name);
  return it == tests().end() ? nullptr : it->second;
}

bool apply_test(Interpreter& interp, std::string_view name, const Value& operand, const CallArgs& args) {
  const TestFn fn = find_test(name);
  if (!fn) fault(ErrorCode::kBadFormat, "no test named '{}'", name);
  return fn(interp, operand, args);
}

Value find_global(std::string_view name) {
  const auto it = globals().find(name);
  return it == globals().end() ? Value() : it->second;
}

}  // namespace llmrt::genai::jinja
