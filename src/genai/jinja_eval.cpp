#include "genai/jinja_eval.h"

#include <unordered_map>

#include "genai/jinja_builtins.h"
#include "genai/jinja_ops.h"
#include "util/error.h"

namespace llmrt::genai::jinja {

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Scopes kept alive for macros defined inside loops, macros and with blocks.
constexpr size_t kMaxKeptScopes = 100'000;

}  // namespace

struct Scope {
  Scope* parent = nullptr;
  std::unordered_map<std::string, Value, StringHash, std::equal_to<>> vars;

  const Value* find(std::string_view name) const {
    for (const Scope* s = this; s; s = s->parent) {
      const auto it = s->vars.find(name);
      if (it != s->vars.end()) return &it->second;
    }
    return nullptr;
  }
  void set(std::string_view name, Value value) { vars.insert_or_assign(std::string(name), std::move(value)); }
};

namespace {

class MacroObject : public Object {
 public:
  MacroObject(const MacroStmt& def, Scope* closure) : def_(def), closure_(closure) {}
  std::string type_name() const override { return "Macro"; }
  std::string repr() const override { return fmt::format("<Macro '{}'>", def_.name); }
  bool callable() const override { return true; }
  Value call(Interpreter& interp, const CallArgs& args) override { return interp.call_macro(def_, closure_, args); }
  std::optional<Value> attribute(std::string_view name) const override {
    if (name == "name") return Value::string(def_.name);
    if (name == "arguments") {
      List names;
      for (const MacroParam& p : def_.params) names.push_back(Value::string(p.name));
      return Value::list(std::move(names), ListKind::kTuple);
    }
    if (name == "catch_kwargs") return Value::boolean(def_.uses_kwargs);
    if (name == "catch_varargs") return Value::boolean(def_.uses_varargs);
    if (name == "caller") return Value::boolean(def_.uses_caller);
    return std::nullopt;
  }

 private:
  const MacroStmt& def_;
  Scope* closure_;  // owned by the interpreter for the whole render
};

// jinja2's LoopContext: loop.index, loop.first, loop.cycle(...), ...
class LoopObject : public Object, public std::enable_shared_from_this<LoopObject> {
 public:
  explicit LoopObject(std::shared_ptr<const List> items) : items_(std::move(items)) {}
  std::string type_name() const override { return "LoopContext"; }
  std::string repr() const override { return fmt::format("<LoopContext {}/{}>", index0 + 1, items_->size()); }
  std::optional<Value> attribute(std::string_view name) const override;
  Value cycle(const CallArgs& args) const {
    if (args.positional.empty()) fault(ErrorCode::kInvalidArgument, "no items for cycling given");
    return args.positional[index0 % args.positional.size()];
  }
  Value changed(const CallArgs& args) {
    Value current = Value::list(args.positional, ListKind::kTuple);
    if (has_last_ && equals(last_, current)) return Value::boolean(false);
    last_ = std::move(current);
    has_last_ = true;
    return Value::boolean(true);
  }

  size_t index0 = 0;

 private:
  std::shared_ptr<const List> items_;
  Value last_;
  bool has_last_ = false;
};

class LoopMethod : public Object {
 public:
  LoopMethod(std::shared_ptr<LoopObject> loop, bool is_cycle) : loop_(std::move(loop)), is_cycle_(is_cycle) {}
  std::string type_name() const override { return "method"; }
  bool callable() const override { return true; }
  Value call(Interpreter&, const CallArgs& args) override {
    if (!args.keyword.empty()) fault(ErrorCode::kInvalidArgument, "loop methods take no keyword arguments");
    return is_cycle_ ? loop_->cycle(args) : loop_->changed(args);
  }

