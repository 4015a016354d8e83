#include "genai/jinja_scopes.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace llmrt::genai::jinja {

namespace {

// How a frame gets a name's value on entry (jinja2's VAR_LOAD_*). Only kUndefined differs
// from looking the name up through the enclosing scopes.
enum class Load : uint8_t { kParameter, kResolve, kAlias, kUndefined };

// jinja2's Symbols, keeping only what decides kUndefined.
class Symbols {
 public:
  explicit Symbols(const Symbols* parent) : parent_(parent) {}

  bool has_ref(const std::string& name) const {
    for (const Symbols* s = this; s; s = s->parent_) {
      if (s->refs_.count(name)) return true;
    }
    return false;
  }
  void load(const std::string& name) {
    if (!has_ref(name)) refs_[name] = Load::kResolve;
  }
  void store(const std::string& name) {
    stores_.insert(name);
    if (!refs_.count(name)) refs_[name] = parent_ && parent_->has_ref(name) ? Load::kAlias : Load::kUndefined;
  }
  void parameter(const std::string& name) {
    stores_.insert(name);
    refs_[name] = Load::kParameter;
  }
  // After an if: names first assigned in a branch read the outer value (or the context).
  void branch_update(const std::vector<Symbols>& branches) {
    std::set<std::string> new_stores;
    for (const Symbols& b : branches) {
      for (const std::string& name : b.stores_) {
        if (!stores_.count(name)) new_stores.insert(name);
      }
    }
    for (const Symbols& b : branches) {
      for (const auto& [name, load] : b.refs_) refs_[name] = load;
      stores_.insert(b.stores_.begin(), b.stores_.end());
    }
    for (const std::string& name : new_stores) {
      refs_[name] = parent_ && parent_->has_ref(name) ? Load::kAlias : Load::kResolve;
    }
  }
  UnboundNames unbound() const {
    UnboundNames names;
    for (const auto& [name, load] : refs_) {
      if (load == Load::kUndefined) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  const Symbols* parent_;
  std::unordered_map<std::string, Load> refs_;
  std::unordered_set<std::string> stores_;
};

void load_names(Symbols& symbols, const Expr* e);

void load_args(Symbols& symbols, const Arguments& args) {
  for (const ExprPtr& a : args.positional) load_names(symbols, a.get());
  for (const auto& [name, a] : args.keyword) load_names(symbols, a.get());
}

// Every name an expression reads. Order inside one expression does not matter: expressions
// assign nothing.
void load_names(Symbols& symbols, const Expr* e) {
  if (!e) return;
  switch (e->kind) {
    case ExprKind::kLiteral:
      return;
    case ExprKind::kName:
      symbols.load(static_cast<const NameExpr*>(e)->name);
      return;
    case ExprKind::kList:
    case ExprKind::kTuple:
      for (const ExprPtr& item : static_cast<const SequenceExpr*>(e)->items) load_names(symbols, item.get());
      return;
    case ExprKind::kDict:
      for (const auto& [k, v] : static_cast<const DictExpr*>(e)->items) {
        load_names(symbols, k.get());
        load_names(symbols, v.get());
      }
      return;
    case ExprKind::kGetAttr:
      load_names(symbols, static_cast<const GetAttrExpr*>(e)->object.get());
      return;
    case ExprKind::kGetItem: {
      const auto* g = static_cast<const GetItemExpr*>(e);
      load_names(symbols, g->object.get());
      load_names(symbols, g->index.get());
      return;
    }
    case ExprKind::kSlice: {
      const auto* s = static_cast<const SliceExpr*>(e);
      for (const Expr* part : {s->object.get(), s->start.get(), s->stop.get(), s->step.get()}) load_names(symbols, part);
      return;
    }
    case ExprKind::kCall: {
      const auto* c = static_cast<const CallExpr*>(e);
      load_names(symbols, c->callee.get());
      load_args(symbols, c->args);
      return;
    }
    case ExprKind::kFilter: {
      const auto* f = static_cast<const FilterExpr*>(e);
      load_names(symbols, f->operand.get());
      load_args(symbols, f->filter.args);
      return;
    }
    case ExprKind::kTest: {
      const auto* t = static_cast<const TestExpr*>(e);
      load_names(symbols, t->operand.get());
      load_args(symbols, t->args);
      return;
    }
    case ExprKind::kNot:
    case ExprKind::kNeg:
    case ExprKind::kPos:
      load_names(symbols, static_cast<const UnaryExpr*>(e)->operand.get());
      return;
    case ExprKind::kBinary:
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      const auto* b = static_cast<const BinaryExpr*>(e);
      load_names(symbols, b->left.get());
      load_names(symbols, b->right.get());
      return;
    }
    case ExprKind::kCompare: {
      const auto* c = static_cast<const CompareExpr*>(e);
      load_names(symbols, c->first.get());
      for (const auto& [op, r] : c->rest) load_names(symbols, r.get());
      return;
    }
    case ExprKind::kCondition: {
      const auto* c = static_cast<const ConditionExpr*>(e);
      load_names(symbols, c->test.get());
      load_names(symbols, c->then.get());
      load_names(symbols, c->otherwise.get());
      return;
    }
  }
}

void store_target(Symbols& symbols, const Target& t) {
  switch (t.kind) {
    case Target::Kind::kName:
      symbols.store(t.name);
      return;
    case Target::Kind::kTuple:
      for (const Target& item : t.items) store_target(symbols, item);
      return;
    case Target::Kind::kNamespaceAttr:
      symbols.load(t.name);
      return;
  }
}

void declare_target(Symbols& symbols, const Target& t) {
  if (t.kind == Target::Kind::kTuple) {
    for (const Target& item : t.items) declare_target(symbols, item);
  } else {
    symbols.parameter(t.name);
  }
}

// Analyzes one frame's own statements (jinja2's FrameSymbolVisitor) and collects the frames
// nested in it, analyzed afterwards against the completed symbols of this one.
class FrameVisitor {
 public:
  explicit FrameVisitor(std::vector<Stmt*>& nested) : nested_(nested) {}

