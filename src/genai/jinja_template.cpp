#include "genai/jinja_template.h"

#include "genai/jinja_json.h"
#include "genai/jinja_parser.h"
#include "util/error.h"

namespace llmrt::genai::jinja {

namespace {

template <class Json>
Dict variables_from_json(const Json& variables) {
  if (!variables.is_object()) {
    fail(ErrorCode::kInvalidArgument, "chat template variables must be a JSON object, got {}", variables.type_name());
  }
  try {
    Value v = from_json(variables);
    return v.get_dict();
  } catch (const Fault& f) {
    fail(f.code, "chat template variables: {}", f.message);
  }
}

}  // namespace

Template::Template(std::string_view source) : program_(std::make_shared<const Program>(parse_template(source))) {}

std::string Template::render(const Dict& variables, const RenderOptions& options) const {
  Interpreter interp(options);
  return interp.render(*program_, variables);
}

std::string Template::render(const nlohmann::ordered_json& variables, const RenderOptions& options) const {
  return render(variables_from_json(variables), options);
}

std::string Template::render(const nlohmann::json& variables, const RenderOptions& options) const {
  return render(variables_from_json(variables), options);
}

}  // namespace llmrt::genai::jinja
