#include "genai/text_model.h"

#include "store/container.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace llmrt::genai {

TextModel::TextModel(const std::filesystem::path& p, const std::vector<std::filesystem::path>& plugin_dirs)
    : path(p), core(CoreOptions{plugin_dirs}) {
  if (!std::filesystem::exists(path)) fail(ErrorCode::kNotFound, "model '{}' does not exist", path.string());
  model = core.read_model(path);
  tokenizer = Tokenizer::from_model(path);
  tokenizer->check_fits(model.info().vocab_size, path.string());
  // A container given as its model.llmrt keeps its chat_template.jinja in the folder around it.
  const std::filesystem::path folder = container::is_container(path) ? container::container_dir(path) : path;
  if (auto t = tokenizer->chat_template()) {
    template_source = *t;
  } else if (std::filesystem::is_directory(folder) && std::filesystem::exists(folder / "chat_template.jinja")) {
    template_source = read_text_file(folder / "chat_template.jinja");
  }
  if (!template_source.empty()) chat_template.emplace(template_source);
}

void TextModel::require_template() const {
  if (!chat_template) {
    fail(ErrorCode::kNotFound, "'{}' has no chat template (tokenizer_config.json chat_template, chat_template.jinja or "
         "GGUF tokenizer.chat_template)", path.string());
  }
}

std::string TextModel::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  require_template();
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
  for (const ChatMessage& m : messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
  nlohmann::ordered_json vars = {{"messages", msgs}, {"add_generation_prompt", add_generation_prompt}};
  auto special = [&](std::optional<int32_t> id) { return id ? tokenizer->token_text(*id) : std::string(); };
  vars["bos_token"] = special(tokenizer->bos_id());
  vars["eos_token"] = special(tokenizer->eos_id());
  return chat_template->render(vars);
}

std::vector<int32_t> TextModel::encode_chat(const std::vector<ChatMessage>& messages) const {
  return tokenizer->encode(render(messages, true), {.add_special_tokens = false, .parse_special = true});
}

std::vector<int32_t> TextModel::encode_prompt(std::string_view text) const {
  return tokenizer->encode(text, {.add_special_tokens = true, .parse_special = false});
}

std::vector<int32_t> TextModel::end_ids(const GenerationConfig& config) const {
  std::vector<int32_t> ids;
  if (!config.ignore_eos) ids = tokenizer->stop_ids();
  for (int64_t id : config.stop_token_ids) ids.push_back(static_cast<int32_t>(id));
  return ids;
}

}  // namespace llmrt::genai
