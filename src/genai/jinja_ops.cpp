#include "genai/jinja_ops.h"

#include <cmath>
#include <limits>

#include "genai/jinja_eval.h"
#include "genai/jinja_format.h"
#include "genai/jinja_methods.h"
#include "genai/jinja_text.h"

namespace llmrt::genai::jinja {

namespace {

constexpr const char* kOpSymbols[] = {"+", "-", "*", "/", "//", "%", "**", "~"};

[[noreturn]] void unsupported_operands(BinaryOp op, const Value& a, const Value& b) {
  fault(ErrorCode::kInvalidArgument, "unsupported operand type(s) for {}: '{}' and '{}'",
        kOpSymbols[static_cast<int>(op)], type_name(a), type_name(b));
}

[[noreturn]] void overflow() {
  fault(ErrorCode::kOutOfRange, "integer overflow (this interpreter's integers are 64-bit)");
}

Value repeat(const Value& seq, int64_t n) {
  if (n <= 0) return seq.is_string() ? Value::string("", seq.markup()) : Value::list({}, seq.list_kind());
  if (seq.is_string()) {
    const std::string& s = seq.get_string();
    if (!s.empty() && static_cast<uint64_t>(n) > kMaxOutputBytes / s.size()) {
      fault(ErrorCode::kOutOfRange, "string repetition longer than {} bytes", kMaxOutputBytes);
    }
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += s;
    return Value::string(std::move(out), seq.markup());
  }
  const List& items = seq.get_list();
  constexpr size_t kMaxItems = size_t{1} << 22;
  if (!items.empty() && static_cast<uint64_t>(n) > kMaxItems / items.size()) {
    fault(ErrorCode::kOutOfRange, "list repetition longer than {} items", kMaxItems);
  }
  List out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.list_kind());
}

bool is_plain_sequence(const Value& v) {
  return v.is_list() && (v.list_kind() == ListKind::kList || v.list_kind() == ListKind::kTuple);
}

Value add(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return Value::integer(checked_add(a.get_int(), b.get_int()));
    return Value::floating(a.get_float() + b.get_float());
  }
  if (a.is_string() && b.is_string()) {
    // markupsafe: Markup + str escapes the str, str + Markup escapes the str too.
    if (a.markup() == b.markup()) {
      if (a.get_string().size() + b.get_string().size() > kMaxOutputBytes) {
        fault(ErrorCode::kOutOfRange, "string longer than {} bytes", kMaxOutputBytes);
      }
      return Value::string(a.get_string() + b.get_string(), a.markup());
    }
    if (a.markup()) return Value::string(a.get_string() + html_escape(b.get_string()), true);
    return Value::string(html_escape(a.get_string()) + b.get_string(), true);
  }
  if (a.is_string()) {
    fault(ErrorCode::kInvalidArgument, "can only concatenate str (not \"{}\") to str", type_name(b));
  }
  if (is_plain_sequence(a) && is_plain_sequence(b)) {
    if (a.list_kind() != b.list_kind()) {
      fault(ErrorCode::kInvalidArgument, "can only concatenate {} (not \"{}\") to {}", type_name(a), type_name(b),
            type_name(a));
    }
    List out = a.get_list();
    out.insert(out.end(), b.get_list().begin(), b.get_list().end());
    return Value::list(std::move(out), a.list_kind());
  }
  unsupported_operands(BinaryOp::kAdd, a, b);
}

int64_t floor_div(int64_t a, int64_t b) {
  if (b == -1 && a == std::numeric_limits<int64_t>::min()) overflow();
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

double float_mod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  if (r == 0) r = std::copysign(0.0, b);
  return r;
}

// CPython's float floor division (float_floor_div via _float_div_mod).
double float_floor_div(double x, double y) {
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0 && ((y < 0) != (mod < 0))) div -= 1.0;
  if (div == 0) return std::copysign(0.0, x / y);
  double floordiv = std::floor(div);
  if (div - floordiv > 0.5) floordiv += 1.0;
  return floordiv;
}

