#include "genai/jinja_parser.h"

#include <algorithm>
#include <initializer_list>

#include "genai/jinja_builtins.h"
#include "genai/jinja_lexer.h"
#include "genai/jinja_scopes.h"
#include "util/error.h"

namespace llmrt::genai::jinja {

namespace {

bool one_of(std::string_view s, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

// Tags jinja2 has that this interpreter does not implement.
constexpr std::string_view kUnsupportedTags[] = {"extends", "block", "include", "import", "from", "autoescape"};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Body parse() {
    std::string end;
    Body body = parse_body({}, end);
    return body;
  }

 private:
  // ---- token stream ----
  const Token& cur() const { return tokens_[pos_]; }
  const Token& peek(size_t n = 1) const { return tokens_[std::min(pos_ + n, tokens_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  bool is_op(std::string_view op) const { return cur().kind == TokenKind::kOperator && cur().text == op; }
  bool is_name(std::string_view name) const { return cur().kind == TokenKind::kName && cur().text == name; }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case TokenKind::kData:
        return "template data";
      case TokenKind::kVariableBegin:
        return "begin of print statement";
      case TokenKind::kVariableEnd:
        return "end of print statement";
      case TokenKind::kBlockBegin:
        return "begin of statement block";
      case TokenKind::kBlockEnd:
        return "end of statement block";
      case TokenKind::kString:
        return "string";
      case TokenKind::kInteger:
        return "integer";
      case TokenKind::kFloat:
        return "float";
      case TokenKind::kEnd:
        return "end of template";
      default:
        return t.text;
    }
  }

  [[noreturn]] void syntax_error(const std::string& what, int line) const {
    fail(ErrorCode::kBadFormat, "{} at line {}", what, line);
  }
  [[noreturn]] void unexpected(const std::string& expected) const {
    syntax_error(fmt::format("expected {}, got '{}'", expected, describe(cur())), cur().line);
  }

  void expect_op(std::string_view op) {
    if (!skip_op(op)) unexpected(fmt::format("'{}'", op));
  }
  std::string expect_name() {
    if (cur().kind != TokenKind::kName) unexpected("a name");
    std::string name = cur().text;
    advance();
    return name;
  }
  void expect_block_end() {
    if (cur().kind != TokenKind::kBlockEnd) unexpected("end of statement block");
    advance();
  }

  // ---- limits ----
  struct Nest {
    Nest(Parser& p, int line) : parser(p) {
      if (++parser.nesting_ > kMaxNesting) {
        fail(ErrorCode::kOutOfRange, "template nests more than {} levels deep at line {}", kMaxNesting, line);
      }
    }
    ~Nest() { --parser.nesting_; }
    Parser& parser;
  };

  template <class T>
  std::unique_ptr<T> sized(std::unique_ptr<T> node, std::initializer_list<const Expr*> children) {
    int depth = 0;
    for (const Expr* c : children) {
      if (c) depth = std::max(depth, c->depth);
    }
    return sized_depth(std::move(node), depth);
  }
  template <class T>
  std::unique_ptr<T> sized_depth(std::unique_ptr<T> node, int child_depth) {
    node->depth = child_depth + 1;
    if (node->depth > kMaxExprDepth) {
      fail(ErrorCode::kOutOfRange, "expression more than {} levels deep at line {}", kMaxExprDepth, node->line);
    }
    return node;
  }
  static int args_depth(const Arguments& args) {
    int depth = 0;
    for (const auto& a : args.positional) depth = std::max(depth, a->depth);
    for (const auto& a : args.keyword) depth = std::max(depth, a.second->depth);
    return depth;
  }

  // ---- statements ----

  // Parses until one of `end_tags` opens a block tag; leaves the stream after that tag's name
  // and stores it in `found`. With no end tags, parses to the end of the template.
  Body parse_body(std::initializer_list<std::string_view> end_tags, std::string& found) {
    Body body;
    while (true) {
      const Token& t = cur();
      switch (t.kind) {
        case TokenKind::kData:
          body.push_back(std::make_unique<TextStmt>(t.line, t.text));
          advance();
          break;
        case TokenKind::kVariableBegin: {
          const int line = t.line;
          advance();
          ExprPtr e = parse_tuple(true, {});
          if (cur().kind != TokenKind::kVariableEnd) unexpected("end of print statement");
          advance();
          body.push_back(std::make_unique<OutputStmt>(line, std::move(e)));
          break;
        }
        case TokenKind::kBlockBegin: {
          const Token& name = peek();
          if (name.kind == TokenKind::kName && one_of(name.text, end_tags)) {
            found = name.text;
            advance();
            advance();
            return body;
          }
          advance();
          body.push_back(parse_statement());
          break;
        }
        case TokenKind::kEnd:
          if (end_tags.size() != 0) {
            std::string wanted;
            for (std::string_view tag : end_tags) wanted += (wanted.empty() ? "'" : " or '") + std::string(tag) + "'";
            syntax_error(fmt::format("unexpected end of template, expected {}", wanted), t.line);
          }
          return body;
        default:
          syntax_error(fmt::format("unexpected '{}'", describe(t)), t.line);
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& t = cur();
    const int line = t.line;
    Nest nest(*this, line);
    if (t.kind != TokenKind::kName) syntax_error("tag name expected", line);
    const std::string tag = t.text;
    advance();
    if (tag == "for") return parse_for(line);
    if (tag == "if") return parse_if(line);
    if (tag == "set") return parse_set(line);
    if (tag == "macro") return parse_macro(line);
    if (tag == "call") return parse_call_block(line);
    if (tag == "filter") return parse_filter_block(line);
    if (tag == "with" || tag == "generation") return parse_scope(tag, line);
    if (tag == "print") {
      // {% print a, b %} prints a then b (not a tuple); expressions cannot assign, so a ~ b
      // is the same thing.
      ExprPtr printed;
      while (cur().kind != TokenKind::kBlockEnd) {
        if (printed) expect_op(",");
        ExprPtr e = parse_expression(true);
        printed = printed ? binary(BinaryOp::kConcat, line, std::move(printed), std::move(e)) : std::move(e);
      }
      expect_block_end();
      if (!printed) return std::make_unique<TextStmt>(line, "");
      return std::make_unique<OutputStmt>(line, std::move(printed));
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) syntax_error(fmt::format("'{}' outside loop", tag), line);
      expect_block_end();
      return std::make_unique<Stmt>(tag == "break" ? StmtKind::kBreak : StmtKind::kContinue, line);
    }
    if (std::find(std::begin(kUnsupportedTags), std::end(kUnsupportedTags), tag) != std::end(kUnsupportedTags)) {
      fail(ErrorCode::kUnsupported, "unsupported tag '{}' at line {}", tag, line);
    }
    if (tag == "do") {
      syntax_error("unknown tag 'do' (jinja2's do extension is not enabled in transformers' environment)", line);
    }
    if (one_of(tag, {"endfor", "endif", "elif", "else", "endset", "endmacro", "endcall", "endfilter", "endwith",
                     "endgeneration", "endraw"})) {
      syntax_error(fmt::format("unexpected tag '{}'", tag), line);
    }
    syntax_error(fmt::format("unknown tag '{}'", tag), line);
  }

  StmtPtr parse_for(int line) {
    auto node = std::make_unique<ForStmt>(line);
    node->target = parse_target(false, "in");
    if (!skip_name("in")) unexpected("'in'");
    node->iterable = parse_tuple(false, "recursive");
    if (skip_name("if")) node->filter = parse_expression(true);
    if (is_name("recursive")) fail(ErrorCode::kUnsupported, "unsupported recursive for loop at line {}", line);
    expect_block_end();
    const int definitions_before = definitions_;
    ++loop_depth_;
    std::string end;
    node->body = parse_body({"endfor", "else"}, end);
    --loop_depth_;
    if (end == "else") {
      expect_block_end();
      node->otherwise = parse_body({"endfor"}, end);
    }
    expect_block_end();
    node->body_captures_scope = definitions_ != definitions_before;
    return node;
  }

  StmtPtr parse_if(int line) {
    auto node = std::make_unique<IfStmt>(line);
    ++soft_;
    std::string end = "if";
    while (end == "if" || end == "elif") {
      ExprPtr test = parse_tuple(false, {});
      expect_block_end();
      Body body = parse_body({"elif", "else", "endif"}, end);
      node->branches.emplace_back(std::move(test), std::move(body));
    }
    if (end == "else") {
      expect_block_end();
      node->otherwise = parse_body({"endif"}, end);
    }
    expect_block_end();
    --soft_;
    return node;
  }

  StmtPtr parse_set(int line) {
    Target target = parse_target(true, {});
    if (skip_op("=")) {
      auto node = std::make_unique<SetStmt>(line);
      node->target = std::move(target);
      node->value = parse_tuple(true, {});
      expect_block_end();
      return node;
    }
    auto node = std::make_unique<SetBlockStmt>(line);
    node->target = std::move(target);
    while (skip_op("|")) node->filters.push_back(parse_filter_call());
    expect_block_end();
    const int definitions_before = definitions_;
    std::string end;
    node->body = parse_body({"endset"}, end);
    node->body_captures_scope = definitions_ != definitions_before;
    expect_block_end();
    return node;
  }

  // Assignment targets: name, name.attr (namespace, only for set), or tuples of names.
  Target parse_target(bool allow_namespace, std::string_view end_name) {
    Target target;
    if (allow_namespace && cur().kind == TokenKind::kName && peek().kind == TokenKind::kOperator && peek().text == ".") {
      target.kind = Target::Kind::kNamespaceAttr;
      target.name = expect_name();
      advance();
      target.attr = expect_name();
      return target;
    }
    std::vector<Target> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (cur().kind == TokenKind::kBlockEnd || is_op("=") || is_op("|") || is_op(")") ||
          (!end_name.empty() && is_name(end_name))) {
        break;
      }
      items.push_back(parse_target_primary());
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (items.empty()) unexpected("an assignment target");
    if (!is_tuple) return std::move(items[0]);
    target.kind = Target::Kind::kTuple;
    target.items = std::move(items);
    return target;
  }

  Target parse_target_primary() {
    if (skip_op("(")) {
      Nest nest(*this, cur().line);
      Target t = parse_target(false, {});  // "(a)" is a plain name; "(a, b)" a tuple
      expect_op(")");
      return t;
    }
    if (cur().kind != TokenKind::kName) unexpected("an assignment target");
    if (one_of(cur().text, {"true", "false", "none", "True", "False", "None"})) {
      syntax_error(fmt::format("can't assign to constant '{}'", cur().text), cur().line);
    }
    Target t;
    t.name = expect_name();
    return t;
  }

  void parse_signature(MacroStmt& macro) {
    expect_op("(");
    while (!is_op(")")) {
      if (!macro.params.empty()) expect_op(",");
      if (is_op(")")) break;
      MacroParam param;
      param.name = expect_name();
      if (skip_op("=")) {
        param.default_value = parse_expression(true);
      } else if (!macro.params.empty() && macro.params.back().default_value) {
        syntax_error("non-default argument follows default argument", cur().line);
      }
      macro.params.push_back(std::move(param));
    }
    expect_op(")");
  }

  // Parses a macro-like body: no enclosing loop, and records caller/varargs/kwargs use.
  void parse_function_body(MacroStmt& macro, std::string_view end_tag) {
    const int saved_loops = loop_depth_;
    const int saved_soft = soft_;
    loop_depth_ = 0;
    soft_ = 0;
    macro_stack_.push_back(&macro);
    const int definitions_before = definitions_;
    std::string end;
    macro.body = parse_body({end_tag}, end);
    macro.body_captures_scope = definitions_ != definitions_before;
    macro_stack_.pop_back();
    loop_depth_ = saved_loops;
    soft_ = saved_soft;
    expect_block_end();
  }

  StmtPtr parse_macro(int line) {
    auto node = std::make_unique<MacroStmt>(line);
    node->name = expect_name();
    parse_signature(*node);
    expect_block_end();
    ++definitions_;
    parse_function_body(*node, "endmacro");
    return node;
  }

  StmtPtr parse_call_block(int line) {
    auto node = std::make_unique<CallBlockStmt>(line);
    node->caller.line = line;
    node->caller.name = "caller";
    if (is_op("(")) parse_signature(node->caller);
    ExprPtr call = parse_expression(true);
    if (call->kind != ExprKind::kCall) syntax_error("expected call", line);
    node->call.reset(static_cast<CallExpr*>(call.release()));
    expect_block_end();
    ++definitions_;
    parse_function_body(node->caller, "endcall");
    return node;
  }

  StmtPtr parse_filter_block(int line) {
    auto node = std::make_unique<FilterBlockStmt>(line);
    node->filters.push_back(parse_filter_call());
    while (skip_op("|")) node->filters.push_back(parse_filter_call());
    expect_block_end();
    const int definitions_before = definitions_;
    std::string end;
    node->body = parse_body({"endfilter"}, end);
    node->body_captures_scope = definitions_ != definitions_before;
    expect_block_end();
    return node;
  }

  StmtPtr parse_scope(const std::string& tag, int line) {
    auto node = std::make_unique<ScopeStmt>(tag == "with" ? StmtKind::kWith : StmtKind::kScope, line);
    if (tag == "with") {
      while (cur().kind != TokenKind::kBlockEnd) {
        if (!node->assignments.empty()) expect_op(",");
        Target target = parse_target(false, {});
        expect_op("=");
        node->assignments.emplace_back(std::move(target), parse_expression(true));
      }
    }
    expect_block_end();
    const int definitions_before = definitions_;
    std::string end;
    node->body = parse_body({tag == "with" ? std::string_view("endwith") : std::string_view("endgeneration")}, end);
    node->body_captures_scope = definitions_ != definitions_before;
    expect_block_end();
    return node;
  }

  // ---- expressions ----

  // parse_tuple: expressions separated by commas; a tuple when there is a comma.
  ExprPtr parse_tuple(bool with_condexpr, std::string_view end_name, bool explicit_parens = false) {
    const int line = cur().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (cur().kind == TokenKind::kVariableEnd || cur().kind == TokenKind::kBlockEnd || is_op(")") ||
          (!end_name.empty() && is_name(end_name))) {
        break;
      }
      items.push_back(parse_expression(with_condexpr));
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) unexpected("an expression");
    }
    auto tuple = std::make_unique<SequenceExpr>(ExprKind::kTuple, line);
    tuple->items = std::move(items);
    int depth = 0;
    for (const auto& item : tuple->items) depth = std::max(depth, item->depth);
    return sized_depth(std::move(tuple), depth);
  }

  ExprPtr parse_expression(bool with_condexpr) {
    Nest nest(*this, cur().line);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    const int line = cur().line;
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      Nest nest(*this, line);
      advance();
      ++soft_;
      auto cond = std::make_unique<ConditionExpr>(line);
      cond->then = std::move(expr);
      cond->test = parse_or();
      if (skip_name("else")) cond->otherwise = parse_condexpr();
      --soft_;
      const Expr* otherwise = cond->otherwise.get();
      const Expr* test = cond->test.get();
      const Expr* then = cond->then.get();
      expr = sized(std::move(cond), {otherwise, test, then});
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const int line = cur().line;
      advance();
      ExprPtr right = parse_and();
      const Expr* l = left.get();
      const Expr* r = right.get();
      left = sized(std::make_unique<BinaryExpr>(ExprKind::kOr, line, BinaryOp::kAdd, std::move(left), std::move(right)), {l, r});
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const int line = cur().line;
      advance();
      ExprPtr right = parse_not();
      const Expr* l = left.get();
      const Expr* r = right.get();
      left = sized(std::make_unique<BinaryExpr>(ExprKind::kAnd, line, BinaryOp::kAdd, std::move(left), std::move(right)), {l, r});
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      const int line = cur().line;
      Nest nest(*this, line);
      advance();
      ExprPtr operand = parse_not();
      const Expr* o = operand.get();
      return sized(std::make_unique<UnaryExpr>(ExprKind::kNot, line, std::move(operand)), {o});
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = cur().line;
    ExprPtr first = parse_math1();
    std::unique_ptr<CompareExpr> cmp;
    while (true) {
      CompareOp op;
      if (is_op("==")) {
        op = CompareOp::kEq;
      } else if (is_op("!=")) {
        op = CompareOp::kNe;
      } else if (is_op("<")) {
        op = CompareOp::kLt;
      } else if (is_op("<=")) {
        op = CompareOp::kLe;
      } else if (is_op(">")) {
        op = CompareOp::kGt;
      } else if (is_op(">=")) {
        op = CompareOp::kGe;
      } else if (is_name("in")) {
        op = CompareOp::kIn;
      } else if (is_name("not") && peek().kind == TokenKind::kName && peek().text == "in") {
        advance();
        op = CompareOp::kNotIn;
      } else {
        break;
      }
      advance();
      if (!cmp) cmp = std::make_unique<CompareExpr>(line, std::move(first));
      cmp->rest.emplace_back(op, parse_math1());
    }
    if (!cmp) return first;
    int depth = cmp->first->depth;
    for (const auto& r : cmp->rest) depth = std::max(depth, r.second->depth);
    return sized_depth(std::move(cmp), depth);
  }

  ExprPtr binary(BinaryOp op, int line, ExprPtr left, ExprPtr right) {
    const Expr* l = left.get();
    const Expr* r = right.get();
    return sized(std::make_unique<BinaryExpr>(ExprKind::kBinary, line, op, std::move(left), std::move(right)), {l, r});
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const BinaryOp op = is_op("+") ? BinaryOp::kAdd : BinaryOp::kSub;
      const int line = cur().line;
      advance();
      left = binary(op, line, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      const int line = cur().line;
      advance();
      left = binary(BinaryOp::kConcat, line, std::move(left), parse_math2());
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (true) {
      BinaryOp op;
      if (is_op("*")) {
        op = BinaryOp::kMul;
      } else if (is_op("/")) {
        op = BinaryOp::kDiv;
      } else if (is_op("//")) {
        op = BinaryOp::kFloorDiv;
      } else if (is_op("%")) {
        op = BinaryOp::kMod;
      } else {
        break;
      }
      const int line = cur().line;
      advance();
      left = binary(op, line, std::move(left), parse_pow());
    }
    return left;
  }

  // jinja2's ** is left-associative and binds looser than unary minus: -2**2 == 4.
  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const int line = cur().line;
      advance();
      left = binary(BinaryOp::kPow, line, std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    const int line = cur().line;
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      Nest nest(*this, line);
      const ExprKind kind = is_op("-") ? ExprKind::kNeg : ExprKind::kPos;
      advance();
      ExprPtr operand = parse_unary(false);
      const Expr* o = operand.get();
      node = sized(std::make_unique<UnaryExpr>(kind, line, std::move(operand)), {o});
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    const int line = t.line;
    switch (t.kind) {
      case TokenKind::kName: {
        std::string name = t.text;
        advance();
        if (name == "true" || name == "True") return std::make_unique<LiteralExpr>(line, Value::boolean(true));
        if (name == "false" || name == "False") return std::make_unique<LiteralExpr>(line, Value::boolean(false));
        if (name == "none" || name == "None") return std::make_unique<LiteralExpr>(line, Value::none());
        if (name == "caller" || name == "varargs" || name == "kwargs") {
          for (MacroStmt* m : macro_stack_) {
            m->uses_caller |= name == "caller";
            m->uses_varargs |= name == "varargs";
            m->uses_kwargs |= name == "kwargs";
          }
        }
        return std::make_unique<NameExpr>(line, std::move(name));
      }
      case TokenKind::kString: {
        std::string s;
        while (cur().kind == TokenKind::kString) {
          s += cur().text;
          advance();
        }
        return std::make_unique<LiteralExpr>(line, Value::string(std::move(s)));
      }
      case TokenKind::kInteger: {
        const int64_t v = t.int_value;
        advance();
        return std::make_unique<LiteralExpr>(line, Value::integer(v));
      }
      case TokenKind::kFloat: {
        const double v = t.float_value;
        advance();
        return std::make_unique<LiteralExpr>(line, Value::floating(v));
      }
      case TokenKind::kOperator:
        if (t.text == "(") {
          advance();
          ExprPtr e = parse_tuple(true, {}, true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default:
        break;
    }
    syntax_error(fmt::format("unexpected '{}'", describe(t)), line);
  }

  ExprPtr parse_list() {
    const int line = cur().line;
    expect_op("[");
    auto list = std::make_unique<SequenceExpr>(ExprKind::kList, line);
    int depth = 0;
    while (!is_op("]")) {
      if (!list->items.empty()) expect_op(",");
      if (is_op("]")) break;
      list->items.push_back(parse_expression(true));
      depth = std::max(depth, list->items.back()->depth);
    }
    expect_op("]");
    return sized_depth(std::move(list), depth);
  }

  ExprPtr parse_dict() {
    const int line = cur().line;
    expect_op("{");
    auto dict = std::make_unique<DictExpr>(line);
    int depth = 0;
    while (!is_op("}")) {
      if (!dict->items.empty()) expect_op(",");
      if (is_op("}")) break;
      ExprPtr key = parse_expression(true);
      expect_op(":");
      ExprPtr value = parse_expression(true);
      depth = std::max({depth, key->depth, value->depth});
      dict->items.emplace_back(std::move(key), std::move(value));
    }
    expect_op("}");
    return sized_depth(std::move(dict), depth);
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".") || is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        advance();
        const int operand_depth = node->depth;
        auto f = std::make_unique<FilterExpr>(cur().line, std::move(node));
        f->filter = parse_filter_call();
        const int depth = std::max(operand_depth, args_depth(f->filter.args));
        node = sized_depth(std::move(f), depth);
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const int line = cur().line;
    if (skip_op(".")) {
      if (cur().kind == TokenKind::kName) {
        const Expr* o = node.get();
        return sized(std::make_unique<GetAttrExpr>(line, std::move(node), expect_name()), {o});
      }
      if (cur().kind != TokenKind::kInteger) unexpected("name or number");
      auto index = std::make_unique<LiteralExpr>(line, Value::integer(cur().int_value));
      advance();
      const Expr* o = node.get();
      return sized(std::make_unique<GetItemExpr>(line, std::move(node), std::move(index)), {o});
    }
    expect_op("[");
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed(node));
      if (args.back()->kind == ExprKind::kSlice) {
        // A slice consumed `node` as its object; it must be the only subscript.
        expect_op("]");
        return std::move(args.back());
      }
    }
    expect_op("]");
    if (args.empty()) syntax_error("expected a subscript", line);
    ExprPtr index;
    if (args.size() == 1) {
      index = std::move(args[0]);
    } else {
      auto tuple = std::make_unique<SequenceExpr>(ExprKind::kTuple, line);
      int depth = 0;
      for (auto& a : args) depth = std::max(depth, a->depth);
      tuple->items = std::move(args);
      index = sized_depth(std::move(tuple), depth);
    }
    const Expr* o = node.get();
    const Expr* i = index.get();
    return sized(std::make_unique<GetItemExpr>(line, std::move(node), std::move(index)), {o, i});
  }

  // One subscript: an expression, or a slice built around `object` (taken only then).
  ExprPtr parse_subscribed(ExprPtr& object) {
    const int line = cur().line;
    ExprPtr start;
    if (!is_op(":")) {
      start = parse_expression(true);
      if (!is_op(":")) return start;
    }
    advance();  // ':'
    auto slice = std::make_unique<SliceExpr>(line);
    slice->start = std::move(start);
    if (!is_op("]") && !is_op(",") && !is_op(":")) slice->stop = parse_expression(true);
    if (skip_op(":")) {
      if (!is_op("]") && !is_op(",")) slice->step = parse_expression(true);
    }
    slice->object = std::move(object);
    const Expr* parts[] = {slice->object.get(), slice->start.get(), slice->stop.get(), slice->step.get()};
    int depth = 0;
    for (const Expr* p : parts) {
      if (p) depth = std::max(depth, p->depth);
    }
    return sized_depth(std::move(slice), depth);
  }

  Arguments parse_call_args() {
    const int line = cur().line;
    expect_op("(");
    Arguments args;
    bool first = true;
    while (!is_op(")")) {
      if (!first) {
        expect_op(",");
        if (is_op(")")) break;
      }
      first = false;
      if (is_op("*") || is_op("**")) {
        fail(ErrorCode::kUnsupported, "unsupported {}-argument unpacking in a call at line {}", cur().text, cur().line);
      }
      if (cur().kind == TokenKind::kName && peek().kind == TokenKind::kOperator && peek().text == "=") {
        std::string key = expect_name();
        advance();
        args.keyword.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!args.keyword.empty()) syntax_error("invalid syntax for function call expression", line);
        args.positional.push_back(parse_expression(true));
      }
    }
    expect_op(")");
    return args;
  }