 private:
  std::shared_ptr<LoopObject> loop_;
  bool is_cycle_;
};

std::optional<Value> LoopObject::attribute(std::string_view name) const {
  const int64_t n = static_cast<int64_t>(items_->size());
  const int64_t i = static_cast<int64_t>(index0);
  if (name == "index") return Value::integer(i + 1);
  if (name == "index0") return Value::integer(i);
  if (name == "revindex") return Value::integer(n - i);
  if (name == "revindex0") return Value::integer(n - i - 1);
  if (name == "first") return Value::boolean(i == 0);
  if (name == "last") return Value::boolean(i == n - 1);
  if (name == "length") return Value::integer(n);
  if (name == "depth") return Value::integer(1);
  if (name == "depth0") return Value::integer(0);
  if (name == "previtem") {
    return i > 0 ? (*items_)[index0 - 1] : Value::undefined("there is no previous item");
  }
  if (name == "nextitem") {
    return i + 1 < n ? (*items_)[index0 + 1] : Value::undefined("there is no next item");
  }
  if (name == "cycle" || name == "changed") {
    // A bound method keeps its loop alive; the loop object is always owned by a shared_ptr.
    auto self = std::const_pointer_cast<LoopObject>(shared_from_this());
    return Value::object(std::make_shared<LoopMethod>(std::move(self), name == "cycle"));
  }
  return std::nullopt;
}

// Restores the output buffer when a capture ends, also by exception.
struct OutputSwap {
  OutputSwap(std::string*& slot, std::string* buffer) : slot_(slot), saved_(slot) { slot_ = buffer; }
  ~OutputSwap() { slot_ = saved_; }
  std::string*& slot_;
  std::string* saved_;
};

struct DepthGuard {
  explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
  ~DepthGuard() { --depth_; }
  int& depth_;
};

}  // namespace

Interpreter::Interpreter(const RenderOptions& options) : options_(options) {}

Interpreter::~Interpreter() {
  // Break reference cycles through namespaces (ns.x = [ns]) so the render frees everything.
  for (const auto& ns : namespaces_) ns->attributes = Dict();
}

namespace {

// jinja2 starts these names as missing in the frame (see jinja_scopes.h).
void bind_unbound(Scope& scope, const UnboundNames& names) {
  for (const std::string& name : names) scope.set(name, Value::undefined(fmt::format("'{}' is undefined", name)));
}

}  // namespace

std::string Interpreter::render(const Program& program, const Dict& variables) {
  Scope top;
  for (const auto& [key, value] : variables.entries()) top.set(to_str(key), value);
  bind_unbound(top, program.unbound);
  std::string out;
  OutputSwap swap(out_, &out);
  try {
    exec_body(program.body, &top);
  } catch (const Fault& f) {
    fail(f.code, "{}", f.message);
  }
  return out;
}

Scope* Interpreter::new_scope(Scope* parent) {
  if (arena_.size() >= kMaxKeptScopes) {
    fault(ErrorCode::kOutOfRange, "template keeps more than {} scopes alive (macros defined in loops)", kMaxKeptScopes);
  }
  arena_.push_back(std::make_unique<Scope>());
  arena_.back()->parent = parent;
  return arena_.back().get();
}

void Interpreter::charge(int64_t units) {
  steps_ += units;
  if (steps_ > kMaxSteps) fault(ErrorCode::kOutOfRange, "template needs more than {} evaluation steps", kMaxSteps);
}

void Interpreter::check_size(size_t bytes) const {
  if (bytes > kMaxOutputBytes) fault(ErrorCode::kOutOfRange, "string longer than {} bytes", kMaxOutputBytes);
}

std::tm Interpreter::now() const {
  if (options_.now) return *options_.now;
  const std::time_t t = std::time(nullptr);
  std::tm local{};
  localtime_r(&t, &local);
  return local;
}

std::shared_ptr<Namespace> Interpreter::make_namespace() {
  auto ns = std::make_shared<Namespace>();
  namespaces_.push_back(ns);
  return ns;
}

void Interpreter::write(std::string_view text) {
  if (out_->size() + text.size() > kMaxOutputBytes) {
    fault(ErrorCode::kOutOfRange, "template output longer than {} bytes", kMaxOutputBytes);
  }
  out_->append(text);
}

Value Interpreter::call(const Value& callee, const CallArgs& args) {
  if (callee.is_undefined()) raise_undefined(callee);
  if (callee.is_object() && callee.get_object().callable()) return callee.get_object().call(*this, args);
  fault(ErrorCode::kInvalidArgument, "'{}' object is not callable", type_name(callee));
}

