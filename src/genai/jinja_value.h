// Values of the chat-template interpreter: the part of Python's data model that Jinja
// templates see. Undefined is distinct from None (jinja2's plain Undefined: falsy, prints as
// "", most other uses raise); ints are 64-bit (overflow is an error, not a bignum); dicts keep
// insertion order; lists, tuples and dict views are one type with a kind that decides how
// they print. Strings, lists and dicts are immutable and shared (the template runs in
// jinja2's ImmutableSandboxedEnvironment, so a template cannot mutate them); namespaces,
// loop objects and generators are the mutable objects.
//
// Thread-safety: a Value is shared only inside one render; values parsed into a template
// (literals) are immutable and may be read concurrently.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "llmrt/error.hpp"

namespace llmrt::genai::jinja {

class Value;
class Dict;
class Object;
class Interpreter;
using List = std::vector<Value>;

// A failure while rendering, before the evaluator attaches the template line to it and turns
// it into an llmrt::Error.
struct Fault {
  ErrorCode code;
  std::string message;
};

template <class... Args>
[[noreturn]] void fault(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  throw Fault{code, fmt::format(format, std::forward<Args>(args)...)};
}

// Lists and dicts nest at most this deep (JSON input included).
constexpr int kMaxValueDepth = 200;

enum class Type : uint8_t { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kObject };

// Which Python sequence a list value is: decides repr(), equality and what else works.
enum class ListKind : uint8_t { kList, kTuple, kDictKeys, kDictValues, kDictItems, kRange };

class Value {
 public:
  Value() = default;  // undefined
  // An undefined value that raises `message` when used ("'x' is undefined").
  static Value undefined(std::string message);
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value floating(double f);
  // `markup`: a markupsafe.Markup string (from |safe or |escape); `+` escapes the other side.
  static Value string(std::string s, bool markup = false);
  static Value list(List items, ListKind kind = ListKind::kList);
  static Value dict(Dict d);
  static Value object(std::shared_ptr<Object> o);

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::kUndefined; }
  bool is_none() const { return type_ == Type::kNone; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_float() const { return type_ == Type::kFloat; }
  bool is_number() const { return type_ == Type::kBool || type_ == Type::kInt || type_ == Type::kFloat; }
  bool is_integral() const { return type_ == Type::kBool || type_ == Type::kInt; }  // Python int, bool included
  bool is_string() const { return type_ == Type::kString; }
  bool is_list() const { return type_ == Type::kList; }
  bool is_dict() const { return type_ == Type::kDict; }
  bool is_object() const { return type_ == Type::kObject; }

  bool get_bool() const { return scalar_.b; }
  int64_t get_int() const { return type_ == Type::kBool ? (scalar_.b ? 1 : 0) : scalar_.i; }  // int or bool
  double get_float() const { return type_ == Type::kFloat ? scalar_.f : static_cast<double>(get_int()); }
  const std::string& get_string() const { return *static_cast<const std::string*>(ptr_.get()); }
  bool markup() const { return type_ == Type::kString && flag_ != 0; }
  const List& get_list() const { return *static_cast<const List*>(ptr_.get()); }
  ListKind list_kind() const { return static_cast<ListKind>(flag_); }
  const Dict& get_dict() const { return *static_cast<const Dict*>(ptr_.get()); }
  Object& get_object() const;
  std::shared_ptr<Object> object_ptr() const;
  // Python's `is`: the same object (or the same singleton/small int).
  bool identical(const Value& other) const;
  // The message raised when an undefined value is used.
  std::string undefined_message() const;
  // Nesting depth of lists and dicts (0 for anything else), bounded by kMaxValueDepth so
  // that printing, comparing and freeing a value cannot exhaust the stack.
  int depth() const { return depth_; }

 private:
  Type type_ = Type::kUndefined;
  uint8_t flag_ = 0;  // strings: markup; lists: ListKind
  uint16_t depth_ = 0;
  union {
    bool b;
    int64_t i;
    double f;
  } scalar_{};
  std::shared_ptr<const void> ptr_;  // string, List, Dict, Object, or an undefined's message
};

// An insertion-ordered dict. Keys are hashable values (str, int, float, bool, None, tuples of
// those); 1, 1.0 and True are the same key, as in Python.
class Dict {
 public:
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(const Value& key, Value value);
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<Value, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;  // hash_key(key) -> position
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// One parameter of a builtin: a name and a default (required when `required`).
struct Param {
  std::string_view name;
  Value default_value = Value::none();
  bool required = false;
};
inline Param required(std::string_view name) { return Param{name, Value(), true}; }

// Binds positional and keyword arguments to `params` the way Python does; extra, unknown or
// missing arguments raise naming `what` ("filter 'join'").
std::vector<Value> bind_args(const CallArgs& args, std::initializer_list<Param> params, std::string_view what);

// Objects with identity: namespaces, loop objects, macros, builtins, bound methods, generators.
class Object {
 public:
  virtual ~Object() = default;
  virtual std::string type_name() const = 0;
  // Python prints most objects with their address ("<function f at 0x7f...>"), which no
  // template can mean: those raise UNSUPPORTED; objects with a stable repr override this.
  virtual std::string repr() const;
  // The attribute, or nullopt when the object has none of that name.
  virtual std::optional<Value> attribute(std::string_view name) const;
  virtual bool callable() const { return false; }
  virtual Value call(Interpreter& interp, const CallArgs& args);
};

// namespace(...): the one object a template may assign attributes to ({% set ns.x = 1 %}).
class Namespace : public Object {
 public:
  std::string type_name() const override { return "Namespace"; }
  std::string repr() const override;
  std::optional<Value> attribute(std::string_view name) const override;
  Dict attributes;
};

// What map/select/reject/selectattr/rejectattr/unique and the |items filter return in jinja2:
// a one-pass iterator. Always true, has no len(), and iterating it consumes it.
class Generator : public Object {
 public:
  explicit Generator(List items) : items_(std::move(items)) {}
  std::string type_name() const override { return "generator"; }
  std::string repr() const override;
  List take_rest();
  std::optional<Value> take_one();

 private:
  List items_;
  size_t position_ = 0;
};

Value make_generator(List items);
bool is_generator(const Value& v);

// Python semantics.
bool truthy(const Value& v);
std::string to_str(const Value& v);  // str(); undefined prints as ""
std::string repr(const Value& v);
bool equals(const Value& a, const Value& b);
// Python's ordering for < <= > >=; raises TypeError for types that do not order.
int compare(const Value& a, const Value& b, std::string_view op);
// The key a dict uses; raises TypeError for unhashable values (lists, dicts).
std::string hash_key(const Value& v);
std::string type_name(const Value& v);          // "str", "int", "NoneType", "dict", ...
std::string object_type_repr(const Value& v);   // jinja2's "dict object", "None", ...
[[noreturn]] void raise_undefined(const Value& v);
// len(): str in code points; undefined has length 0.
int64_t length(const Value& v);
// The items a for loop or a filter sees: a dict's keys, a string's characters, nothing for
// undefined. Consumes generators.
List iterate(const Value& v);

}  // namespace llmrt::genai::jinja