Value power(const Value& a, const Value& b) {
  if (a.is_integral() && b.is_integral() && b.get_int() >= 0) {
    int64_t base = a.get_int(), exp = b.get_int(), result = 1;
    while (exp > 0) {
      if (exp & 1) result = checked_mul(result, base);
      exp >>= 1;
      if (exp > 0) base = checked_mul(base, base);
    }
    return Value::integer(result);
  }
  const double x = a.get_float(), y = b.get_float();
  if (x == 0 && y < 0) fault(ErrorCode::kInvalidArgument, "0.0 cannot be raised to a negative power");
  if (x < 0 && y != std::floor(y)) {
    fault(ErrorCode::kUnsupported, "a negative number raised to a fractional power (a complex number)");
  }
  const double r = std::pow(x, y);
  if (std::isinf(r) && std::isfinite(x) && std::isfinite(y)) fault(ErrorCode::kOutOfRange, "numerical result out of range");
  return Value::floating(r);
}

// Python's slice.indices(): clamps start/stop for `len` and `step`.
void adjust_slice(int64_t len, int64_t step, int64_t& start, int64_t& stop, bool has_start, bool has_stop) {
  const auto adjust = [&](int64_t& i, bool given, int64_t dflt) {
    if (!given) {
      i = dflt;
      return;
    }
    if (i < 0) {
      i += len;
      if (i < 0) i = step < 0 ? -1 : 0;
    } else if (i >= len) {
      i = step < 0 ? len - 1 : len;
    }
  };
  adjust(start, has_start, step < 0 ? len - 1 : 0);
  adjust(stop, has_stop, step < 0 ? -1 : len);
}

}  // namespace

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '"':
        out += "&#34;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Value binary_op(BinaryOp op, const Value& a, const Value& b) {
  if (op == BinaryOp::kConcat) {
    std::string s = to_str(a);
    std::string t = to_str(b);
    if (s.size() + t.size() > kMaxOutputBytes) fault(ErrorCode::kOutOfRange, "string longer than {} bytes", kMaxOutputBytes);
    return Value::string(s + t);
  }
  if (op == BinaryOp::kMod && a.is_string()) return Value::string(percent_format(a.get_string(), b), a.markup());
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  const bool numbers = a.is_number() && b.is_number();
  const bool ints = a.is_integral() && b.is_integral();
  switch (op) {
    case BinaryOp::kAdd:
      return add(a, b);
    case BinaryOp::kSub:
      if (!numbers) break;
      if (ints) {
        int64_t r;
        if (__builtin_sub_overflow(a.get_int(), b.get_int(), &r)) overflow();
        return Value::integer(r);
      }
      return Value::floating(a.get_float() - b.get_float());
    case BinaryOp::kMul:
      if (numbers) return ints ? Value::integer(checked_mul(a.get_int(), b.get_int()))
                               : Value::floating(a.get_float() * b.get_float());
      if ((a.is_string() || is_plain_sequence(a)) && b.is_integral()) return repeat(a, b.get_int());
      if ((b.is_string() || is_plain_sequence(b)) && a.is_integral()) return repeat(b, a.get_int());
      break;
    case BinaryOp::kDiv:
      if (!numbers) break;
      if (b.get_float() == 0) fault(ErrorCode::kInvalidArgument, "division by zero");
      return Value::floating(a.get_float() / b.get_float());
    case BinaryOp::kFloorDiv:
      if (!numbers) break;
      if (ints) {
        if (b.get_int() == 0) fault(ErrorCode::kInvalidArgument, "integer division or modulo by zero");
        return Value::integer(floor_div(a.get_int(), b.get_int()));
      }
      if (b.get_float() == 0) fault(ErrorCode::kInvalidArgument, "float floor division by zero");
      return Value::floating(float_floor_div(a.get_float(), b.get_float()));
    case BinaryOp::kMod:
      if (!numbers) break;
      if (ints) {
        if (b.get_int() == 0) fault(ErrorCode::kInvalidArgument, "integer division or modulo by zero");
        return Value::integer(floor_mod(a.get_int(), b.get_int()));
      }
      if (b.get_float() == 0) fault(ErrorCode::kInvalidArgument, "float modulo");
      return Value::floating(float_mod(a.get_float(), b.get_float()));
    case BinaryOp::kPow:
      if (!numbers) break;
      return power(a, b);
    case BinaryOp::kConcat:
      break;
  }
  unsupported_operands(op, a, b);
}