  ExprPtr parse_call(ExprPtr callee) {
    const int line = cur().line;
    const int callee_depth = callee->depth;
    auto call = std::make_unique<CallExpr>(line, std::move(callee));
    call->args = parse_call_args();
    const int depth = std::max(callee_depth, args_depth(call->args));
    return sized_depth(std::move(call), depth);
  }

  std::string parse_dotted_name() {
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
    return name;
  }

  FilterCall parse_filter_call() {
    FilterCall f;
    f.line = cur().line;
    f.name = parse_dotted_name();
    f.fn = find_filter(f.name);
    if (!f.fn) {
      if (is_unimplemented_filter(f.name)) {
        fail(ErrorCode::kUnsupported, "unsupported filter '{}' at line {}", f.name, f.line);
      }
      if (soft_ == 0) syntax_error(fmt::format("no filter named '{}'", f.name), f.line);
    }
    if (is_op("(")) f.args = parse_call_args();
    return f;
  }

  ExprPtr parse_test(ExprPtr operand) {
    const int line = cur().line;
    advance();  // 'is'
    const bool negated = skip_name("not");
    const int operand_depth = operand->depth;
    auto test = std::make_unique<TestExpr>(line, std::move(operand));
    test->name = parse_dotted_name();
    test->fn = find_test(test->name);
    if (!test->fn && soft_ == 0) syntax_error(fmt::format("no test named '{}'", test->name), line);
    const Token& t = cur();
    if (is_op("(")) {
      test->args = parse_call_args();
    } else if ((t.kind == TokenKind::kName || t.kind == TokenKind::kString || t.kind == TokenKind::kInteger ||
                t.kind == TokenKind::kFloat || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) syntax_error("You cannot chain multiple tests with is", line);
      test->args.positional.push_back(parse_postfix(parse_primary()));
    }
    const int depth = std::max(operand_depth, args_depth(test->args));
    ExprPtr node = sized_depth(std::move(test), depth);
    if (!negated) return node;
    const Expr* n = node.get();
    return sized(std::make_unique<UnaryExpr>(ExprKind::kNot, line, std::move(node)), {n});
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int nesting_ = 0;
  int loop_depth_ = 0;
  int soft_ = 0;         // inside an if or a conditional expression
  int definitions_ = 0;  // macros and call blocks parsed so far
  std::vector<MacroStmt*> macro_stack_;
};

}  // namespace

Program parse_template(std::string_view source) {
  Program program;
  program.body = Parser(tokenize(source)).parse();
  annotate_scopes(program);
  return program;
}

}  // namespace llmrt::genai::jinja
