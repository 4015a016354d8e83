#include "genai/jinja_format.h"

#include <cmath>

#include "genai/jinja_ops.h"
#include "genai/jinja_text.h"

namespace llmrt::genai::jinja {

namespace {

struct Spec {
  std::string fill;  // one code point, UTF-8
  char align = 0;    // < > ^ =
  char sign = 0;     // + - space
  bool alternate = false;
  bool zero = false;
  int64_t width = -1;
  int64_t precision = -1;
  char type = 0;
};

int64_t parse_int(std::string_view s, size_t& i) {
  int64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + (s[i++] - '0');
    if (v > 100'000'000) fault(ErrorCode::kOutOfRange, "format width or precision too big");
  }
  return v;
}

// chr(i) for %c and {:c}.
std::string character(int64_t cp) {
  if (cp < 0 || cp > 0x10FFFF) fault(ErrorCode::kInvalidArgument, "%c arg not in range(0x110000)");
  if (cp >= 0xD800 && cp <= 0xDFFF) fault(ErrorCode::kUnsupported, "unsupported lone surrogate U+{:04X}", cp);
  std::string s;
  append_utf8(s, static_cast<uint32_t>(cp));
  return s;
}

bool is_align(char c) { return c == '<' || c == '>' || c == '^' || c == '='; }

// [[fill]align][sign][z][#][0][width][grouping][.precision][type]
Spec parse_spec(std::string_view s) {
  Spec spec;
  size_t i = 0;
  if (!s.empty()) {
    size_t next = 0;
    next_codepoint(s, next);
    if (next < s.size() && is_align(s[next])) {
      spec.fill = std::string(s.substr(0, next));
      spec.align = s[next];
      i = next + 1;
    } else if (is_align(s[0])) {
      spec.align = s[0];
      i = 1;
    }
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) spec.sign = s[i++];
  if (i < s.size() && s[i] == 'z') fault(ErrorCode::kUnsupported, "unsupported 'z' in format spec '{}'", s);
  if (i < s.size() && s[i] == '#') {
    spec.alternate = true;
    ++i;
  }
  if (i < s.size() && s[i] == '0') {
    spec.zero = true;
    ++i;
  }
  if (i < s.size() && s[i] >= '0' && s[i] <= '9') spec.width = parse_int(s, i);
  if (i < s.size() && (s[i] == ',' || s[i] == '_')) {
    fault(ErrorCode::kUnsupported, "unsupported digit grouping in format spec '{}'", s);
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || s[i] < '0' || s[i] > '9') fault(ErrorCode::kInvalidArgument, "Format specifier missing precision");
    spec.precision = parse_int(s, i);
  }
  if (i < s.size()) spec.type = s[i++];
  if (i != s.size()) fault(ErrorCode::kInvalidArgument, "Invalid format specifier '{}'", s);
  return spec;
}

std::string pad(std::string body, const Spec& spec, char default_align) {
  const int64_t len = static_cast<int64_t>(codepoint_count(body));
  if (spec.width <= len) return body;
  const std::string fill = spec.fill.empty() ? " " : spec.fill;
  const size_t missing = static_cast<size_t>(spec.width - len);
  const char align = spec.align ? spec.align : default_align;
  size_t left = 0;
  if (align == '>') left = missing;
  if (align == '^') left = missing / 2;
  std::string out;
  for (size_t i = 0; i < left; ++i) out += fill;
  out += body;
  for (size_t i = left; i < missing; ++i) out += fill;
  return out;
}

std::string format_string(const std::string& s, const Spec& spec) {
  if (spec.type && spec.type != 's') fault(ErrorCode::kInvalidArgument, "Unknown format code '{}' for object of type 'str'", spec.type);
  if (spec.sign || spec.align == '=') fault(ErrorCode::kInvalidArgument, "Sign not allowed in string format specifier");
  std::string body = s;
  if (spec.precision >= 0) {
    const std::vector<size_t> offsets = codepoint_offsets(s);
    if (static_cast<size_t>(spec.precision) + 1 < offsets.size()) body = s.substr(0, offsets[static_cast<size_t>(spec.precision)]);
  }
  return pad(std::move(body), spec, '<');
}