bool contains(const Value& container, const Value& item) {
  switch (container.type()) {
    case Type::kUndefined:
      return false;
    case Type::kString:
      if (!item.is_string()) {
        fault(ErrorCode::kInvalidArgument, "'in <string>' requires string as left operand, not {}", type_name(item));
      }
      return container.get_string().find(item.get_string()) != std::string::npos;
    case Type::kList:
      for (const Value& v : container.get_list()) {
        if (equals(v, item)) return true;
      }
      return false;
    case Type::kDict:
      return container.get_dict().find(item) != nullptr;  // unhashable items raise, as in Python
    case Type::kObject:
      if (is_generator(container)) {
        for (const Value& v : iterate(container)) {
          if (equals(v, item)) return true;
        }
        return false;
      }
      break;
    default:
      break;
  }
  fault(ErrorCode::kInvalidArgument, "argument of type '{}' is not iterable", type_name(container));
}

bool compare_op(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::kEq:
      return equals(a, b);
    case CompareOp::kNe:
      return !equals(a, b);
    case CompareOp::kLt:
      return compare(a, b, "<") < 0;
    case CompareOp::kLe:
      return compare(a, b, "<=") <= 0;
    case CompareOp::kGt:
      return compare(a, b, ">") > 0;
    case CompareOp::kGe:
      return compare(a, b, ">=") >= 0;
    case CompareOp::kIn:
      return contains(b, a);
    case CompareOp::kNotIn:
      return !contains(b, a);
  }
  return false;
}

Value negate(const Value& v) {
  if (v.is_undefined()) raise_undefined(v);
  if (v.is_integral()) {
    if (v.get_int() == std::numeric_limits<int64_t>::min()) overflow();
    return Value::integer(-v.get_int());
  }
  if (v.is_float()) return Value::floating(-v.get_float());
  fault(ErrorCode::kInvalidArgument, "bad operand type for unary -: '{}'", type_name(v));
}

Value unary_plus(const Value& v) {
  if (v.is_undefined()) raise_undefined(v);
  if (v.is_integral()) return Value::integer(v.get_int());
  if (v.is_float()) return v;
  fault(ErrorCode::kInvalidArgument, "bad operand type for unary +: '{}'", type_name(v));
}

namespace {

Value missing_attribute(const Value& obj, std::string_view name) {
  return Value::undefined(fmt::format("'{}' has no attribute '{}'", object_type_repr(obj), name));
}

}  // namespace

