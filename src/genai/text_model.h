// What Pipeline and ServingEngine both load: the model (read, not yet compiled), its tokenizer
// and its chat template, with the rendering of chats to prompt tokens.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "genai/chat_template.h"
#include "genai/tokenizer.h"
#include "llmrt/genai.hpp"
#include "llmrt/runtime.hpp"

namespace llmrt::genai {

struct TextModel {
  // NOT_FOUND naming the path; the tokenizer is checked against the model's vocabulary.
  TextModel(const std::filesystem::path& path, const std::vector<std::filesystem::path>& plugin_dirs);

  std::filesystem::path path;
  Core core;
  Model model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string template_source;  // "" when the model has none
  std::optional<ChatTemplate> chat_template;

  void require_template() const;  // NOT_FOUND naming where a template is looked for
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // The rendered chat as tokens (special tokens in the text parsed, no BOS added: the template has it).
  std::vector<int32_t> encode_chat(const std::vector<ChatMessage>& messages) const;
  // Plain text as tokens, BOS as the tokenizer config says.
  std::vector<int32_t> encode_prompt(std::string_view text) const;
  // The model's end tokens plus config.stop_token_ids (none of the model's with ignore_eos).
  std::vector<int32_t> end_ids(const GenerationConfig& config) const;
};

}  // namespace llmrt::genai