// Numbers go through fmt, whose spec language is Python's for everything used here.
std::string format_number(const Value& v, Spec spec) {
  char type = spec.type;
  bool percent = false;
  if (type == '%') {
    percent = true;
    type = 'f';
  }
  const bool float_type = type == 'e' || type == 'E' || type == 'f' || type == 'F' || type == 'g' || type == 'G';
  const bool int_type = type == 'd' || type == 'b' || type == 'o' || type == 'x' || type == 'X' || type == 'c';
  if (type == 'n') fault(ErrorCode::kUnsupported, "unsupported locale format code 'n'");
  if (!float_type && !int_type && type != 0) {
    fault(ErrorCode::kInvalidArgument, "Unknown format code '{}' for object of type '{}'", type, type_name(v));
  }
  if (int_type && !v.is_integral()) {
    fault(ErrorCode::kInvalidArgument, "Unknown format code '{}' for object of type 'float'", type);
  }
  if (spec.align == '=' && !(spec.fill.empty() || spec.fill == "0")) {
    fault(ErrorCode::kUnsupported, "unsupported '=' alignment with fill '{}'", spec.fill);
  }
  std::string fs = "{:";
  if (spec.align && spec.align != '=') fs += spec.fill + spec.align;
  if (spec.sign) fs += spec.sign;
  if (spec.alternate) fs += '#';
  if (spec.zero || spec.align == '=') fs += '0';
  if (spec.width >= 0) fs += std::to_string(spec.width);
  if (spec.precision >= 0) {
    if (!float_type && (type != 0 || v.is_integral())) {
      fault(ErrorCode::kInvalidArgument, "Precision not allowed in integer format specifier");
    }
    fs += "." + std::to_string(spec.precision);
  }
  try {
    if (type == 'c') {
      return pad(character(v.get_int()), spec, '<');
    }
    if (v.is_integral() && type == 'o' && spec.alternate) {
      // Python writes 0o10 where C and fmt write 010.
      const int64_t i = v.get_int();
      const std::string sign = i < 0 ? "-" : (spec.sign == '+' || spec.sign == ' ') ? std::string(1, spec.sign) : "";
      std::string digits = fmt::format("{:o}", i < 0 ? -static_cast<uint64_t>(i) : static_cast<uint64_t>(i));
      const int64_t prefix = static_cast<int64_t>(sign.size()) + 2;
      if ((spec.zero || spec.align == '=') && spec.width > prefix + static_cast<int64_t>(digits.size())) {
        digits.insert(0, static_cast<size_t>(spec.width - prefix) - digits.size(), '0');
      }
      return pad(sign + "0o" + digits, spec, '>');
    }
    if (v.is_integral() && !float_type && spec.precision < 0) {
      if (type) fs += type;
      return fmt::format(fmt::runtime(fs + "}"), v.get_int());
    }
    double x = v.get_float();
    if (percent) x *= 100;
    if (type == 0) {
      // Python's default float format: repr, or 'g' that keeps a ".0" when given a precision.
      std::string body;
      if (spec.precision < 0) {
        body = py_float_repr(x);
        if (spec.sign && x >= 0 && !std::signbit(x)) body.insert(body.begin(), spec.sign == '-' ? '\0' : spec.sign);
        if (!body.empty() && body[0] == '\0') body.erase(0, 1);
      } else {
        std::string gs = "{:";
        if (spec.sign) gs += spec.sign;
        body = fmt::format(fmt::runtime(gs + "." + std::to_string(spec.precision) + "g}"), x);
        if (body.find_first_of(".eEn") == std::string::npos) body += ".0";
      }
      if (spec.zero && !spec.align && spec.width > 0) {
        Spec zero = spec;
        zero.fill = "0";
        zero.align = '>';
        const bool has_sign = !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ');
        if (!has_sign) return pad(std::move(body), zero, '>');
        zero.width = spec.width - 1;
        return body.substr(0, 1) + pad(body.substr(1), zero, '>');
      }
      return pad(std::move(body), spec, '>');
    }
    if (spec.precision < 0 && float_type) fs += ".6";
    if (percent) {
      // The '%' counts toward the width: format the number alone, then pad the whole.
      std::string plain = "{:";
      if (spec.sign) plain += spec.sign;
      if (spec.alternate) plain += '#';
      plain += "." + std::to_string(spec.precision < 0 ? 6 : spec.precision) + "f}";
      std::string body = fmt::format(fmt::runtime(plain), x) + "%";
      if ((spec.zero || spec.align == '=') && spec.width > 0) {
        const bool has_sign = body[0] == '-' || body[0] == '+' || body[0] == ' ';
        Spec zero = spec;
        zero.fill = "0";
        zero.align = '>';
        if (!has_sign) return pad(std::move(body), zero, '>');
        zero.width = spec.width - 1;
        return body.substr(0, 1) + pad(body.substr(1), zero, '>');
      }
      return pad(std::move(body), spec, '>');
    }
    return fmt::format(fmt::runtime(fs + type + "}"), x);
  } catch (const fmt::format_error& e) {
    fault(ErrorCode::kInvalidArgument, "invalid format spec: {}", e.what());
  }
}

}  // namespace

