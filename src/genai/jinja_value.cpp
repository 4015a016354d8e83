#include "genai/jinja_value.h"

#include <algorithm>
#include <cmath>

#include "genai/jinja_text.h"

namespace llmrt::genai::jinja {

namespace {

// prefix + body + suffix, built by appending (GCC 12 warns falsely on "lit" + std::string).
std::string wrap(std::string_view prefix, const std::string& body, std::string_view suffix) {
  std::string out;
  out.reserve(prefix.size() + body.size() + suffix.size());
  out.append(prefix).append(body).append(suffix);
  return out;
}

}  // namespace

Value Value::undefined(std::string message) {
  Value v;
  if (!message.empty()) v.ptr_ = std::make_shared<const std::string>(std::move(message));
  return v;
}

Value Value::none() {
  Value v;
  v.type_ = Type::kNone;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.type_ = Type::kBool;
  v.scalar_.b = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.type_ = Type::kInt;
  v.scalar_.i = i;
  return v;
}

Value Value::floating(double f) {
  Value v;
  v.type_ = Type::kFloat;
  v.scalar_.f = f;
  return v;
}

Value Value::string(std::string s, bool markup) {
  Value v;
  v.type_ = Type::kString;
  v.flag_ = markup ? 1 : 0;
  v.ptr_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

namespace {

uint16_t nested_depth(int inner) {
  if (inner + 1 > kMaxValueDepth) {
    fault(ErrorCode::kOutOfRange, "value nested more than {} levels deep", kMaxValueDepth);
  }
  return static_cast<uint16_t>(inner + 1);
}

}  // namespace

Value Value::list(List items, ListKind kind) {
  Value v;
  int inner = 0;
  for (const Value& item : items) inner = std::max(inner, item.depth());
  v.depth_ = nested_depth(inner);
  v.type_ = Type::kList;
  v.flag_ = static_cast<uint8_t>(kind);
  v.ptr_ = std::make_shared<const List>(std::move(items));
  return v;
}

Value Value::dict(Dict d) {
  Value v;
  int inner = 0;
  for (const auto& [key, value] : d.entries()) inner = std::max({inner, key.depth(), value.depth()});
  v.depth_ = nested_depth(inner);
  v.type_ = Type::kDict;
  v.ptr_ = std::make_shared<const Dict>(std::move(d));
  return v;
}

Value Value::object(std::shared_ptr<Object> o) {
  Value v;
  v.type_ = Type::kObject;
  v.ptr_ = std::move(o);
  return v;
}

Object& Value::get_object() const { return *object_ptr(); }

std::shared_ptr<Object> Value::object_ptr() const {
  // Objects are the mutable values; ptr_ is const only because strings and lists are not.
  return std::const_pointer_cast<Object>(std::static_pointer_cast<const Object>(ptr_));
}

bool Value::identical(const Value& other) const {
  if (type_ != other.type_) return false;
  switch (type_) {
    case Type::kNone:
      return true;
    case Type::kBool:
      return scalar_.b == other.scalar_.b;
    case Type::kInt:
      // CPython caches -5..256, so those are the same object wherever they come from.
      return scalar_.i == other.scalar_.i && scalar_.i >= -5 && scalar_.i <= 256;
    default:
      return ptr_ && ptr_ == other.ptr_;
  }
}

std::string Value::undefined_message() const {
  if (type_ != Type::kUndefined) return {};
  return ptr_ ? *static_cast<const std::string*>(ptr_.get()) : std::string("value is undefined");
}

const Value* Dict::find(const Value& key) const {
  const auto it = index_.find(hash_key(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

const Value* Dict::find(std::string_view key) const {
  std::string k = "s";
  k += key;
  const auto it = index_.find(k);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void Dict::set(const Value& key, Value value) {
  auto [it, inserted] = index_.emplace(hash_key(key), entries_.size());
  if (inserted) {
    entries_.emplace_back(key, std::move(value));
  } else {
    entries_[it->second].second = std::move(value);
  }
}

std::vector<Value> bind_args(const CallArgs& args, std::initializer_list<Param> params, std::string_view what) {
  if (args.positional.size() > params.size()) {
    fault(ErrorCode::kInvalidArgument, "{} takes at most {} argument(s), got {}", what, params.size(),
          args.positional.size());
  }
  std::vector<Value> bound(params.size());
  std::vector<bool> set(params.size(), false);
  for (size_t i = 0; i < args.positional.size(); ++i) {
    bound[i] = args.positional[i];
    set[i] = true;
  }
  for (const auto& [name, value] : args.keyword) {
    size_t i = 0;
    for (const Param& p : params) {
      if (p.name == name) break;
      ++i;
    }
    if (i == params.size()) fault(ErrorCode::kInvalidArgument, "{} got an unexpected keyword argument '{}'", what, name);
    if (set[i]) fault(ErrorCode::kInvalidArgument, "{} got multiple values for argument '{}'", what, name);
    bound[i] = value;
    set[i] = true;
  }
  size_t i = 0;
  for (const Param& p : params) {
    if (!set[i]) {
      if (p.required) fault(ErrorCode::kInvalidArgument, "{} missing required argument '{}'", what, p.name);
      bound[i] = p.default_value;
    }
    ++i;
  }
  return bound;
}

std::optional<Value> Object::attribute(std::string_view) const { return std::nullopt; }

std::string Object::repr() const {
  fault(ErrorCode::kUnsupported, "printing a {} object (Python prints its memory address)", type_name());
}

Value Object::call(Interpreter&, const CallArgs&) {
  fault(ErrorCode::kInvalidArgument, "'{}' object is not callable", type_name());
}

std::string Namespace::repr() const {
  // A namespace can hold itself (ns.x = [ns]); Python would recurse until RecursionError.
  thread_local int active = 0;
  if (active >= 8) fault(ErrorCode::kOutOfRange, "namespace printed inside itself");
  ++active;
  struct Leave {
    ~Leave() { --active; }
  } leave;
  return wrap("<Namespace ", jinja::repr(Value::dict(attributes)), ">");
}

std::optional<Value> Namespace::attribute(std::string_view name) const {
  if (const Value* v = attributes.find(name)) return *v;
  return std::nullopt;
}

std::string Generator::repr() const {
  // jinja2 prints "<generator object ... at 0x...>", an address; no template can mean that.
  fault(ErrorCode::kUnsupported,
        "printing a generator (the result of map/select/reject/unique/items without |list)");
}

List Generator::take_rest() {
  List rest(items_.begin() + static_cast<std::ptrdiff_t>(position_), items_.end());
  position_ = items_.size();
  return rest;
}

std::optional<Value> Generator::take_one() {
  if (position_ == items_.size()) return std::nullopt;
  return items_[position_++];
}

Value make_generator(List items) { return Value::object(std::make_shared<Generator>(std::move(items))); }

bool is_generator(const Value& v) { return v.is_object() && dynamic_cast<Generator*>(&v.get_object()) != nullptr; }

bool truthy(const Value& v) {
  switch (v.type()) {
    case Type::kUndefined:
    case Type::kNone:
      return false;
    case Type::kBool:
      return v.get_bool();
    case Type::kInt:
      return v.get_int() != 0;
    case Type::kFloat:
      return v.get_float() != 0;
    case Type::kString:
      return !v.get_string().empty();
    case Type::kList:
      return !v.get_list().empty();
    case Type::kDict:
      return v.get_dict().size() != 0;
    case Type::kObject:
      return true;
  }
  return false;
}

std::string to_str(const Value& v) {
  switch (v.type()) {
    case Type::kUndefined:
      return {};
    case Type::kString:
      return v.get_string();
    default:
      return repr(v);
  }
}

namespace {

std::string join_reprs(const List& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += repr(items[i]);
  }
  return out;
}

}  // namespace

std::string repr(const Value& v) {
  switch (v.type()) {
    case Type::kUndefined:
      return "Undefined";
    case Type::kNone:
      return "None";
    case Type::kBool:
      return v.get_bool() ? "True" : "False";
    case Type::kInt:
      return std::to_string(v.get_int());
    case Type::kFloat:
      return py_float_repr(v.get_float());
    case Type::kString:
      return v.markup() ? wrap("Markup(", py_repr(v.get_string()), ")") : py_repr(v.get_string());
    case Type::kList: {
      const List& items = v.get_list();
      switch (v.list_kind()) {
        case ListKind::kList:
          return wrap("[", join_reprs(items), "]");
        case ListKind::kTuple:
          return wrap("(", join_reprs(items), items.size() == 1 ? ",)" : ")");
        case ListKind::kDictKeys:
          return wrap("dict_keys([", join_reprs(items), "])");
        case ListKind::kDictValues:
          return wrap("dict_values([", join_reprs(items), "])");
        case ListKind::kDictItems:
          return wrap("dict_items([", join_reprs(items), "])");
        case ListKind::kRange:
          fault(ErrorCode::kUnsupported, "printing a range object (use |list)");
      }
      return {};
    }
    case Type::kDict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, value] : v.get_dict().entries()) {
        if (!first) out += ", ";
        first = false;
        out += repr(key) + ": " + repr(value);
      }
      return out + "}";
    }
    case Type::kObject:
      return v.get_object().repr();
  }
  return {};
}

namespace {

bool same_sequence_kind(const Value& a, const Value& b) {
  const auto family = [](ListKind k) {
    return k == ListKind::kList ? 0 : k == ListKind::kTuple ? 1 : k == ListKind::kRange ? 3 : 2;
  };
  return family(a.list_kind()) == family(b.list_kind());
}

}  // namespace

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.get_int() == b.get_int();
    return a.get_float() == b.get_float();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Type::kUndefined:
    case Type::kNone:
      return true;
    case Type::kString:
      return a.get_string() == b.get_string();
    case Type::kList: {
      if (!same_sequence_kind(a, b)) return false;
      const List& x = a.get_list();
      const List& y = b.get_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case Type::kDict: {
      const Dict& x = a.get_dict();
      const Dict& y = b.get_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [key, value] : x.entries()) {
        const Value* other = y.find(key);
        if (!other || !equals(value, *other)) return false;
      }
      return true;
    }
    case Type::kObject:
      return a.object_ptr() == b.object_ptr();
    default:
      return false;
  }
}