  void visit_body(Symbols& symbols, const Body& body) {
    for (const StmtPtr& s : body) visit(symbols, *s);
  }

 private:
  void visit(Symbols& symbols, Stmt& stmt) {
    switch (stmt.kind) {
      case StmtKind::kText:
      case StmtKind::kBreak:
      case StmtKind::kContinue:
        return;
      case StmtKind::kOutput:
        load_names(symbols, static_cast<OutputStmt&>(stmt).expr.get());
        return;
      case StmtKind::kIf:
        visit_if(symbols, static_cast<IfStmt&>(stmt), 0);
        return;
      case StmtKind::kFor:
        load_names(symbols, static_cast<ForStmt&>(stmt).iterable.get());
        break;
      case StmtKind::kSet: {
        auto& s = static_cast<SetStmt&>(stmt);
        load_names(symbols, s.value.get());
        store_target(symbols, s.target);
        return;
      }
      case StmtKind::kSetBlock:
        store_target(symbols, static_cast<SetBlockStmt&>(stmt).target);
        break;
      case StmtKind::kMacro:
        symbols.store(static_cast<MacroStmt&>(stmt).name);
        break;
      case StmtKind::kCallBlock: {
        auto& c = static_cast<CallBlockStmt&>(stmt);
        load_names(symbols, c.call->callee.get());
        load_args(symbols, c.call->args);
        break;
      }
      case StmtKind::kFilterBlock:
        for (const FilterCall& f : static_cast<FilterBlockStmt&>(stmt).filters) load_args(symbols, f.args);
        break;
      case StmtKind::kWith:
      case StmtKind::kScope:
        for (const auto& [target, value] : static_cast<ScopeStmt&>(stmt).assignments) load_names(symbols, value.get());
        break;
    }
    nested_.push_back(&stmt);
  }

