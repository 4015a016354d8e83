// Tests of the chat-template interpreter: every shared case (real model templates, rendered by
// jinja2 3.1.2 the way transformers renders them) byte for byte, golden renderings of small
// templates made with jinja2's ImmutableSandboxedEnvironment, and the errors and limits.
#include "genai/chat_template.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "genai/jinja_eval.h"
#include "genai/jinja_parser.h"
#include "genai/jinja_template.h"
#include "llmrt/error.hpp"

namespace {

namespace fs = std::filesystem;
using llmrt::Error;
using llmrt::ErrorCode;
using llmrt::genai::ChatTemplate;
using llmrt::genai::jinja::RenderOptions;
using llmrt::genai::jinja::Template;
using Json = nlohmann::ordered_json;

// The date the shared cases were rendered with: datetime(2026, 1, 15).
RenderOptions pinned_clock() {
  RenderOptions options;
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  options.now = tm;
  return options;
}

std::string render(std::string_view source, const Json& variables = Json::object()) {
  return Template(source).render(variables, pinned_clock());
}

// Runs `fn`, expecting an llmrt::Error with `code` whose message contains `needle`.
template <class F>
void expect_error(F&& fn, ErrorCode code, std::string_view needle) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected " << llmrt::to_string(code) << " with '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

void expect_render_error(std::string_view source, ErrorCode code, std::string_view needle,
                         const Json& variables = Json::object()) {
  expect_error([&] { render(source, variables); }, code, needle);
}

void expect_parse_error(std::string_view source, ErrorCode code, std::string_view needle) {
  expect_error([&] { Template t(source); }, code, needle);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path shared_cases_dir() {
  return fs::path(LLMRT_TEST_SOURCE_DIR) / ".." / "shared" / "data" / "chat-templates";
}

std::vector<fs::path> case_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(shared_cases_dir())) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 11 && name.substr(name.size() - 11) == ".cases.json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// ---------------------------------------------------------------------------------------
// Shared cases: real templates against jinja2's renderings.

TEST(ChatTemplateSharedCases, EveryCaseRendersByteForByte) {
  if (!fs::exists(shared_cases_dir())) {
    GTEST_SKIP() << "no shared chat-template cases at " << shared_cases_dir();
  }
  const std::vector<fs::path> files = case_files();
  ASSERT_FALSE(files.empty()) << "no *.cases.json in " << shared_cases_dir();
  // skipped.json lists (template, case) pairs jinja2 itself could not render; none today.
  const Json skipped = Json::parse(read_text(shared_cases_dir() / "skipped.json"));
  ASSERT_TRUE(skipped.is_array());
  const auto is_skipped = [&](const std::string& tmpl, const std::string& id) {
    for (const Json& s : skipped) {
      if (s.is_object() && s.value("template", "") == tmpl && s.value("case", "") == id) return true;
    }
    return false;
  };
  int total = 0;
  for (const fs::path& file : files) {
    const std::string name = file.filename().string().substr(0, file.filename().string().size() - 11);
    SCOPED_TRACE(name);
    const Template tmpl(read_text(file.parent_path() / (name + ".jinja")));
    const Json cases = Json::parse(read_text(file));  // ordered: tojson prints keys in file order
    ASSERT_TRUE(cases.is_array());
    int passed = 0;
    for (const Json& c : cases) {
      SCOPED_TRACE(c.at("case").get<std::string>());
      if (is_skipped(name, c.at("case").get<std::string>())) continue;
      ++total;
      if (c.value("expected_error", false)) {
        try {
          tmpl.render(c.at("variables"), pinned_clock());
          ADD_FAILURE() << "expected the template to raise";
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
          if (c.contains("error_message")) {
            EXPECT_EQ(std::string(e.what()), c.at("error_message").get<std::string>());
          }
          passed += e.code() == ErrorCode::kInvalidArgument &&
                    (!c.contains("error_message") || e.what() == c.at("error_message").get<std::string>());
        }
        continue;
      }
      std::string got;
      try {
        got = tmpl.render(c.at("variables"), pinned_clock());
      } catch (const Error& e) {
        ADD_FAILURE() << "raised: " << e.what();
        continue;
      }
      const std::string expected = c.at("expected").get<std::string>();
      EXPECT_EQ(got, expected);
      passed += got == expected;
    }
    std::cout << "[ shared   ] " << name << ": " << passed << "/" << cases.size() << " cases pass\n";
  }
  EXPECT_GT(total, 0);
}

// ChatTemplate takes nlohmann::json, whose objects keep keys sorted; renderings that print no
// dict (no tools, no tool calls) must not depend on that.
TEST(ChatTemplateSharedCases, ChatTemplateMatchesWhenKeyOrderCannotShow) {
  if (!fs::exists(shared_cases_dir())) {
    GTEST_SKIP() << "no shared chat-template cases at " << shared_cases_dir();
  }
  int checked = 0;
  for (const fs::path& file : case_files()) {
    const std::string name = file.filename().string().substr(0, file.filename().string().size() - 11);
    SCOPED_TRACE(name);
    const ChatTemplate tmpl(read_text(file.parent_path() / (name + ".jinja")));
    for (const nlohmann::json& c : nlohmann::json::parse(read_text(file))) {
      SCOPED_TRACE(c.at("case").get<std::string>());
      const nlohmann::json& vars = c.at("variables");
      if (vars.value("tools", nlohmann::json()).is_array() || vars.dump().find("tool_calls") != std::string::npos) {
        continue;
      }
      if (c.value("expected_error", false)) {
        EXPECT_THROW(tmpl.render(vars), Error);
      } else {
        try {
          EXPECT_EQ(tmpl.render(vars), c.at("expected").get<std::string>());
        } catch (const Error& e) {
          ADD_FAILURE() << "raised: " << e.what();
        }
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

// ---------------------------------------------------------------------------------------
// Golden renderings from jinja2 3.1 (ImmutableSandboxedEnvironment, trim_blocks,
// lstrip_blocks, loopcontrols, transformers' tojson, strftime_now pinned to 2026-01-15).

constexpr const char* kVars =
    R"({"s": "Hello World", "n": 7, "f": 2.5, "l": [3, 1, 2], "d": {"b": 1, "a": 2}, "words": ["b", "A", "a", "c"],)"
    R"( "t": true, "z": null, "objs": [{"name": "x", "v": 2}, {"name": "y", "v": 1}, {"name": "z", "v": 3}],)"
    R"( "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi é"}]})";

struct Golden {
  const char* name;
  const char* source;
  const char* expected;
};

const Golden kGolden[] = {
    {"print_values",
     "{{ s }}|{{ n }}|{{ f }}|{{ l }}|{{ d }}|{{ t }}|{{ z }}|{{ undefined_name }}|{{ objs[0] }}",
     "Hello World|7|2.5|[3, 1, 2]|{'b': 1, 'a': 2}|True|None||{'name': 'x', 'v': 2}"},
    {"print_python_floats",
     "{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ -0.0 }} {{ 1/3 }} {{ 2.5e-7 }}",
     "1.0 0.30000000000000004 1e+16 1000000000000000.0 0.0001 1e-05 -0.0 0.3333333333333333 2.5e-07"},
    {"print_containers",
     "{{ (1, 2) }} {{ (1,) }} {{ () }} {{ [1, 'a', none, true, 1.0] }} {{ {'a': [1, {'b': none}]} }}",
     "(1, 2) (1,) () [1, 'a', None, True, 1.0] {'a': [1, {'b': None}]}"},
    {"repr_quotes",
     "{{ ['a\\tb\\x01é', \"q'\", 'q\"', 'q\\'\"', 'back\\\\slash'] }}",
     "['a\\tb\\x01é', \"q'\", 'q\"', 'q\\'\"', 'back\\\\slash']"},
    {"literals",
     "{{ \"a\" 'b' }} {{ 0x1F }} {{ 0b101 }} {{ 0o17 }} {{ 1_000 }} {{ 1.5e3 }} {{ 1E-2 }} {{ true }} {{ True }} {{ none }} {{ None }}",
     "ab 31 5 15 1000 1500.0 0.01 True True None None"},
    {"string_escapes",
     "{{ '\\t|\\u00e9|\\x41|\\101|\\n|\\q' }}",
     "\t|é|A|A|\n|\\q"},
    {"trim_blocks",
     "{% if t %}\nyes\n{% endif %}\nafter\n",
     "yes\nafter"},
    {"lstrip_blocks",
     "  {% if t %}\n    yes\n  {% endif %}\n  {{ n }}\n",
     "    yes\n  7"},
    {"minus_control",
     "a   {%- if t -%}   b   {%- endif -%}   c\n{{- n -}}\n  d",
     "abc7d"},
    {"plus_disables_lstrip",
     "  {%+ if t %}x{% endif +%}\ny",
     "  x\ny"},
    {"variable_tags_not_lstripped",
     "  {{ n }}\n  {{ n }}\n",
     "  7\n  7"},
    {"comments",
     "a {# comment #} b\n  {# own line #}\nc {#- trimmed -#} d\n",
     "a  b\ncd"},
    {"raw_block",
     "{% raw %}{{ not evaluated }}{% endraw %}|{%- raw -%}  x  {%- endraw %}",
     "{{ not evaluated }}|x"},
    {"trailing_newline_once",
     "x\n\n",
     "x\n"},
    {"crlf_newlines",
     "a\r\n{% if t %}\r\nb\r\n{% endif %}\r\nc",
     "a\nb\nc"},
    {"lstrip_after_expression",
     "{{ n }}  {% if t %}x{% endif %}",
     "7  x"},
    {"block_at_template_start",
     "   {% if t %}x{% endif %}",
     "x"},
    {"minus_strips_newlines",
     "{% for x in l %}\n  {{- x -}}\n{% endfor %}",
     "312"},
    {"if_elif_else",
     "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}other{% endif %},{% endfor %}",
     "one,two,other,"},
    {"loop_variables",
     "{% for m in msgs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}",
     "1021TrueFalse2|2110FalseTrue2|"},
    {"loop_prev_next_cycle",
     "{% for x in l %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a', 'b') }} {% endfor %}",
     "-1-a 3-2-b 1--a "},
    {"loop_changed",
     "{% for x in [1, 1, 2] %}{{ loop.changed(x) }}{% endfor %}",
     "TrueFalseTrue"},
    {"for_if_filter",
     "{% for x in l if x > 1 %}{{ loop.index }}/{{ loop.length }}:{{ x }} {% endfor %}",
     "1/2:3 2/2:2 "},
    {"for_else",
     "{% for x in [] %}a{% else %}empty{% endfor %}|{% for x in l if x > 5 %}a{% else %}none{% endfor %}",
     "empty|none"},
    {"break_continue",
     "{% for x in l %}{% if x == 1 %}{% break %}{% endif %}{{ x }}{% endfor %}|{% for x in l %}{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% endfor %}",
     "3|32"},
    {"nested_loops",
     "{% for a in [[1, 2], [3, 4]] %}{% for b in a %}{{ loop.index }}.{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}",
     "1.1 2.2 1|1.3 2.4 2|"},
    {"unpacking",
     "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}{% set a, b = 1, 2 %}{{ a }}{{ b }}",
     "b=1;a=2;ba12"},
    {"set_in_loop_does_not_leak",
     "{% set x = 0 %}{% for i in range(3) %}{{ x }}{% set x = i %}{{ x }}|{% endfor %}{{ x }}",
     "00|01|02|0"},
    {"namespace",
     "{% set ns = namespace(total=0, seen=false) %}{% for x in l %}{% set ns.total = ns.total + x %}{% endfor %}{% set ns.seen = true %}{{ ns.total }} {{ ns.seen }} {{ ns }}",
     "6 True <Namespace {'total': 6, 'seen': True}>"},
    {"set_block",
     "{% set x %}block {{ n }}{% endset %}[{{ x }}]{% set y | upper %}up{% endset %}{{ y }}",
     "[block 7]UP"},
    {"filter_block",
     "{% filter upper %}hello {{ s }}{% endfilter %}",
     "HELLO HELLO WORLD"},
    {"with_block",
     "{% with a = 1, b = n %}{{ a }}{{ b }}{% endwith %}[{{ a }}]",
     "17[]"},
    {"conditional_expression",
     "{{ 1 if t else 2 }} {{ 1 if z else 2 }} [{{ 1 if z }}] {{ t and 'yes' }} {{ z or 'no' }} {{ not t }}",
     "1 2 [] yes no False"},
    {"for_else_after_break_or_continue",
     "{% for x in l %}{% break %}{% else %}E1{% endfor %}|{% for x in l %}{% continue %}{% else %}E2{% endfor %}|{% for x in l %}{% if x == 1 %}{% break %}{% endif %}{% else %}E3{% endfor %}",
     "E1|E2|"},
    {"scoping_name_assigned_later_in_frame",
     "{% for j in [1] %}[{{ s }}]{% endfor %}{% set s = 'N' %}[{{ s }}]",
     "[][N]"},
    {"scoping_name_read_first_in_frame",
     "{{ s|length }}{% for j in [1] %}[{{ s }}]{% endfor %}{% set s = 'N' %}[{{ s }}]",
     "11[Hello World][N]"},
    {"scoping_nested_loop_before_assignment",
     "{% for i in [1, 2] %}{% for j in [1] %}[{{ s }}]{% endfor %}{% set s = i %}{% endfor %}|{% for i in [1, 2] %}[{{ n }}]{% set n = i %}{% endfor %}",
     "[][]|[7][7]"},
    {"scoping_assigned_in_if_branch",
     "{% for i in [1, 2] %}{% for j in [1] %}[{{ s }}]{% endfor %}{% if i == 2 %}{% set s = i %}{% endif %}{% endfor %}",
     "[Hello World][Hello World]"},
    {"scoping_macro_sees_later_assignment",
     "{% macro m() %}[{{ n }}]{% endmacro %}{{ m() }}{% set n = 1 %}{{ m() }}",
     "[][1]"},
    {"scoping_block_bodies_are_frames",
     "{% set y %}{% set z = 1 %}{% endset %}[{{ z }}]{% filter upper %}{% set q = 1 %}{% endfilter %}[{{ q }}]",
     "[None][]"},
    {"print_tag",
     "{% print s ~ '!' %}|{% print 1, 2 %}|{% print (1, 2) %}",
     "Hello World!|12|(1, 2)"},
    {"macro_defaults_and_keywords",
     "{% macro f(a, b=2) %}{{ a }}-{{ b }}-{{ c }}{% endmacro %}{% set c = 5 %}{{ f(1) }}|{{ f(1, 3) }}|{{ f(b=4, a=0) }}|{{ f }}",
     "1-2-5|1-3-5|0-4-5|<Macro 'f'>"},
    {"macro_varargs_kwargs",
     "{% macro f(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ f(1, 2, 3, x=4) }}",
     "1(2, 3){'x': 4}"},
    {"macro_recursion",
     "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}",
     "120"},
    {"call_block",
     "{% macro g() %}[{{ caller() }}]{% endmacro %}{% call g() %}inside{% endcall %}{% macro h() %}<{{ caller(5) }}>{% endmacro %}{% call(x) h() %}got {{ x }}{% endcall %}",
     "[inside]<got 5>"},
    {"arithmetic",
     "{{ 1/2 }} {{ 4/2 }} {{ 7//2 }} {{ -7//2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2**10 }} {{ 2**-1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ -2**2 }} {{ 2**3**2 }} {{ 3 * 1.5 }}",
     "0.5 2.0 3 -4 2 -2 1024 0.5 3.0 0.5 4 64 4.5"},
    {"comparisons",
     "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ [1, 2] == (1, 2) }} {{ [1, 2] < [1, 3] }} {{ 'a' < 'b' }} {{ {'a': 1} == {'a': 1.0} }} {{ none == none }}",
     "True False True True False True True True True"},
    {"membership",
     "{{ 'a' in 'cat' }} {{ 2 in l }} {{ 'b' in d }} {{ 'q' not in d }} {{ 5 not in l }} {{ 1 in undefined_name }} {{ none in [none] }}",
     "True True True True True False True"},
    {"concatenation",
     "{{ 'x' ~ none ~ 1.5 ~ true ~ [1] ~ undefined_name }}|{{ 'a' + 'b' }}|{{ [1] + [2] }}|{{ 'ab' * 3 }}|{{ [0] * 2 }}|{{ 2 * 'x' }}",
     "xNone1.5True[1]|ab|[1, 2]|ababab|[0, 0]|xx"},
    {"slicing",
     "{{ 'abc'[5] }}|{{ 'abc'[1:] }}|{{ 'héllo'[::-1] }}|{{ s[:-1] }}|{{ s[-3:] }}|{{ l[::2] }}|{{ l[5:0:-1] }}|{{ s[0] }}|{{ 'héllo'[1] }}|{{ l[-1] }}",
     "|bc|olléh|Hello Worl|rld|[3, 2]|[2, 1]|H|é|2"},
    {"item_and_attribute_access",
     "{{ d.a }} {{ d['a'] }} [{{ d.zz }}] {{ msgs[1].role }} {{ msgs[1]['content'] }} [{{ l[9] }}] {{ d.get('zz', 9) }} {{ objs.0.name }}",
     "2 2 [] user Hi é [] 9 x"},
    {"filters_case",
     "{{ s|upper }} {{ s|lower }} {{ \"they're bill's\"|title }} {{ 'hello wORLD'|capitalize }} {{ 'é ß'|upper }}",
     "HELLO WORLD hello world They're Bill's Hello world É SS"},
    {"filters_trim_replace",
     "[{{ '  x  '|trim }}] [{{ 'xxhixx'|trim('x') }}] {{ s|replace('o', '0') }} {{ s|replace('l', 'L', 2) }}",
     "[x] [hi] Hell0 W0rld HeLLo World"},
    {"filters_length",
     "{{ l|length }} {{ s|length }} {{ d|length }} {{ 'é'|length }} {{ undefined_name|length }} {{ l|count }}",
     "3 11 2 1 0 3"},
    {"filters_join_first_last",
     "{{ l|join(', ') }}|{{ objs|join(',', attribute='name') }}|{{ l|first }}|{{ l|last }}|[{{ []|first }}]|{{ s|first }}|{{ s|last }}",
     "3, 1, 2|x,y,z|3|2|[]|H|d"},
    {"filters_sort",
     "{{ l|sort }}|{{ words|sort }}|{{ words|sort(case_sensitive=true) }}|{{ words|sort(reverse=true) }}|{{ objs|sort(attribute='v')|map(attribute='name')|join }}",
     "[1, 2, 3]|['A', 'a', 'b', 'c']|['A', 'a', 'b', 'c']|['c', 'b', 'A', 'a']|yxz"},
    {"filters_unique_dictsort_reverse",
     "{{ words|unique|list }}|{{ d|dictsort }}|{{ d|dictsort(by='value') }}|{{ l|reverse|list }}|{{ s|reverse }}",
     "['b', 'A', 'c']|[('a', 2), ('b', 1)]|[('b', 1), ('a', 2)]|[2, 1, 3]|dlroW olleH"},
    {"filters_select",
     "{{ objs|selectattr('v', 'gt', 1)|map(attribute='name')|list }}|{{ objs|rejectattr('v', 'equalto', 1)|map(attribute='name')|join }}|{{ l|select('odd')|list }}|{{ l|reject('odd')|list }}|{{ [0, 1, '', 'a']|select|list }}",
     "['x', 'z']|xz|[3, 1]|[2]|[1, 'a']"},
    {"filters_map",
     "{{ objs|map(attribute='missing', default=0)|list }}|{{ words|map('upper')|list }}|{{ l|map('string')|join('-') }}",
     "[0, 0, 0]|['B', 'A', 'A', 'C']|3-1-2"},
    {"filters_numbers",
     "{{ 3.7|int }} {{ '42'|int }} {{ 'x'|int }} {{ '3.9'|int }} {{ 5|float }} {{ '1e3'|float }} {{ 'x'|float }} {{ '0x1A'|int(base=16) }} {{ true|int }} {{ -3|abs }} {{ -2.5|abs }}",
     "3 42 0 3 5.0 1000.0 0.0 26 1 3 2.5"},
    {"filters_round",
     "{{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ -2.5|round }} {{ 5|round }} {{ 1234.5678|round(2, 'floor') }}",
     "2.0 4.0 2.67 3.0 -2.0 5 1234.56"},
    {"filters_default",
     "{{ undefined_name|default('d') }} {{ z|default('d') }} {{ z|default('d', true) }} {{ ''|d('e', true) }} {{ 0|default(5) }}",
     "d None d e 0"},
    {"filters_items_list_string",
     "{{ d|items|list }}|{{ 'ab'|list }}|{{ d|list }}|{{ l|string }}|{{ 5|string }}",
     "[('b', 1), ('a', 2)]|['a', 'b']|['b', 'a']|[3, 1, 2]|5"},
    {"filters_tojson",
     "{{ d|tojson }}|{{ objs[0]|tojson }}|{{ \"é<>&'\\\"\\n\"|tojson }}|{{ [1.0, 2, none, true, 1e20]|tojson }}|{{ d|tojson(indent=2) }}|{{ {}|tojson(indent=2) }}|{{ []|tojson(indent=2) }}",
     "{\"b\": 1, \"a\": 2}|{\"name\": \"x\", \"v\": 2}|\"é<>&'\\\"\\n\"|[1.0, 2, null, true, 1e+20]|{\n  \"b\": 1,\n  \"a\": 2\n}|{}|[]"},
    {"filters_tojson_options",
     "{{ d|tojson(sort_keys=true) }}|{{ 'é'|tojson(ensure_ascii=true) }}|{{ d|tojson(separators=(',', ':')) }}|{{ '😀'|tojson(ensure_ascii=true) }}|{{ msgs|tojson(indent='\\t') }}",
     "{\"a\": 2, \"b\": 1}|\"\\u00e9\"|{\"b\":1,\"a\":2}|\"\\ud83d\\ude00\"|[\n\t{\n\t\t\"role\": \"system\",\n\t\t\"content\": \"S\"\n\t},\n\t{\n\t\t\"role\": \"user\",\n\t\t\"content\": \"Hi é\"\n\t}\n]"},
    {"filters_indent_center_wordcount_truncate",
     "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ s|center(15) }}|{{ 'a b  c'|wordcount }}|{{ s|truncate(8) }}|{{ 'hello world foo'|truncate(11, leeway=0) }}",
     "a\n    b\n\n    c|  a\n  b|a\n  \n  b|  Hello World  |3|Hello World|hello..."},
    {"filters_sum_min_max",
     "{{ l|sum }} {{ objs|sum(attribute='v') }} {{ l|max }} {{ l|min }} {{ words|max }} {{ objs|max(attribute='name') }} [{{ []|max }}]",
     "6 6 3 1 c {'name': 'z', 'v': 3} []"},
    {"filters_safe_escape",
     "{{ s|safe }} {{ '<b>'|safe + '<i>' }} {{ '<b>'|e }} {{ '<b>' ~ '<i>'|safe }} {{ '<'|escape|escape }}",
     "Hello World <b>&lt;i&gt; &lt;b&gt; <b><i> &lt;"},
    {"filters_batch_slice_format",
     "{{ l|batch(2)|list }} {{ l|slice(2)|list }} {{ '%s=%d'|format('a', 3) }}",
     "[[3, 1], [2]] [[3, 1], [2]] a=3"},
    {"tests_types",
     "{{ s is string }} {{ n is number }} {{ n is integer }} {{ f is float }} {{ t is boolean }} {{ z is none }} {{ d is mapping }} {{ l is iterable }} {{ s is iterable }} {{ n is iterable }} {{ l is sequence }} {{ d is sequence }}",
     "True True True True True True True True True False True True"},
    {"tests_values",
     "{{ undefined_name is defined }} {{ undefined_name is undefined }} {{ n is odd }} {{ n is even }} {{ 9 is divisibleby 3 }} {{ 'a' is in 'cat' }} {{ s is lower }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ t is true }} {{ 1 is true }} {{ false is false }}",
     "False True True False True True False True True True False True"},
    {"tests_compare_and_callable",
     "{{ s is eq 'Hello World' }} {{ 1 is ne 2 }} {{ 'a' is equalto 'a' }} {{ 3 is gt 2 }} {{ 3 is lessthan 2 }} {{ range is callable }} {{ s is callable }} {{ none is sameas none }} {{ 'upper' is filter }} {{ 'odd' is test }} {{ s is not none }}",
     "True True True True False True False True True True True"},
    {"string_methods",
     "{{ s.upper() }} {{ s.split() }} {{ s.split('o') }} {{ s.split('o', 1) }} {{ s.rsplit('o', 1) }} {{ s.startswith('He') }} {{ s.endswith(('x', 'ld')) }} {{ s.replace('l', 'L') }} {{ s.find('o') }} {{ s.rfind('o') }} {{ s.count('l') }} {{ 'héllo'.find('l') }}",
     "HELLO WORLD ['Hello', 'World'] ['Hell', ' W', 'rld'] ['Hell', ' World'] ['Hello W', 'rld'] True True HeLLo WorLd 4 7 3 2"},
    {"string_methods_2",
     "[{{ '  a b  '.strip() }}|{{ '  a b  '.lstrip() }}|{{ '  a b  '.rstrip() }}|{{ 'xxaxx'.strip('x') }}] {{ ','.join(['a', 'b']) }} {{ 'a\\nb\\r\\nc'.splitlines() }} {{ 'hello world'.title() }} {{ \"they're\".title() }} {{ 'ab'.center(6, '*') }} {{ '5'.zfill(3) }} {{ 'a=b=c'.partition('=') }}",
     "[a b|a b  |  a b|a] a,b ['a', 'b', 'c'] Hello World They'Re **ab** 005 ('a', '=', 'b=c')"},
    {"string_format",
     "{{ '{} and {}'.format(1, 'two') }}|{{ '{0}{1}{0}'.format('a', 'b') }}|{{ '{x:>5}|{y:.2f}|{z:05d}'.format(x='ab', y=3.14159, z=42) }}|{{ '{:<4}|{:^7}|{:+d}'.format('a', 'mid', 5) }}|{{ '{!r}'.format('q') }}",
     "1 and two|aba|   ab|3.14|00042|a   |  mid  |+5|'q'"},
    {"alternate_forms",
     "{{ '%#o|%#x|%#05o' % (8, 255, 8) }}|{{ '{:#o}|{:#b}|{:#X}'.format(8, 5, 255) }}",
     "0o10|0xff|0o010|0o10|0b101|0XFF"},
    {"percent_format",
     "{{ '%s-%d-%.2f-%5s-%-5s|%x%%' % ('a', 7, 3.14159, 'r', 'l', 255) }}|{{ '%(a)s+%(b)s' % {'a': 1, 'b': 2} }}|{{ '%s' % none }}|{{ '%05.1f' % 3.14159 }}",
     "a-7-3.14-    r-l    |ff%|1+2|None|003.1"},
    {"dict_methods",
     "{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ d.get('a') }} {{ d.get('zz') }} {{ d.items() }}",
     "['b', 'a'] [1, 2] [('b', 1), ('a', 2)] 2 None dict_items([('b', 1), ('a', 2)])"},
    {"list_methods",
     "{{ l.index(1) }} {{ [1, 1, 2].count(1) }}",
     "1 2"},
    {"unicode_case_mappings",
     "{{ 'ß straße ΟΔΟΣ ǆ ﬁ'|upper }}|{{ 'ΟΔΟΣ Σ ΑΣ.'|lower }}|{{ 'ǆemal ﬁsh'.title() }}|{{ 'ǆ'.capitalize() }}|{{ 'Straße ς'.casefold() }}|{{ 'ΣΑΣ'.swapcase() }}|{{ 'hello wörld-élan (ok)'|title }}|{{ 'ᾳ'.upper() }}|{{ 'İ'.lower()|length }}",
     "SS STRASSE ΟΔΟΣ Ǆ FI|οδος σ ας.|ǅemal Fish|ǅ|strasse σ|σας|Hello Wörld-Élan (Ok)|ΑΙ|2"},
    {"unicode_classes",
     "{{ '٣'.isdigit() }} {{ 'Ⅻ'.isnumeric() }} {{ 'Ⅻ'.isdigit() }} {{ 'ǅ'.istitle() }} {{ 'ǅ' is upper }} {{ ['\u200b\u00a0\u2028', '😀'] }} {{ 'naïve café_x 日本語'|wordcount }} {{ '\u3000x\u3000'.strip() }}",
     "True True False True False ['\\u200b\\xa0\\u2028', '😀'] 3 x"},
    {"range_objects",
     "{{ range(3) == [0, 1, 2] }} {{ range(3) == range(3) }} {{ range(10)[2] }} {{ range(10)[2:5]|list }} {{ 3 in range(5) }} {{ range(5)|length }} {{ range(4)|sum }} {{ range(3) is sequence }} {{ range(5).index(3) }}",
     "False True 2 [2, 3, 4] True 5 6 True 3"},
    {"globals_range_dict",
     "{{ range(5)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ dict(a=1, b=2) }} {{ dict([('x', 1)]) }}",
     "[0, 1, 2, 3, 4] [1, 4, 7] [5, 3, 1] {'a': 1, 'b': 2} {'x': 1}"},
    {"globals_joiner_cycler",
     "{% set j = joiner('|') %}{% for x in l %}{{ j() }}{{ x }}{% endfor %} {% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}",
     "3|1|2 abab"},
    {"strftime_now",
     "{{ strftime_now('%Y-%m-%d %H:%M:%S %A %a %B %b %j %U %W %V %G %u %w %e %-d %p %I %y') }}|{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%c|%x|%X|%D|%F') }}",
     "2026-01-15 00:00:00 Thursday Thu January Jan 015 02 02 03 2026 4 4 15 15 AM 12 26|15 Jan 2026|Thu Jan 15 00:00:00 2026|01/15/26|00:00:00|01/15/26|2026-01-15"},
    {"undefined_semantics",
     "[{{ u }}] {{ u is defined }} {{ not u }} {{ u|length }} {{ u|default('x') }} {% for x in u %}never{% else %}empty{% endfor %} {{ u|list }} [{{ u|join }}] [{{ u|trim }}] {{ u == u }} {{ 'x' ~ u }} {{ u is none }}",
     "[] False True 0 x empty [] [] [] True x False"},
    {"undefined_attribute_of_dict_is_falsy",
     "{% if d.missing %}yes{% else %}no{% endif %} {{ d.missing is defined }} {{ msgs[5] is defined }}",
     "no False False"},
    {"generator_is_truthy",
     "{% if l|select('gt', 100) %}truthy{% endif %} {{ l|select('gt', 100)|list|length }}",
     "truthy 0"},
};

TEST(ChatTemplateGolden, MatchesJinja2) {
  const Json vars = Json::parse(kVars);
  for (const Golden& g : kGolden) {
    SCOPED_TRACE(g.name);
    try {
      EXPECT_EQ(render(g.source, vars), g.expected);
    } catch (const Error& e) {
      ADD_FAILURE() << "raised: " << e.what();
    }
  }
}

// ---------------------------------------------------------------------------------------
// Semantics worth stating on their own.

TEST(ChatTemplateSemantics, KeyOrderOfOrderedJsonIsKept) {
  const Json vars = Json::parse(R"({"x": {"zeta": 1, "alpha": {"k": [1, 2.0]}}})");
  EXPECT_EQ(render("{{ x|tojson }}", vars), R"({"zeta": 1, "alpha": {"k": [1, 2.0]}})");
  EXPECT_EQ(render("{% for k in x %}{{ k }} {% endfor %}", vars), "zeta alpha ");
  EXPECT_EQ(render("{{ x|tojson(indent=2) }}", vars),
            "{\n  \"zeta\": 1,\n  \"alpha\": {\n    \"k\": [\n      1,\n      2.0\n    ]\n  }\n}");
}

TEST(ChatTemplateSemantics, NoneIsDefinedButMissingKeysAreUndefined) {
  const Json vars = Json::parse(R"({"m": {"content": null}})");
  EXPECT_EQ(render("{{ m.content is defined }} {{ m.content is none }} {{ m.other is defined }} [{{ m.content }}]", vars),
            "True True False [None]");
}

TEST(ChatTemplateSemantics, UndefinedRaisesWhenUsedBeyondPrintingAndTesting) {
  expect_render_error("{{ missing.attr }}", ErrorCode::kInvalidArgument, "'missing' is undefined");
  expect_render_error("{{ 'a' + missing }}", ErrorCode::kInvalidArgument, "'missing' is undefined");
  expect_render_error("\n{{ d.nope.deeper }}", ErrorCode::kInvalidArgument, "'dict object' has no attribute 'nope' at line 2",
                      Json::parse(R"({"d": {}})"));
  expect_render_error("{{ missing|tojson }}", ErrorCode::kInvalidArgument, "Object of type Undefined is not JSON serializable");
  expect_render_error("{{ [1][3].x }}", ErrorCode::kInvalidArgument, "list object has no element 3");
  expect_render_error("{{ missing < 1 }}", ErrorCode::kInvalidArgument, "'missing' is undefined");
  EXPECT_EQ(render("{{ (1 if false) is defined }}"), "False");
}

TEST(ChatTemplateSemantics, PythonTypeErrors) {
  expect_render_error("{{ 'a' + 1 }}", ErrorCode::kInvalidArgument, "can only concatenate str (not \"int\") to str");
  expect_render_error("{{ 1 + 'a' }}", ErrorCode::kInvalidArgument, "unsupported operand type(s) for +: 'int' and 'str'");
  expect_render_error("{{ 1 < 'a' }}", ErrorCode::kInvalidArgument, "'<' not supported between instances of 'int' and 'str'");
  expect_render_error("{{ 1 / 0 }}", ErrorCode::kInvalidArgument, "division by zero");
  expect_render_error("{{ 1 in none }}", ErrorCode::kInvalidArgument, "argument of type 'NoneType' is not iterable");
  expect_render_error("{% for x in 5 %}{% endfor %}", ErrorCode::kInvalidArgument, "'int' object is not iterable");
  expect_render_error("{{ 2 ** 64 }}", ErrorCode::kOutOfRange, "integer overflow");
}

TEST(ChatTemplateSemantics, SandboxForbidsMutation) {
  expect_render_error("{% set l = [1] %}{{ l.append(2) }}", ErrorCode::kInvalidArgument,
                      "access to attribute 'append' of 'list' object is unsafe.");
  expect_render_error("{% set d = {} %}{{ d.update({'a': 1}) }}", ErrorCode::kInvalidArgument,
                      "access to attribute 'update' of 'dict' object is unsafe.");
  expect_render_error("{% set x = 1 %}{% set x.y = 2 %}", ErrorCode::kInvalidArgument,
                      "cannot assign attribute on non-namespace object");
  EXPECT_EQ(render("{{ ''.__class__ }}|{{ {}.items.__self__ is defined }}"), "|False");
}

TEST(ChatTemplateSemantics, GeneratorsBehaveLikeJinja2s) {
  // map/select/... return one-pass generators: always true, no len(), printing is refused
  // (jinja2 would print an object address).
  EXPECT_EQ(render("{% if [1]|select('gt', 5) %}true{% endif %}"), "true");
  expect_render_error("{{ [1]|map('string')|length }}", ErrorCode::kInvalidArgument, "object of type 'generator' has no len()");
  expect_render_error("{{ [1]|map('string') }}", ErrorCode::kUnsupported, "printing a generator");
  EXPECT_EQ(render("{% set g = [1, 2]|map('string') %}{{ g|join }}|{{ g|join }}"), "12|");
}

TEST(ChatTemplateSemantics, ObjectsPythonPrintsWithAnAddressAreRefused) {
  // Python prints these as "<function safe_range at 0x7f...>": no rendering could match.
  expect_render_error("{{ range }}", ErrorCode::kUnsupported, "printing a function object");
  expect_render_error("{{ 'a'.upper }}", ErrorCode::kUnsupported, "printing a builtin_function_or_method object");
  expect_render_error("{{ [joiner()] }}", ErrorCode::kUnsupported, "printing a Joiner object");
  expect_render_error("{{ range(3) }}", ErrorCode::kUnsupported, "printing a range object");
  // These have stable reprs in jinja2 and print as it does.
  EXPECT_EQ(render("{% macro m() %}{% endmacro %}{{ m }} {% for x in [1] %}{{ loop }}{% endfor %}"),
            "<Macro 'm'> <LoopContext 1/1>");
}

TEST(ChatTemplateSemantics, RaiseExceptionCarriesTheTemplatesMessage) {
  expect_error([] { render("line one\n{{ raise_exception('Roles must alternate!') }}"); }, ErrorCode::kInvalidArgument,
               "Roles must alternate!");
  try {
    render("{{ raise_exception('exact') }}");
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "exact");
  }
}

TEST(ChatTemplateSemantics, StrftimeNowUsesThePinnedClock) {
  EXPECT_EQ(render("{{ strftime_now('%d %B %Y, %A') }}"), "15 January 2026, Thursday");
  expect_render_error("{{ strftime_now('%Q') }}", ErrorCode::kUnsupported, "unsupported strftime directive '%Q'");
  // Unpinned, it reads the current time: only check the shape.
  EXPECT_EQ(Template("{{ strftime_now('%Y')|length }}").render(Json::object()), "4");
}

TEST(ChatTemplateSemantics, MarkupEscapesPlainStringsAddedToIt) {
  EXPECT_EQ(render("{{ '<a>'|safe + '<b>' }}|{{ '<a>' + '<b>'|safe }}|{{ '<a>'|safe ~ '<b>' }}"),
            "<a>&lt;b&gt;|&lt;a&gt;<b>|<a><b>");
}

TEST(ChatTemplateSemantics, UnknownFilterInsideIfFailsOnlyWhenRun) {
  // jinja2 defers "no filter named" inside if blocks and conditional expressions.
  EXPECT_EQ(render("{% if false %}{{ x|nope }}{% endif %}ok"), "ok");
  expect_render_error("{% if true %}{{ x|nope }}{% endif %}", ErrorCode::kBadFormat, "no filter named 'nope'");
  expect_parse_error("{{ x|nope }}", ErrorCode::kBadFormat, "no filter named 'nope' at line 1");
}

TEST(ChatTemplateSemantics, RendersConcurrently) {
  const Template tmpl(
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
      "<{{ m.role }}>{{ m.content|trim }}{% endfor %}{{ ns.n }}{{ strftime_now('%Y') }}");
  const Json vars = Json::parse(R"({"messages": [{"role": "user", "content": " a "}, {"role": "assistant", "content": "b"}]})");
  std::vector<std::thread> threads;
  std::vector<std::string> results(8);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 50; ++k) results[i] = tmpl.render(vars, pinned_clock());
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& r : results) EXPECT_EQ(r, "<user>a<assistant>b22026");
}

TEST(ChatTemplateApi, ChatTemplateRendersAndMoves) {
  ChatTemplate a("{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}");
  ChatTemplate b = std::move(a);
  const nlohmann::json vars = {{"bos_token", "<s>"},
                               {"messages", nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}})}};
  EXPECT_EQ(b.render(vars), "<s>[user]hi");
  expect_error([&] { b.render(nlohmann::json::array()); }, ErrorCode::kInvalidArgument, "must be a JSON object");
  expect_error([] { ChatTemplate bad("{% if %}"); }, ErrorCode::kBadFormat, "at line 1");
}