int compare(const Value& a, const Value& b, std::string_view op) {
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.get_int() < b.get_int() ? -1 : (a.get_int() > b.get_int() ? 1 : 0);
    const double x = a.get_float(), y = b.get_float();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    // UTF-8 byte order is code point order.
    const int c = a.get_string().compare(b.get_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  const auto orderable = [](const Value& v) {
    return v.list_kind() == ListKind::kList || v.list_kind() == ListKind::kTuple;
  };
  if (a.is_list() && b.is_list() && same_sequence_kind(a, b) && orderable(a)) {
    const List& x = a.get_list();
    const List& y = b.get_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals(x[i], y[i])) return compare(x[i], y[i], op);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  fault(ErrorCode::kInvalidArgument, "'{}' not supported between instances of '{}' and '{}'", op, type_name(a),
        type_name(b));
}

std::string hash_key(const Value& v) {
  switch (v.type()) {
    case Type::kUndefined:
      return "U";
    case Type::kNone:
      return "N";
    case Type::kBool:
    case Type::kInt:
      return std::string("n").append(std::to_string(v.get_int()));
    case Type::kFloat: {
      const double f = v.get_float();
      if (std::isfinite(f) && f == std::floor(f) && std::fabs(f) < 9.2e18) {
        return std::string("n").append(std::to_string(static_cast<int64_t>(f)));
      }
      return std::string("f").append(py_float_repr(f));
    }
    case Type::kString:
      return "s" + v.get_string();
    case Type::kList:
      if (v.list_kind() == ListKind::kTuple) {
        std::string key = "t(";
        for (const Value& item : v.get_list()) {
          const std::string k = hash_key(item);
          key += std::to_string(k.size()) + ":" + k;
        }
        return key + ")";
      }
      break;
    case Type::kObject:
      if (!is_generator(v) && !dynamic_cast<Namespace*>(&v.get_object())) {
        return fmt::format("o{}", static_cast<const void*>(v.object_ptr().get()));
      }
      break;
    default:
      break;
  }
  fault(ErrorCode::kInvalidArgument, "unhashable type: '{}'", type_name(v));
}

std::string type_name(const Value& v) {
  switch (v.type()) {
    case Type::kUndefined:
      return "Undefined";
    case Type::kNone:
      return "NoneType";
    case Type::kBool:
      return "bool";
    case Type::kInt:
      return "int";
    case Type::kFloat:
      return "float";
    case Type::kString:
      return v.markup() ? "Markup" : "str";
    case Type::kList:
      switch (v.list_kind()) {
        case ListKind::kList:
          return "list";
        case ListKind::kTuple:
          return "tuple";
        case ListKind::kDictKeys:
          return "dict_keys";
        case ListKind::kDictValues:
          return "dict_values";
        case ListKind::kDictItems:
          return "dict_items";
        case ListKind::kRange:
          return "range";
      }
      return "list";
    case Type::kDict:
      return "dict";
    case Type::kObject:
      return v.get_object().type_name();
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  return type_name(v) + " object";
}

void raise_undefined(const Value& v) { throw Fault{ErrorCode::kInvalidArgument, v.undefined_message()}; }

int64_t length(const Value& v) {
  switch (v.type()) {
    case Type::kUndefined:
      return 0;
    case Type::kString:
      return static_cast<int64_t>(codepoint_count(v.get_string()));
    case Type::kList:
      return static_cast<int64_t>(v.get_list().size());
    case Type::kDict:
      return static_cast<int64_t>(v.get_dict().size());
    case Type::kObject:
      if (auto* ns = dynamic_cast<Namespace*>(&v.get_object())) return static_cast<int64_t>(ns->attributes.size());
      break;
    default:
      break;
  }
  fault(ErrorCode::kInvalidArgument, "object of type '{}' has no len()", type_name(v));
}

List iterate(const Value& v) {
  switch (v.type()) {
    case Type::kUndefined:
      return {};
    case Type::kString: {
      List chars;
      const std::string& s = v.get_string();
      for (size_t pos = 0; pos < s.size();) {
        const size_t start = pos;
        next_codepoint(s, pos);
        chars.push_back(Value::string(s.substr(start, pos - start)));
      }
      return chars;
    }
    case Type::kList:
      return v.get_list();
    case Type::kDict: {
      List keys;
      keys.reserve(v.get_dict().size());
      for (const auto& entry : v.get_dict().entries()) keys.push_back(entry.first);
      return keys;
    }
    case Type::kObject:
      if (auto* gen = dynamic_cast<Generator*>(&v.get_object())) return gen->take_rest();
      break;
    default:
      break;
  }
  fault(ErrorCode::kInvalidArgument, "'{}' object is not iterable", type_name(v));
}

}  // namespace llmrt::genai::jinja