Value Interpreter::call_macro(const MacroStmt& def, Scope* closure, const CallArgs& args) {
  if (call_depth_ >= kMaxCallDepth) {
    fault(ErrorCode::kOutOfRange, "macro calls nested more than {} deep (recursive macro '{}')", kMaxCallDepth, def.name);
  }
  DepthGuard depth(call_depth_);
  charge(1);
  Scope local;
  local.parent = closure;
  Scope* scope = def.body_captures_scope ? new_scope(closure) : &local;

  const size_t n = def.params.size();
  std::vector<bool> given(n, false);
  List varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < n) {
      scope->set(def.params[i].name, args.positional[i]);
      given[i] = true;
    } else if (def.uses_varargs) {
      varargs.push_back(args.positional[i]);
    } else {
      fault(ErrorCode::kInvalidArgument, "macro '{}' takes not more than {} argument(s)", def.name, n);
    }
  }
  Dict kwargs;
  Value caller = Value::undefined("No caller defined");
  for (const auto& [name, value] : args.keyword) {
    size_t i = 0;
    while (i < n && def.params[i].name != name) ++i;
    if (i < n) {
      if (given[i]) fault(ErrorCode::kInvalidArgument, "macro '{}' got multiple values for argument '{}'", def.name, name);
      scope->set(name, value);
      given[i] = true;
    } else if (name == "caller" && def.uses_caller) {
      caller = value;
    } else if (def.uses_kwargs) {
      kwargs.set(Value::string(name), value);
    } else {
      fault(ErrorCode::kInvalidArgument, "macro '{}' takes no keyword argument '{}'", def.name, name);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (given[i]) continue;
    const MacroParam& p = def.params[i];
    scope->set(p.name, p.default_value ? eval(*p.default_value, scope)
                                       : Value::undefined(fmt::format("parameter '{}' was not provided", p.name)));
  }
  if (def.uses_varargs) scope->set("varargs", Value::list(std::move(varargs), ListKind::kTuple));
  if (def.uses_kwargs) scope->set("kwargs", Value::dict(std::move(kwargs)));
  if (def.uses_caller) scope->set("caller", caller);
  bind_unbound(*scope, def.unbound);
  return Value::string(capture(def.body, scope));
}

// ---- statements ----