// ---------------------------------------------------------------------------------------
// Syntax errors and unsupported constructs name the construct and the line.

TEST(ChatTemplateErrors, SyntaxErrorsGiveTheLine) {
  expect_parse_error("a\n{% if x %}\nb", ErrorCode::kBadFormat, "unexpected end of template, expected 'elif' or 'else' or 'endif' at line 3");
  expect_parse_error("{{ 1 + }}", ErrorCode::kBadFormat, "unexpected 'end of print statement' at line 1");
  expect_parse_error("\n\n{% foo %}", ErrorCode::kBadFormat, "unknown tag 'foo' at line 3");
  expect_parse_error("{% endif %}", ErrorCode::kBadFormat, "unexpected tag 'endif' at line 1");
  expect_parse_error("{% break %}", ErrorCode::kBadFormat, "'break' outside loop at line 1");
  expect_parse_error("{% for x in l %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}", ErrorCode::kBadFormat,
                     "'continue' outside loop");
  expect_parse_error("x\n{# never closed", ErrorCode::kBadFormat, "missing end of comment tag at line 2");
  expect_parse_error("{{ 'open }}", ErrorCode::kBadFormat, "unterminated string literal at line 1");
  expect_parse_error("{{ (1 }}", ErrorCode::kBadFormat, "unexpected '}', expected ')' at line 1");
  expect_parse_error("{{ a ! b }}", ErrorCode::kBadFormat, "unexpected char '!' at line 1");
  expect_parse_error("{{ x is nonsense }}", ErrorCode::kBadFormat, "no test named 'nonsense' at line 1");
  expect_parse_error("{% do x %}", ErrorCode::kBadFormat, "unknown tag 'do'");
  expect_parse_error("{% set true = 1 %}", ErrorCode::kBadFormat, "can't assign to constant 'true'");
  expect_parse_error("{{ x\n", ErrorCode::kBadFormat, "unclosed variable tag");
}