std::string format_value(const Value& v, std::string_view spec_text) {
  if (spec_text.empty()) return to_str(v);
  const Spec spec = parse_spec(spec_text);
  if (v.is_string()) return format_string(v.get_string(), spec);
  if (v.is_number()) return format_number(v, spec);
  fault(ErrorCode::kInvalidArgument, "unsupported format string passed to {}.__format__", type_name(v));
}

std::string percent_format(std::string_view f, const Value& args) {
  List positional;
  const Value* mapping = nullptr;
  if (args.is_list() && args.list_kind() == ListKind::kTuple) {
    positional = args.get_list();
  } else if (args.is_dict()) {
    mapping = &args;
    positional.push_back(args);
  } else {
    positional.push_back(args);
  }
  size_t next_arg = 0;
  bool used_mapping = false;
  std::string out;
  for (size_t i = 0; i < f.size();) {
    if (f[i] != '%') {
      out += f[i++];
      continue;
    }
    ++i;
    if (i < f.size() && f[i] == '%') {
      out += '%';
      ++i;
      continue;
    }
    Value arg;
    if (i < f.size() && f[i] == '(') {
      const size_t close = f.find(')', i);
      if (close == std::string_view::npos) fault(ErrorCode::kInvalidArgument, "incomplete format key");
      if (!mapping) fault(ErrorCode::kInvalidArgument, "format requires a mapping");
      const Value* v = mapping->get_dict().find(f.substr(i + 1, close - i - 1));
      if (!v) fault(ErrorCode::kInvalidArgument, "KeyError: '{}'", f.substr(i + 1, close - i - 1));
      arg = *v;
      used_mapping = true;
      i = close + 1;
    }
    Spec spec;
    for (; i < f.size(); ++i) {
      if (f[i] == '-') {
        spec.align = '<';
      } else if (f[i] == '+') {
        spec.sign = '+';
      } else if (f[i] == ' ') {
        if (spec.sign != '+') spec.sign = ' ';
      } else if (f[i] == '#') {
        spec.alternate = true;
      } else if (f[i] == '0') {
        spec.zero = true;
      } else {
        break;
      }
    }
    if (i < f.size() && f[i] == '*') fault(ErrorCode::kUnsupported, "unsupported '*' width in a % format");
    if (i < f.size() && f[i] >= '0' && f[i] <= '9') spec.width = parse_int(f, i);
    if (i < f.size() && f[i] == '.') {
      ++i;
      spec.precision = parse_int(f, i);
    }
    while (i < f.size() && (f[i] == 'h' || f[i] == 'l' || f[i] == 'L')) ++i;
    if (i >= f.size()) fault(ErrorCode::kInvalidArgument, "incomplete format");
    const char type = f[i++];
    if (!used_mapping) {
      if (next_arg >= positional.size()) fault(ErrorCode::kInvalidArgument, "not enough arguments for format string");
      arg = positional[next_arg++];
    }
    if (spec.align == '<') spec.zero = false;
    switch (type) {
      case 's':
      case 'r':
      case 'a': {
        Spec s = spec;
        s.sign = 0;
        s.zero = false;
        if (!s.align) s.align = '>';
        out += format_string(type == 's' ? to_str(arg) : repr(arg), s);
        break;
      }
      case 'd':
      case 'i':
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        if (!arg.is_number()) {
          fault(ErrorCode::kInvalidArgument, "%{} format: a real number is required, not {}", type, type_name(arg));
        }
        if (!arg.is_integral() && (type == 'x' || type == 'X' || type == 'o')) {
          fault(ErrorCode::kInvalidArgument, "%{} format: an integer is required, not float", type);
        }
        const Value as_int = arg.is_integral() ? Value::integer(arg.get_int())
                                               : Value::integer(static_cast<int64_t>(std::trunc(arg.get_float())));
        Spec s = spec;
        s.type = (type == 'i' || type == 'u') ? 'd' : type;
        if (s.precision >= 0) fault(ErrorCode::kUnsupported, "unsupported precision on %{}", type);
        if (!s.align) s.align = s.zero ? '=' : '>';
        if (s.align == '=') s.fill = std::string(1, '0');
        out += format_number(as_int, s);
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': {
        if (!arg.is_number()) fault(ErrorCode::kInvalidArgument, "must be real number, not {}", type_name(arg));
        Spec s = spec;
        s.type = type;
        if (!s.align) s.align = s.zero ? '=' : '>';
        if (s.align == '=') s.fill = std::string(1, '0');
        out += format_number(Value::floating(arg.get_float()), s);
        break;
      }
      case 'c': {
        std::string ch;
        if (arg.is_integral()) {
          ch = character(arg.get_int());
        } else if (arg.is_string() && codepoint_count(arg.get_string()) == 1) {
          ch = arg.get_string();
        } else {
          fault(ErrorCode::kInvalidArgument, "%c requires an int or a unicode character");
        }
        Spec s = spec;
        if (!s.align) s.align = '>';
        out += pad(ch, s, '>');
        break;
      }
      default:
        fault(ErrorCode::kInvalidArgument, "unsupported format character '{}'", type);
    }
  }
  // Python skips this check when the argument looks like a mapping (has __getitem__): dicts,
  // lists, strings excepted, and jinja2's Undefined.
  const bool mapping_like = args.is_dict() || args.is_undefined() || (args.is_list() && args.list_kind() != ListKind::kTuple);
  if (!used_mapping && !mapping_like && next_arg < positional.size()) {
    fault(ErrorCode::kInvalidArgument, "not all arguments converted during string formatting");
  }
  return out;
}

