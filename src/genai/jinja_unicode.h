// Python's Unicode character data for the chat-template interpreter: str.upper()/lower()/
// title()/casefold() mappings (full mappings, so "ß".upper() == "SS") and the character classes behind
// str.isalnum(), isdigit(), isprintable() (for repr), regex \w, and the Final_Sigma rule.
//
// jinja_unicode.cpp is generated: save the script below as gen_unicode.py and run
// `python3 gen_unicode.py src/genai/jinja_unicode.cpp`. Its Unicode version is the Python's.
//
//   # Writes jinja_unicode.cpp: Python's str case mappings and character classes as range tables.
//   import sys, unicodedata
//   CPS = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
//
//   def mapping_runs(fn):
//       runs, special = [], []
//       for cp in CPS:
//           c = chr(cp); m = fn(c)
//           if m == c: continue
//           if len(m) > 1: special.append((cp, m)); continue
//           d = ord(m) - cp
//           if runs and runs[-1][2] == d and cp - runs[-1][1] in (1, 2) and runs[-1][3] in (0, cp - runs[-1][1]):
//               runs[-1][3] = cp - runs[-1][1]; runs[-1][1] = cp
//           else:
//               runs.append([cp, cp, d, 0])
//       return runs, special
//
//   def class_runs(pred):
//       runs, start = [], None
//       for cp in range(0x110001):
//           v = cp < 0x110000 and not 0xD800 <= cp <= 0xDFFF and pred(chr(cp))
//           if v and start is None: start = cp
//           if not v and start is not None: runs.append((start, cp - 1)); start = None
//       return runs
//
//   def cased(c): return c.isupper() or c.islower() or unicodedata.category(c) == 'Lt'
//   def case_ignorable(c):
//       if cased(c): return ('1' + c + '\u03a3').lower()[-1] == '\u03c3'
//       return ('A\u03a3' + c + 'B').lower()[1] == '\u03c3'
//
//   def lower_no_sigma(c): return c.lower()
//
//   out = []
//   w = out.append
//   w('// Generated from Python %s (Unicode %s) by the script in jinja_unicode.h; do not edit.' % (sys.version.split()[0], unicodedata.unidata_version))
//   w('#include "genai/jinja_unicode.h"')
//   w('')
//   w('namespace llmrt::genai::jinja::unicode {')
//   w('')
//   def emit_mapping(name, fn):
//       runs, special = mapping_runs(fn)
//       w('const CaseRun k%sRuns[] = {' % name)
//       for i in range(0, len(runs), 4):
//           w('    ' + ' '.join('{0x%X, 0x%X, %d, %d},' % tuple(r) for r in runs[i:i+4]))
//       w('};')
//       w('const size_t k%sRunCount = sizeof(k%sRuns) / sizeof(k%sRuns[0]);' % (name, name, name))
//       w('const SpecialCase k%sSpecial[] = {' % name)
//       for cp, m in special:
//           w('    {0x%X, "%s"},' % (cp, ''.join('\\x%02x' % b for b in m.encode('utf-8'))))
//       if not special: w('    {0, ""},')
//       w('};')
//       w('const size_t k%sSpecialCount = %d;' % (name, len(special)))
//       w('')
//   emit_mapping('Upper', str.upper)
//   emit_mapping('Lower', lower_no_sigma)
//   emit_mapping('Title', str.title)
//   emit_mapping('Fold', str.casefold)
//   def emit_class(name, pred):
//       runs = class_runs(pred)
//       w('const CodeRange k%s[] = {' % name)
//       for i in range(0, len(runs), 6):
//           w('    ' + ' '.join('{0x%X, 0x%X},' % r for r in runs[i:i+6]))
//       w('};')
//       w('const size_t k%sCount = sizeof(k%s) / sizeof(k%s[0]);' % (name, name, name))
//       w('')
//   emit_class('Cased', cased)
//   emit_class('CaseIgnorable', case_ignorable)
//   emit_class('UppercaseProp', str.isupper)
//   emit_class('LowercaseProp', str.islower)
//   emit_class('TitlecaseProp', lambda c: unicodedata.category(c) == 'Lt')
//   emit_class('Alpha', str.isalpha)
//   emit_class('Digit', str.isdigit)
//   emit_class('Decimal', str.isdecimal)
//   emit_class('Numeric', str.isnumeric)
//   emit_class('NonPrintable', lambda c: not c.isprintable())
//   w('}  // namespace llmrt::genai::jinja::unicode')
//   open(sys.argv[1], 'w').write('\n'.join(out) + '\n')
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmrt::genai::jinja::unicode {

// Code points first..last map to cp + delta; with stride 2 only every other one does.
struct CaseRun {
  uint32_t first, last;
  int32_t delta;
  uint32_t stride;
};
// A code point whose mapping is several code points (UTF-8).
struct SpecialCase {
  uint32_t cp;
  const char* utf8;
};
struct CodeRange {
  uint32_t first, last;
};

extern const CaseRun kUpperRuns[], kLowerRuns[], kTitleRuns[], kFoldRuns[];
extern const size_t kUpperRunCount, kLowerRunCount, kTitleRunCount, kFoldRunCount;
extern const SpecialCase kUpperSpecial[], kLowerSpecial[], kTitleSpecial[], kFoldSpecial[];
extern const size_t kUpperSpecialCount, kLowerSpecialCount, kTitleSpecialCount, kFoldSpecialCount;
extern const CodeRange kCased[], kCaseIgnorable[], kUppercaseProp[], kLowercaseProp[], kTitlecaseProp[], kAlpha[],
    kDigit[], kDecimal[], kNumeric[], kNonPrintable[];
extern const size_t kCasedCount, kCaseIgnorableCount, kUppercasePropCount, kLowercasePropCount,
    kTitlecasePropCount, kAlphaCount, kDigitCount, kDecimalCount, kNumericCount, kNonPrintableCount;

}  // namespace llmrt::genai::jinja::unicode