TEST(ChatTemplateErrors, UnsupportedConstructsAreNamed) {
  const char* tags[] = {"extends", "block", "include", "import", "from", "autoescape"};
  for (const char* tag : tags) {
    SCOPED_TRACE(tag);
    expect_parse_error(std::string(11, '\n') + "{% " + tag + " 'x' %}", ErrorCode::kUnsupported,
                       std::string("unsupported tag '") + tag + "' at line 12");
  }
  expect_parse_error("\n{{ x|wordwrap }}", ErrorCode::kUnsupported, "unsupported filter 'wordwrap' at line 2");
  expect_parse_error("{% for x in l recursive %}{% endfor %}", ErrorCode::kUnsupported, "unsupported recursive for loop at line 1");
  expect_parse_error("{{ f(*args) }}", ErrorCode::kUnsupported, "unsupported *-argument unpacking");
  expect_render_error("{{ 'x'.translate({}) }}", ErrorCode::kUnsupported, "unsupported method str.translate()");
  expect_render_error("{{ lipsum() }}", ErrorCode::kUnsupported, "unsupported global 'lipsum'");
  expect_render_error("{{ '{:,}'.format(1000) }}", ErrorCode::kUnsupported, "unsupported digit grouping");
}

// ---------------------------------------------------------------------------------------
// Limits: hostile templates get OUT_OF_RANGE errors, not crashes or hangs.

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(ChatTemplateLimits, ParserNesting) {
  using llmrt::genai::jinja::kMaxExprDepth;
  using llmrt::genai::jinja::kMaxNesting;
  expect_parse_error("{{ " + repeat("(", 1000) + "1" + repeat(")", 1000) + " }}", ErrorCode::kOutOfRange,
                     "nests more than 64 levels deep at line 1");
  expect_parse_error(repeat("{% if true %}", 1000) + repeat("{% endif %}", 1000), ErrorCode::kOutOfRange, "nests more than");
  expect_parse_error("{{ " + repeat("not ", 100000) + "x }}", ErrorCode::kOutOfRange, "nests more than");
  expect_parse_error("{{ 1" + repeat(" + 1", 100000) + " }}", ErrorCode::kOutOfRange, "expression more than 256 levels deep");
  expect_parse_error("{{ x" + repeat("|upper", 100000) + " }}", ErrorCode::kOutOfRange, "expression more than 256 levels deep");
  // Just inside the limits still works.
  EXPECT_EQ(render("{{ " + repeat("(", kMaxNesting - 2) + "1" + repeat(")", kMaxNesting - 2) + " }}"), "1");
  EXPECT_EQ(render("{{ 0" + repeat(" + 1", kMaxExprDepth - 2) + " }}"), std::to_string(kMaxExprDepth - 2));
}

