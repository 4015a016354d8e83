// The syntax tree the parser builds and the interpreter walks. Nodes own their children;
// the tree is immutable after parsing, so renders may share it across threads.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "genai/jinja_value.h"

namespace llmrt::genai::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

using FilterFn = Value (*)(Interpreter& interp, const Value& operand, const CallArgs& args);
using TestFn = bool (*)(Interpreter& interp, const Value& operand, const CallArgs& args);

enum class ExprKind : uint8_t {
  kLiteral,
  kName,
  kList,
  kTuple,
  kDict,
  kGetAttr,
  kGetItem,
  kSlice,
  kCall,
  kFilter,
  kTest,
  kNot,
  kNeg,
  kPos,
  kBinary,
  kAnd,
  kOr,
  kCompare,
  kCondition,
};

enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kConcat };
enum class CompareOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

struct Expr {
  Expr(ExprKind k, int l) : kind(k), line(l) {}
  virtual ~Expr() = default;
  ExprKind kind;
  int line;
  int depth = 1;  // height of this subtree, bounded at parse time
};

struct Arguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct LiteralExpr : Expr {
  LiteralExpr(int l, Value v) : Expr(ExprKind::kLiteral, l), value(std::move(v)) {}
  Value value;
};

struct NameExpr : Expr {
  NameExpr(int l, std::string n) : Expr(ExprKind::kName, l), name(std::move(n)) {}
  std::string name;
};

// List and tuple displays.
struct SequenceExpr : Expr {
  using Expr::Expr;
  std::vector<ExprPtr> items;
};

struct DictExpr : Expr {
  explicit DictExpr(int l) : Expr(ExprKind::kDict, l) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};

struct GetAttrExpr : Expr {
  GetAttrExpr(int l, ExprPtr o, std::string n) : Expr(ExprKind::kGetAttr, l), object(std::move(o)), name(std::move(n)) {}
  ExprPtr object;
  std::string name;
};

struct GetItemExpr : Expr {
  GetItemExpr(int l, ExprPtr o, ExprPtr i) : Expr(ExprKind::kGetItem, l), object(std::move(o)), index(std::move(i)) {}
  ExprPtr object;
  ExprPtr index;
};

// object[start:stop:step]; absent parts are null.
struct SliceExpr : Expr {
  explicit SliceExpr(int l) : Expr(ExprKind::kSlice, l) {}
  ExprPtr object, start, stop, step;
};

struct CallExpr : Expr {
  CallExpr(int l, ExprPtr c) : Expr(ExprKind::kCall, l), callee(std::move(c)) {}
  ExprPtr callee;
  Arguments args;
};

// One filter application; `fn` is null for a filter jinja2 does not know that sits where
// jinja2 only complains when it runs (inside an if).
struct FilterCall {
  std::string name;
  FilterFn fn = nullptr;
  Arguments args;
  int line = 0;
};

struct FilterExpr : Expr {
  FilterExpr(int l, ExprPtr o) : Expr(ExprKind::kFilter, l), operand(std::move(o)) {}
  ExprPtr operand;
  FilterCall filter;
};

struct TestExpr : Expr {
  TestExpr(int l, ExprPtr o) : Expr(ExprKind::kTest, l), operand(std::move(o)) {}
  ExprPtr operand;
  std::string name;
  TestFn fn = nullptr;  // null: unknown test, raised when evaluated (as jinja2 does inside an if)
  Arguments args;
};

// not / unary - / unary +.
struct UnaryExpr : Expr {
  UnaryExpr(ExprKind k, int l, ExprPtr o) : Expr(k, l), operand(std::move(o)) {}
  ExprPtr operand;
};

// Arithmetic, ~, and the short-circuit `and`/`or` (kind kAnd/kOr, op unused).
struct BinaryExpr : Expr {
  BinaryExpr(ExprKind k, int l, BinaryOp o, ExprPtr a, ExprPtr b)
      : Expr(k, l), op(o), left(std::move(a)), right(std::move(b)) {}
  BinaryOp op;
  ExprPtr left, right;
};

// a < b <= c: Python's chained comparison.
struct CompareExpr : Expr {
  CompareExpr(int l, ExprPtr f) : Expr(ExprKind::kCompare, l), first(std::move(f)) {}
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};

