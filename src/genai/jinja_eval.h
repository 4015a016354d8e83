// The tree-walking interpreter: runs a parsed template against variables and returns the
// text. One Interpreter per render; it owns the render's scopes, namespaces and budgets.
//
// Scoping follows jinja2: a for loop gives every iteration a fresh scope over the enclosing
// one (so {% set %} inside a loop does not leak out, hence namespace()); if blocks share
// their enclosing scope; macros see the scope they were defined in, not their caller's.
//
// Limits (a hostile template gets an OUT_OF_RANGE error, never a hang or a crash):
//   - output, and any one string a template builds, at most kMaxOutputBytes;
//   - at most kMaxLoopIterations loop iterations in one render;
//   - macro calls nest at most kMaxCallDepth deep (recursive macros);
//   - at most kMaxSteps evaluation steps (every expression, statement, loop iteration and
//     macro call is a step, and builtins add one per element or per 64 bytes they touch);
//   - evaluation recurses at most kMaxEvalDepth frames (about 300 KiB of stack in a
//     release build).
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "genai/jinja_ast.h"

namespace llmrt::genai::jinja {

constexpr size_t kMaxOutputBytes = size_t{64} << 20;
constexpr int64_t kMaxLoopIterations = 1'000'000;
constexpr int kMaxCallDepth = 40;
constexpr int64_t kMaxSteps = 50'000'000;
constexpr int kMaxEvalDepth = 1000;

struct RenderOptions {
  // What strftime_now() formats; unset means the current local time.
  std::optional<std::tm> now;
};

struct Scope;

class Interpreter {
 public:
  explicit Interpreter(const RenderOptions& options);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Runs `program` with `variables` as the top-level names. llmrt::Error on failure.
  std::string render(const Program& program, const Dict& variables);

  // ---- services for builtins ----
  Value call(const Value& callee, const CallArgs& args);
  // Adds to the step budget (builtins: one unit per element or per 64 bytes processed).
  void charge(int64_t units);
  // Raises when a string a builtin is about to build would pass kMaxOutputBytes.
  void check_size(size_t bytes) const;
  std::tm now() const;
  // namespace(): the interpreter keeps every namespace so it can break reference cycles
  // (ns.x = [ns]) when the render ends.
  std::shared_ptr<Namespace> make_namespace();
  Value call_macro(const MacroStmt& def, Scope* closure, const CallArgs& args);

 private:
  enum class Flow : uint8_t { kNormal, kBreak, kContinue };

  Flow exec_body(const Body& body, Scope* scope);
  Flow exec(const Stmt& stmt, Scope* scope);
  Flow exec_stmt(const Stmt& stmt, Scope* scope);
  void exec_if(const IfStmt& stmt, Scope* scope, Flow& flow);
  void exec_for(const ForStmt& stmt, Scope* scope, Flow& flow);
  void exec_set(const SetStmt& stmt, Scope* scope);
  void exec_set_block(const SetBlockStmt& stmt, Scope* scope);
  void exec_macro(const MacroStmt& stmt, Scope* scope);
  void exec_call_block(const CallBlockStmt& stmt, Scope* scope);
  void exec_filter_block(const FilterBlockStmt& stmt, Scope* scope);
  void exec_scope(const ScopeStmt& stmt, Scope* scope);
  std::string capture(const Body& body, Scope* scope);
  // A scope for a block body (set/filter/with), on the heap when the body defines a macro.
  Scope* block_scope(Scope* parent, Scope& local, bool captures, const UnboundNames& unbound);
  void write(std::string_view text);
  void assign(const Target& target, const Value& value, Scope* scope);
  Value apply_filters(const std::vector<FilterCall>& filters, Value value, Scope* scope);

  Value eval(const Expr& expr, Scope* scope);
  Value eval_expr(const Expr& expr, Scope* scope);
  Value eval_name(const NameExpr& expr, Scope* scope);
  Value eval_sequence(const SequenceExpr& expr, Scope* scope);
  Value eval_dict(const DictExpr& expr, Scope* scope);
  Value eval_slice(const SliceExpr& expr, Scope* scope);
  Value eval_call(const CallExpr& expr, Scope* scope);
  Value eval_filter(const FilterExpr& expr, Scope* scope);
  Value eval_test(const TestExpr& expr, Scope* scope);
  Value eval_compare(const CompareExpr& expr, Scope* scope);
  Value eval_condition(const ConditionExpr& expr, Scope* scope);
  CallArgs eval_args(const Arguments& args, Scope* scope);
  Value run_filter(const FilterCall& filter, const Value& operand, Scope* scope);

  // A scope for a body; heap (arena) only when something defined in the body can keep it.
  Scope* new_scope(Scope* parent);

  const RenderOptions& options_;
  std::string* out_ = nullptr;
  std::vector<std::unique_ptr<Scope>> arena_;  // scopes that macros may keep
  std::vector<std::shared_ptr<Namespace>> namespaces_;
  int64_t steps_ = 0;
  int64_t iterations_ = 0;
  int call_depth_ = 0;
  int eval_depth_ = 0;
};

}  // namespace llmrt::genai::jinja