TEST(ChatTemplateLimits, Recursion) {
  expect_render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", ErrorCode::kOutOfRange,
                      "macro calls nested more than 40 deep (recursive macro 'f')");
  // Deep statements and expressions inside a recursive macro hit the evaluation depth limit.
  const std::string body = repeat("{% if true %}", 60) + "{% if n < 100 %}{{ f(n" + repeat(" + 0", 250) + " + 1) }}{% endif %}" +
                           repeat("{% endif %}", 60);
  expect_render_error("{% macro f(n) %}" + body + "{% endmacro %}{{ f(0) }}", ErrorCode::kOutOfRange,
                      "template evaluation nested too deeply");
  // Work that is cheap to write but expensive to run exhausts the step budget.
  expect_render_error("{% set l = range(2000)|list %}{% for i in range(100000) %}{{ l|sort|length }}{% endfor %}",
                      ErrorCode::kOutOfRange, "evaluation steps");
}

TEST(ChatTemplateLimits, LoopsOutputAndValues) {
  expect_render_error("{% for i in range(2000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", ErrorCode::kOutOfRange,
                      "more than 1000000 loop iterations at line 1");
  expect_render_error("{{ range(100001)|length }}", ErrorCode::kOutOfRange,
                      "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  expect_render_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", ErrorCode::kOutOfRange,
                      "template output longer than 67108864 bytes");
  expect_render_error("{{ 'x' * 1000000000 }}", ErrorCode::kOutOfRange, "string repetition longer than");
  expect_render_error("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                      ErrorCode::kOutOfRange, "string longer than");
  expect_render_error("{% set ns = namespace(l=[]) %}{% for i in range(300) %}{% set ns.l = [ns.l] %}{% endfor %}",
                      ErrorCode::kOutOfRange, "value nested more than 200 levels deep");
  expect_render_error("{% set ns = namespace() %}{% set ns.x = [ns] %}{{ ns }}", ErrorCode::kOutOfRange,
                      "namespace printed inside itself");
  Json deep = Json::array();
  for (int i = 0; i < 1000; ++i) deep = Json::array({deep});
  expect_error([&] { render("{{ x }}", Json{{"x", deep}}); }, ErrorCode::kOutOfRange, "nested more than 200 levels deep");
}

}  // namespace