// `then if test else otherwise`; a missing else yields undefined.
struct ConditionExpr : Expr {
  explicit ConditionExpr(int l) : Expr(ExprKind::kCondition, l) {}
  ExprPtr test, then, otherwise;
};

// Names a frame (template, loop body, macro, ...) assigns before jinja2 lets it see any
// outer value: jinja2 decides at compile time which names a frame owns, and an owned name
// that was neither read earlier in the frame nor known to an enclosing frame starts out
// undefined, even when the caller passed a variable of that name. See jinja_scopes.h.
using UnboundNames = std::vector<std::string>;

// The left side of set/for/with: a name, a tuple of targets, or a namespace attribute.
struct Target {
  enum class Kind : uint8_t { kName, kTuple, kNamespaceAttr };
  Kind kind = Kind::kName;
  std::string name;
  std::string attr;
  std::vector<Target> items;
};

enum class StmtKind : uint8_t {
  kText,
  kOutput,
  kIf,
  kFor,
  kSet,
  kSetBlock,
  kMacro,
  kCallBlock,
  kFilterBlock,
  kWith,
  kScope,
  kBreak,
  kContinue,
};

struct Stmt {
  Stmt(StmtKind k, int l) : kind(k), line(l) {}
  virtual ~Stmt() = default;
  StmtKind kind;
  int line;
};

struct TextStmt : Stmt {
  TextStmt(int l, std::string t) : Stmt(StmtKind::kText, l), text(std::move(t)) {}
  std::string text;
};

struct OutputStmt : Stmt {
  OutputStmt(int l, ExprPtr e) : Stmt(StmtKind::kOutput, l), expr(std::move(e)) {}
  ExprPtr expr;
};

struct IfStmt : Stmt {
  explicit IfStmt(int l) : Stmt(StmtKind::kIf, l) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
  Body otherwise;
};

struct ForStmt : Stmt {
  explicit ForStmt(int l) : Stmt(StmtKind::kFor, l) {}
  Target target;
  ExprPtr iterable;
  ExprPtr filter;  // for x in y if filter
  Body body;
  Body otherwise;
  // The body defines a macro or call block, which may outlive the iteration's scope.
  bool body_captures_scope = false;
  UnboundNames body_unbound, else_unbound;
};

struct SetStmt : Stmt {
  explicit SetStmt(int l) : Stmt(StmtKind::kSet, l) {}
  Target target;
  ExprPtr value;
};

// {% set x %}...{% endset %}, optionally {% set x | filter %}.
struct SetBlockStmt : Stmt {
  explicit SetBlockStmt(int l) : Stmt(StmtKind::kSetBlock, l) {}
  Target target;
  std::vector<FilterCall> filters;
  Body body;  // runs in a scope of its own, as in jinja2
  bool body_captures_scope = false;
  UnboundNames unbound;
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null: required
};

// {% macro %}, and the anonymous `caller` of a call block.
struct MacroStmt : Stmt {
  explicit MacroStmt(int l) : Stmt(StmtKind::kMacro, l) {}
  std::string name;
  std::vector<MacroParam> params;
  Body body;
  bool uses_caller = false;
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool body_captures_scope = false;
  UnboundNames unbound;
};

struct CallBlockStmt : Stmt {
  explicit CallBlockStmt(int l) : Stmt(StmtKind::kCallBlock, l) {}
  std::unique_ptr<CallExpr> call;
  MacroStmt caller{0};
};

struct FilterBlockStmt : Stmt {
  explicit FilterBlockStmt(int l) : Stmt(StmtKind::kFilterBlock, l) {}
  std::vector<FilterCall> filters;
  Body body;  // runs in a scope of its own, as in jinja2
  bool body_captures_scope = false;
  UnboundNames unbound;
};

// {% with %} (assignments evaluated outside, bound inside) and {% generation %} (no
// assignments): a body in a scope of its own.
struct ScopeStmt : Stmt {
  ScopeStmt(StmtKind k, int l) : Stmt(k, l) {}
  std::vector<std::pair<Target, ExprPtr>> assignments;
  Body body;
  bool body_captures_scope = false;
  UnboundNames unbound;
};

// A parsed template: its body and the names its top level starts without.
struct Program {
  Body body;
  UnboundNames unbound;
};

}  // namespace llmrt::genai::jinja
