// jinja2's compile-time scoping, reproduced: which names each frame (the template, a loop
// body, a for-else, a macro or caller body, a with/set/filter block) starts with undefined.
//
// The interpreter looks names up dynamically through nested scopes, which is what jinja2
// does almost always. The exception is jinja2's symbol tracking (idtracking.py): a frame that
// assigns a name it has not read yet (earlier in the frame, in source order) and that no
// enclosing frame refers to, binds that name to "missing" on entry, hiding the caller's
// variable of the same name until the assignment runs, also from nested loops and macros:
//
//   {% for m in messages %}{% for t in tools %}...{% endfor %}{% set tools = [] %}{% endfor %}
//
// renders the inner loop with `tools` undefined in jinja2. Names assigned inside if blocks are
// exempt (jinja2's branch_update). annotate_scopes() records those names on the AST; the
// interpreter binds them to undefined when it enters the frame.
#pragma once

#include "genai/jinja_ast.h"

namespace llmrt::genai::jinja {

void annotate_scopes(Program& program);

}  // namespace llmrt::genai::jinja