std::string str_format(std::string_view f, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  bool manual = false, automatic = false;
  for (size_t i = 0; i < f.size();) {
    const char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') {
        out += '}';
        i += 2;
        continue;
      }
      fault(ErrorCode::kInvalidArgument, "Single '}}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      i += 2;
      continue;
    }
    const size_t close = f.find('}', i);
    if (close == std::string_view::npos) fault(ErrorCode::kInvalidArgument, "expected '}}' before end of string");
    const std::string_view field = f.substr(i + 1, close - i - 1);
    if (field.find('{') != std::string_view::npos) fault(ErrorCode::kUnsupported, "unsupported nested field in str.format");
    i = close + 1;

    std::string_view spec, conv;
    std::string_view name = field;
    if (const size_t colon = name.find(':'); colon != std::string_view::npos) {
      spec = name.substr(colon + 1);
      name = name.substr(0, colon);
    }
    if (const size_t bang = name.find('!'); bang != std::string_view::npos) {
      conv = name.substr(bang + 1);
      name = name.substr(0, bang);
    }
    const size_t head_end = std::min(name.find('.'), name.find('['));
    const std::string_view head = name.substr(0, head_end);
    Value v;
    if (head.empty() || std::isdigit(static_cast<unsigned char>(head[0]))) {
      size_t index;
      if (head.empty()) {
        if (manual) fault(ErrorCode::kInvalidArgument, "cannot switch from manual field specification to automatic field numbering");
        automatic = true;
        index = auto_index++;
      } else {
        if (automatic) fault(ErrorCode::kInvalidArgument, "cannot switch from automatic field numbering to manual field specification");
        manual = true;
        size_t p = 0;
        index = static_cast<size_t>(parse_int(head, p));
      }
      if (index >= args.positional.size()) fault(ErrorCode::kInvalidArgument, "Replacement index {} out of range for positional args tuple", index);
      v = args.positional[index];
    } else {
      bool found = false;
      for (const auto& [key, value] : args.keyword) {
        if (key == head) {
          v = value;
          found = true;
        }
      }
      if (!found) fault(ErrorCode::kInvalidArgument, "KeyError: '{}'", head);
    }
    for (size_t p = head_end; p < name.size();) {
      if (name[p] == '.') {
        const size_t end = std::min(name.find('.', p + 1), name.find('[', p + 1));
        v = get_attribute(v, name.substr(p + 1, end - p - 1));
        p = end;
      } else {
        const size_t end = name.find(']', p);
        if (end == std::string_view::npos) fault(ErrorCode::kInvalidArgument, "Missing ']' in format string");
        const std::string_view key = name.substr(p + 1, end - p - 1);
        const bool numeric = !key.empty() && key.find_first_not_of("0123456789") == std::string_view::npos;
        size_t q = 0;
        v = get_item(v, numeric ? Value::integer(parse_int(key, q)) : Value::string(std::string(key)));
        p = end + 1;
      }
    }
    if (v.is_undefined()) raise_undefined(v);
    if (conv == "r" || conv == "a") {
      v = Value::string(repr(v));
    } else if (conv == "s") {
      v = Value::string(to_str(v));
    } else if (!conv.empty()) {
      fault(ErrorCode::kInvalidArgument, "Unknown conversion specifier {}", conv);
    }
    out += format_value(v, spec);
  }
  return out;
}

}  // namespace llmrt::genai::jinja