Value get_attribute(const Value& obj, std::string_view name) {
  if (obj.is_undefined()) raise_undefined(obj);
  if (name.size() >= 2 && name.substr(0, 2) == "__") {
    return Value::undefined(fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, type_name(obj)));
  }
  if (std::optional<Value> method = find_method(obj, name)) return *method;
  if (obj.is_dict()) {
    if (const Value* v = obj.get_dict().find(name)) return *v;
  } else if (obj.is_object()) {
    if (std::optional<Value> v = obj.get_object().attribute(name)) return *v;
  }
  return missing_attribute(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) raise_undefined(obj);
  if (obj.is_dict()) {
    const bool hashable = !(key.is_list() && key.list_kind() != ListKind::kTuple) && !key.is_dict() &&
                          !is_generator(key) && !(key.is_object() && dynamic_cast<Namespace*>(&key.get_object()));
    if (hashable) {
      if (const Value* v = obj.get_dict().find(key)) return *v;
    }
  } else if ((obj.is_string() || is_plain_sequence(obj) || (obj.is_list() && obj.list_kind() == ListKind::kRange)) &&
             key.is_integral()) {
    int64_t i = key.get_int();
    if (obj.is_list()) {
      const List& items = obj.get_list();
      const int64_t n = static_cast<int64_t>(items.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return items[static_cast<size_t>(i)];
    } else {
      const std::string& s = obj.get_string();
      if (is_ascii(s)) {
        const int64_t n = static_cast<int64_t>(s.size());
        if (i < 0) i += n;
        if (i >= 0 && i < n) return Value::string(s.substr(static_cast<size_t>(i), 1));
      } else {
        const std::vector<size_t> offsets = codepoint_offsets(s);
        const int64_t n = static_cast<int64_t>(offsets.size()) - 1;
        if (i < 0) i += n;
        if (i >= 0 && i < n) {
          const size_t begin = offsets[static_cast<size_t>(i)];
          return Value::string(s.substr(begin, offsets[static_cast<size_t>(i) + 1] - begin));
        }
      }
    }
  }
  if (key.is_string()) {
    const std::string& name = key.get_string();
    if (name.size() >= 2 && name.substr(0, 2) == "__") {
      return Value::undefined(fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, type_name(obj)));
    }
    if (std::optional<Value> method = find_method(obj, name)) return *method;
    if (obj.is_object()) {
      if (std::optional<Value> v = obj.get_object().attribute(name)) return *v;
    }
    return missing_attribute(obj, name);
  }
  return Value::undefined(fmt::format("{} has no element {}", object_type_repr(obj), repr(key)));
}

Value slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  if (obj.is_undefined()) raise_undefined(obj);
  // jinja2 compiles x[a:b] to a plain Python subscript, so failures raise (no undefined).
  if (obj.is_dict()) fault(ErrorCode::kInvalidArgument, "unhashable type: 'slice'");
  if (!(obj.is_string() || is_plain_sequence(obj) || (obj.is_list() && obj.list_kind() == ListKind::kRange))) {
    fault(ErrorCode::kInvalidArgument, "'{}' object is not subscriptable", type_name(obj));
  }
  const auto index_ok = [](const Value& v) { return v.is_none() || v.is_integral(); };
  if (!index_ok(start_v) || !index_ok(stop_v) || !index_ok(step_v)) {
    fault(ErrorCode::kInvalidArgument, "slice indices must be integers or None or have an __index__ method");
  }
  const int64_t step = step_v.is_none() ? 1 : step_v.get_int();
  if (step == 0) fault(ErrorCode::kInvalidArgument, "slice step cannot be zero");
  int64_t start = start_v.is_none() ? 0 : start_v.get_int();
  int64_t stop = stop_v.is_none() ? 0 : stop_v.get_int();
  const auto pick = [&](int64_t len, auto&& take) {
    adjust_slice(len, step, start, stop, !start_v.is_none(), !stop_v.is_none());
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) take(static_cast<size_t>(i));
  };
  if (obj.is_string()) {
    const std::string& s = obj.get_string();
    std::string out;
    if (is_ascii(s)) {
      pick(static_cast<int64_t>(s.size()), [&](size_t i) { out += s[i]; });
    } else {
      const std::vector<size_t> offsets = codepoint_offsets(s);
      pick(static_cast<int64_t>(offsets.size()) - 1,
           [&](size_t i) { out.append(s, offsets[i], offsets[i + 1] - offsets[i]); });
    }
    return Value::string(std::move(out));
  }
  const List& items = obj.get_list();
  List out;
  pick(static_cast<int64_t>(items.size()), [&](size_t i) { out.push_back(items[i]); });
  return Value::list(std::move(out), obj.list_kind());
}

}  // namespace llmrt::genai::jinja
