// Stop strings over streamed text. Text is pushed as it is decoded; push() returns what may be
// shown now. A suffix that could still grow into a stop string is held back, so a stream never
// shows the start of a stop string that then completes (even when it is split across tokens).
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace llmrt::genai {

class StopStrings {
 public:
  StopStrings(std::set<std::string> stops, bool include_stop_in_output);

  struct Step {
    std::string emit;      // text that is final now
    bool stopped = false;  // a stop string was found (emit ends before it, or after it if included)
  };
  Step push(std::string_view text);
  // At the end of generation (no stop found): the held-back text.
  std::string flush();

 private:
  std::set<std::string> stops_;
  bool include_;
  std::string pending_;
};

}  // namespace llmrt::genai