  // jinja2 keeps elifs as If nodes nested in one branch, and the else as the third branch.
  void visit_if(Symbols& symbols, IfStmt& stmt, size_t branch) {
    load_names(symbols, stmt.branches[branch].first.get());
    std::vector<Symbols> branches(3, symbols);
    visit_body(branches[0], stmt.branches[branch].second);
    if (branch + 1 < stmt.branches.size()) {
      // The elif chain: each elif is an if without else, visited in order in one branch.
      for (size_t i = branch + 1; i < stmt.branches.size(); ++i) {
        Symbols& chain = branches[1];
        load_names(chain, stmt.branches[i].first.get());
        std::vector<Symbols> inner(3, chain);
        visit_body(inner[0], stmt.branches[i].second);
        chain.branch_update(inner);
      }
    }
    if (branch == 0) visit_body(branches[2], stmt.otherwise);
    symbols.branch_update(branches);
  }

  std::vector<Stmt*>& nested_;
};

void analyze_frame(const Symbols* parent, const std::vector<const Target*>& params,
                   const std::vector<std::string>& extra_params, const std::vector<const Expr*>& loads,
                   const Body& body, UnboundNames& unbound);

// Analyzes the frames nested in a frame whose symbols are complete.
void analyze_nested(const Symbols& symbols, const std::vector<Stmt*>& nested) {
  for (Stmt* stmt : nested) {
    switch (stmt->kind) {
      case StmtKind::kFor: {
        auto& f = *static_cast<ForStmt*>(stmt);
        analyze_frame(&symbols, {&f.target}, {"loop"}, {}, f.body, f.body_unbound);
        analyze_frame(&symbols, {}, {}, {}, f.otherwise, f.else_unbound);
        break;
      }
      case StmtKind::kMacro:
      case StmtKind::kCallBlock: {
        // A call block's body is an anonymous macro (its `caller`), scoped like any other.
        MacroStmt& m = stmt->kind == StmtKind::kMacro ? *static_cast<MacroStmt*>(stmt) : static_cast<CallBlockStmt*>(stmt)->caller;
        std::vector<std::string> params = {"caller", "varargs", "kwargs"};
        std::vector<const Expr*> defaults;
        for (const MacroParam& p : m.params) {
          params.push_back(p.name);
          defaults.push_back(p.default_value.get());
        }
        analyze_frame(&symbols, {}, params, defaults, m.body, m.unbound);
        break;
      }
      case StmtKind::kSetBlock: {
        auto& s = *static_cast<SetBlockStmt*>(stmt);
        analyze_frame(&symbols, {}, {}, {}, s.body, s.unbound);
        break;
      }
      case StmtKind::kFilterBlock: {
        auto& f = *static_cast<FilterBlockStmt*>(stmt);
        analyze_frame(&symbols, {}, {}, {}, f.body, f.unbound);
        break;
      }
      case StmtKind::kWith:
      case StmtKind::kScope: {
        auto& w = *static_cast<ScopeStmt*>(stmt);
        std::vector<const Target*> targets;
        for (const auto& [target, value] : w.assignments) targets.push_back(&target);
        analyze_frame(&symbols, targets, {}, {}, w.body, w.unbound);
        break;
      }
      default:
        break;
    }
  }
}

void analyze_frame(const Symbols* parent, const std::vector<const Target*>& params,
                   const std::vector<std::string>& extra_params, const std::vector<const Expr*>& loads,
                   const Body& body, UnboundNames& unbound) {
  Symbols symbols(parent);
  for (const Target* t : params) declare_target(symbols, *t);
  for (const std::string& name : extra_params) symbols.parameter(name);
  for (const Expr* e : loads) load_names(symbols, e);
  std::vector<Stmt*> nested;
  FrameVisitor(nested).visit_body(symbols, body);
  unbound = symbols.unbound();
  analyze_nested(symbols, nested);
}

}  // namespace

void annotate_scopes(Program& program) { analyze_frame(nullptr, {}, {}, {}, program.body, program.unbound); }

}  // namespace llmrt::genai::jinja
