#include "store/stored_type.h"

#include <array>

namespace llmrt {
namespace {

struct Info {
  StoredType type;
  std::string_view name;
  TypeFamily family;
  int element_bytes;  // plain types only
  std::optional<ggml::Type> ggml;
};

constexpr auto kInfos = std::to_array<Info>({
    {StoredType::kF32, "f32", TypeFamily::kPlain, 4, ggml::Type::kF32},
    {StoredType::kF16, "f16", TypeFamily::kPlain, 2, ggml::Type::kF16},
    {StoredType::kBF16, "bf16", TypeFamily::kPlain, 2, ggml::Type::kBF16},
    {StoredType::kF64, "f64", TypeFamily::kPlain, 8, ggml::Type::kF64},
    {StoredType::kI8, "i8", TypeFamily::kPlain, 1, ggml::Type::kI8},
    {StoredType::kU8, "u8", TypeFamily::kPlain, 1, std::nullopt},
    {StoredType::kI16, "i16", TypeFamily::kPlain, 2, ggml::Type::kI16},
    {StoredType::kI32, "i32", TypeFamily::kPlain, 4, ggml::Type::kI32},
    {StoredType::kI64, "i64", TypeFamily::kPlain, 8, ggml::Type::kI64},
    {StoredType::kInt8Sym, "int8_sym", TypeFamily::kCompressed, 0, std::nullopt},
    {StoredType::kInt8Asym, "int8_asym", TypeFamily::kCompressed, 0, std::nullopt},
    {StoredType::kInt4Sym, "int4_sym", TypeFamily::kCompressed, 0, std::nullopt},
    {StoredType::kInt4Asym, "int4_asym", TypeFamily::kCompressed, 0, std::nullopt},
    {StoredType::kMxfp4, "mxfp4", TypeFamily::kCompressed, 0, std::nullopt},
    {StoredType::kQ4_0, "q4_0", TypeFamily::kGgufBlock, 0, ggml::Type::kQ4_0},
    {StoredType::kQ4_1, "q4_1", TypeFamily::kGgufBlock, 0, ggml::Type::kQ4_1},
    {StoredType::kQ5_0, "q5_0", TypeFamily::kGgufBlock, 0, ggml::Type::kQ5_0},
    {StoredType::kQ5_1, "q5_1", TypeFamily::kGgufBlock, 0, ggml::Type::kQ5_1},
    {StoredType::kQ8_0, "q8_0", TypeFamily::kGgufBlock, 0, ggml::Type::kQ8_0},
    {StoredType::kQ2_K, "q2_k", TypeFamily::kGgufBlock, 0, ggml::Type::kQ2_K},
    {StoredType::kQ3_K, "q3_k", TypeFamily::kGgufBlock, 0, ggml::Type::kQ3_K},
    {StoredType::kQ4_K, "q4_k", TypeFamily::kGgufBlock, 0, ggml::Type::kQ4_K},
    {StoredType::kQ5_K, "q5_k", TypeFamily::kGgufBlock, 0, ggml::Type::kQ5_K},
    {StoredType::kQ6_K, "q6_k", TypeFamily::kGgufBlock, 0, ggml::Type::kQ6_K},
    {StoredType::kGgufMxfp4, "gguf_mxfp4", TypeFamily::kGgufBlock, 0, ggml::Type::kMXFP4},
});

const Info& info(StoredType t) { return kInfos[static_cast<size_t>(t)]; }

// The table is indexed by the enum's value: keep them in the same order.
constexpr bool table_in_enum_order() {
  for (size_t i = 0; i < kInfos.size(); ++i) {
    if (static_cast<size_t>(kInfos[i].type) != i) return false;
  }
  return true;
}
static_assert(table_in_enum_order(), "kInfos must list StoredType values in order");

}  // namespace

TypeFamily family(StoredType t) { return info(t).family; }
std::string_view to_string(StoredType t) { return info(t).name; }
int plain_element_bytes(StoredType t) { return info(t).element_bytes; }
bool is_float(StoredType t) {
  return t == StoredType::kF32 || t == StoredType::kF16 || t == StoredType::kBF16 || t == StoredType::kF64;
}
std::optional<ggml::Type> to_ggml(StoredType t) { return info(t).ggml; }

std::optional<StoredType> parse_stored_type(std::string_view name) {
  for (const Info& i : kInfos) {
    if (i.name == name) return i.type;
  }
  return std::nullopt;
}

std::optional<StoredType> from_ggml(ggml::Type t) {
  for (const Info& i : kInfos) {
    if (i.ggml == t) return i.type;
  }
  return std::nullopt;
}

}  // namespace llmrt