Interpreter::Flow Interpreter::exec_body(const Body& body, Scope* scope) {
  for (const StmtPtr& stmt : body) {
    const Flow flow = exec(*stmt, scope);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt, Scope* scope) {
  if (eval_depth_ >= kMaxEvalDepth) fail(ErrorCode::kOutOfRange, "template evaluation nested too deeply at line {}", stmt.line);
  DepthGuard depth(eval_depth_);
  try {
    charge(1);
    return exec_stmt(stmt, scope);
  } catch (const Fault& f) {
    fail(f.code, "{} at line {}", f.message, stmt.line);
  }
}

Interpreter::Flow Interpreter::exec_stmt(const Stmt& stmt, Scope* scope) {
  Flow flow = Flow::kNormal;
  switch (stmt.kind) {
    case StmtKind::kText:
      write(static_cast<const TextStmt&>(stmt).text);
      break;
    case StmtKind::kOutput:
      write(to_str(eval(*static_cast<const OutputStmt&>(stmt).expr, scope)));
      break;
    case StmtKind::kIf:
      exec_if(static_cast<const IfStmt&>(stmt), scope, flow);
      break;
    case StmtKind::kFor:
      exec_for(static_cast<const ForStmt&>(stmt), scope, flow);
      break;
    case StmtKind::kSet:
      exec_set(static_cast<const SetStmt&>(stmt), scope);
      break;
    case StmtKind::kSetBlock:
      exec_set_block(static_cast<const SetBlockStmt&>(stmt), scope);
      break;
    case StmtKind::kMacro:
      exec_macro(static_cast<const MacroStmt&>(stmt), scope);
      break;
    case StmtKind::kCallBlock:
      exec_call_block(static_cast<const CallBlockStmt&>(stmt), scope);
      break;
    case StmtKind::kFilterBlock:
      exec_filter_block(static_cast<const FilterBlockStmt&>(stmt), scope);
      break;
    case StmtKind::kWith:
    case StmtKind::kScope:
      exec_scope(static_cast<const ScopeStmt&>(stmt), scope);
      break;
    case StmtKind::kBreak:
      return Flow::kBreak;
    case StmtKind::kContinue:
      return Flow::kContinue;
  }
  return flow;
}

void Interpreter::exec_if(const IfStmt& stmt, Scope* scope, Flow& flow) {
  for (const auto& [test, body] : stmt.branches) {
    if (truthy(eval(*test, scope))) {
      flow = exec_body(body, scope);
      return;
    }
  }
  flow = exec_body(stmt.otherwise, scope);
}

void Interpreter::exec_for(const ForStmt& stmt, Scope* scope, Flow& flow) {
  auto items = std::make_shared<List>(iterate(eval(*stmt.iterable, scope)));
  Scope reused;
  reused.parent = scope;
  if (stmt.filter) {
    List kept;
    for (Value& item : *items) {
      charge(1);
      reused.vars.clear();
      assign(stmt.target, item, &reused);
      if (truthy(eval(*stmt.filter, &reused))) kept.push_back(std::move(item));
    }
    *items = std::move(kept);
  }
  auto loop = std::make_shared<LoopObject>(items);
  const Value loop_value = Value::object(loop);
  // jinja2 runs the else block unless some iteration reached the end of the body: a loop
  // whose every iteration ends in break or continue runs it too.
  bool completed_an_iteration = false;
  for (size_t i = 0; i < items->size(); ++i) {
    if (++iterations_ > kMaxLoopIterations) {
      fault(ErrorCode::kOutOfRange, "template runs more than {} loop iterations", kMaxLoopIterations);
    }
    charge(1);
    Scope* iteration = &reused;
    if (stmt.body_captures_scope) {
      iteration = new_scope(scope);
    } else {
      reused.vars.clear();
    }
    loop->index0 = i;
    assign(stmt.target, (*items)[i], iteration);
    iteration->set("loop", loop_value);
    bind_unbound(*iteration, stmt.body_unbound);
    const Flow body_flow = exec_body(stmt.body, iteration);
    if (body_flow == Flow::kBreak) break;
    completed_an_iteration |= body_flow == Flow::kNormal;
  }
  flow = Flow::kNormal;
  if (!completed_an_iteration && !stmt.otherwise.empty()) {
    reused.vars.clear();
    Scope* otherwise = stmt.body_captures_scope ? new_scope(scope) : &reused;
    bind_unbound(*otherwise, stmt.else_unbound);
    flow = exec_body(stmt.otherwise, otherwise);
  }
}

void Interpreter::assign(const Target& target, const Value& value, Scope* scope) {
  switch (target.kind) {
    case Target::Kind::kName:
      scope->set(target.name, value);
      return;
    case Target::Kind::kTuple: {
      const List items = iterate(value);
      if (items.size() != target.items.size()) {
        if (items.size() > target.items.size()) {
          fault(ErrorCode::kInvalidArgument, "too many values to unpack (expected {})", target.items.size());
        }
        fault(ErrorCode::kInvalidArgument, "not enough values to unpack (expected {}, got {})", target.items.size(),
              items.size());
      }
      for (size_t i = 0; i < items.size(); ++i) assign(target.items[i], items[i], scope);
      return;
    }
    case Target::Kind::kNamespaceAttr: {
      const Value* ns = scope->find(target.name);
      Namespace* object = ns && ns->is_object() ? dynamic_cast<Namespace*>(&ns->get_object()) : nullptr;
      if (!object) fault(ErrorCode::kInvalidArgument, "cannot assign attribute on non-namespace object");
      object->attributes.set(Value::string(target.attr), value);
      return;
    }
  }
}

void Interpreter::exec_set(const SetStmt& stmt, Scope* scope) { assign(stmt.target, eval(*stmt.value, scope), scope); }

Scope* Interpreter::block_scope(Scope* parent, Scope& local, bool captures, const UnboundNames& unbound) {
  Scope* inner = captures ? new_scope(parent) : &local;
  inner->parent = parent;
  bind_unbound(*inner, unbound);
  return inner;
}

void Interpreter::exec_set_block(const SetBlockStmt& stmt, Scope* scope) {
  Scope local;
  const Value text = Value::string(capture(stmt.body, block_scope(scope, local, stmt.body_captures_scope, stmt.unbound)));
  assign(stmt.target, apply_filters(stmt.filters, text, scope), scope);
}

void Interpreter::exec_macro(const MacroStmt& stmt, Scope* scope) {
  scope->set(stmt.name, Value::object(std::make_shared<MacroObject>(stmt, scope)));
}

void Interpreter::exec_call_block(const CallBlockStmt& stmt, Scope* scope) {
  const Value callee = eval(*stmt.call->callee, scope);
  CallArgs args = eval_args(stmt.call->args, scope);
  args.keyword.emplace_back("caller", Value::object(std::make_shared<MacroObject>(stmt.caller, scope)));
  write(to_str(call(callee, args)));
}

void Interpreter::exec_filter_block(const FilterBlockStmt& stmt, Scope* scope) {
  Scope local;
  const Value text = Value::string(capture(stmt.body, block_scope(scope, local, stmt.body_captures_scope, stmt.unbound)));
  write(to_str(apply_filters(stmt.filters, text, scope)));
}

void Interpreter::exec_scope(const ScopeStmt& stmt, Scope* scope) {
  std::vector<Value> values;
  for (const auto& assignment : stmt.assignments) values.push_back(eval(*assignment.second, scope));
  Scope local;
  Scope* inner = block_scope(scope, local, stmt.body_captures_scope, stmt.unbound);
  for (size_t i = 0; i < values.size(); ++i) assign(stmt.assignments[i].first, values[i], inner);
  // A break inside {% with %} inside a loop ends the rest of the with body, as in jinja2;
  // the loop itself is not told (rare, and jinja2 compiles it into the same Python loop).
  exec_body(stmt.body, inner);
}

std::string Interpreter::capture(const Body& body, Scope* scope) {
  std::string buffer;
  OutputSwap swap(out_, &buffer);
  exec_body(body, scope);
  return buffer;
}

Value Interpreter::apply_filters(const std::vector<FilterCall>& filters, Value value, Scope* scope) {
  for (const FilterCall& f : filters) value = run_filter(f, value, scope);
  return value;
}

// ---- expressions ----

Value Interpreter::eval(const Expr& expr, Scope* scope) {
  if (eval_depth_ >= kMaxEvalDepth) fail(ErrorCode::kOutOfRange, "template evaluation nested too deeply at line {}", expr.line);
  DepthGuard depth(eval_depth_);
  try {
    charge(1);
    return eval_expr(expr, scope);
  } catch (const Fault& f) {
    fail(f.code, "{} at line {}", f.message, expr.line);
  }
}

Value Interpreter::eval_expr(const Expr& expr, Scope* scope) {
  switch (expr.kind) {
    case ExprKind::kLiteral:
      return static_cast<const LiteralExpr&>(expr).value;
    case ExprKind::kName:
      return eval_name(static_cast<const NameExpr&>(expr), scope);
    case ExprKind::kList:
    case ExprKind::kTuple:
      return eval_sequence(static_cast<const SequenceExpr&>(expr), scope);
    case ExprKind::kDict:
      return eval_dict(static_cast<const DictExpr&>(expr), scope);
    case ExprKind::kGetAttr: {
      const auto& e = static_cast<const GetAttrExpr&>(expr);
      return get_attribute(eval(*e.object, scope), e.name);
    }
    case ExprKind::kGetItem: {
      const auto& e = static_cast<const GetItemExpr&>(expr);
      const Value object = eval(*e.object, scope);
      return get_item(object, eval(*e.index, scope));
    }
    case ExprKind::kSlice:
      return eval_slice(static_cast<const SliceExpr&>(expr), scope);
    case ExprKind::kCall:
      return eval_call(static_cast<const CallExpr&>(expr), scope);
    case ExprKind::kFilter:
      return eval_filter(static_cast<const FilterExpr&>(expr), scope);
    case ExprKind::kTest:
      return eval_test(static_cast<const TestExpr&>(expr), scope);
    case ExprKind::kNot:
      return Value::boolean(!truthy(eval(*static_cast<const UnaryExpr&>(expr).operand, scope)));
    case ExprKind::kNeg:
      return negate(eval(*static_cast<const UnaryExpr&>(expr).operand, scope));
    case ExprKind::kPos:
      return unary_plus(eval(*static_cast<const UnaryExpr&>(expr).operand, scope));
    case ExprKind::kBinary: {
      const auto& e = static_cast<const BinaryExpr&>(expr);
      const Value left = eval(*e.left, scope);
      return binary_op(e.op, left, eval(*e.right, scope));
    }
    case ExprKind::kAnd: {
      const auto& e = static_cast<const BinaryExpr&>(expr);
      Value left = eval(*e.left, scope);
      return truthy(left) ? eval(*e.right, scope) : left;
    }
    case ExprKind::kOr: {
      const auto& e = static_cast<const BinaryExpr&>(expr);
      Value left = eval(*e.left, scope);
      return truthy(left) ? left : eval(*e.right, scope);
    }
    case ExprKind::kCompare:
      return eval_compare(static_cast<const CompareExpr&>(expr), scope);
    case ExprKind::kCondition:
      return eval_condition(static_cast<const ConditionExpr&>(expr), scope);
  }
  fault(ErrorCode::kInternal, "unknown expression kind");
}

Value Interpreter::eval_name(const NameExpr& expr, Scope* scope) {
  if (const Value* v = scope->find(expr.name)) return *v;
  Value global = find_global(expr.name);
  if (!global.is_undefined()) return global;
  return Value::undefined(fmt::format("'{}' is undefined", expr.name));
}

Value Interpreter::eval_sequence(const SequenceExpr& expr, Scope* scope) {
  List items;
  items.reserve(expr.items.size());
  for (const ExprPtr& item : expr.items) items.push_back(eval(*item, scope));
  return Value::list(std::move(items), expr.kind == ExprKind::kTuple ? ListKind::kTuple : ListKind::kList);
}

Value Interpreter::eval_dict(const DictExpr& expr, Scope* scope) {
  Dict d;
  for (const auto& [key, value] : expr.items) {
    Value k = eval(*key, scope);
    d.set(k, eval(*value, scope));
  }
  return Value::dict(std::move(d));
}

Value Interpreter::eval_slice(const SliceExpr& expr, Scope* scope) {
  const Value object = eval(*expr.object, scope);
  const auto part = [&](const ExprPtr& e) { return e ? eval(*e, scope) : Value::none(); };
  const Value start = part(expr.start);
  const Value stop = part(expr.stop);
  const Value step = part(expr.step);
  const Value result = slice(object, start, stop, step);
  if (result.is_list()) charge(static_cast<int64_t>(result.get_list().size()));
  return result;
}

CallArgs Interpreter::eval_args(const Arguments& args, Scope* scope) {
  CallArgs out;
  out.positional.reserve(args.positional.size());
  for (const ExprPtr& a : args.positional) out.positional.push_back(eval(*a, scope));
  for (const auto& [name, e] : args.keyword) out.keyword.emplace_back(name, eval(*e, scope));
  return out;
}

Value Interpreter::eval_call(const CallExpr& expr, Scope* scope) {
  const Value callee = eval(*expr.callee, scope);
  const CallArgs args = eval_args(expr.args, scope);
  return call(callee, args);
}

Value Interpreter::run_filter(const FilterCall& filter, const Value& operand, Scope* scope) {
  if (!filter.fn) fault(ErrorCode::kBadFormat, "no filter named '{}'", filter.name);
  const CallArgs args = eval_args(filter.args, scope);
  return filter.fn(*this, operand, args);
}

Value Interpreter::eval_filter(const FilterExpr& expr, Scope* scope) {
  const Value operand = eval(*expr.operand, scope);
  return run_filter(expr.filter, operand, scope);
}

Value Interpreter::eval_test(const TestExpr& expr, Scope* scope) {
  const Value operand = eval(*expr.operand, scope);
  if (!expr.fn) fault(ErrorCode::kBadFormat, "no test named '{}'", expr.name);
  const CallArgs args = eval_args(expr.args, scope);
  return Value::boolean(expr.fn(*this, operand, args));
}

Value Interpreter::eval_compare(const CompareExpr& expr, Scope* scope) {
  Value left = eval(*expr.first, scope);
  for (const auto& [op, right_expr] : expr.rest) {
    Value right = eval(*right_expr, scope);
    if (!compare_op(op, left, right)) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

Value Interpreter::eval_condition(const ConditionExpr& expr, Scope* scope) {
  if (truthy(eval(*expr.test, scope))) return eval(*expr.then, scope);
  if (expr.otherwise) return eval(*expr.otherwise, scope);
  return Value::undefined(fmt::format(
      "the inline if-expression on line {} evaluated to false and no else section was defined.", expr.line));
}

}  // namespace llmrt::genai::jinja
