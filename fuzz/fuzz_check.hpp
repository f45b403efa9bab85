#pragma once
// Invariant checks shared by the fuzz targets. A violation prints what failed and aborts, so that
// libFuzzer (and the standalone driver under ASan) records the input as a crash.
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace opstream::fuzz {

[[noreturn]] inline void Fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  if (!detail.empty()) {
    // Bounded: a huge input should not flood the log.
    const auto shown = detail.substr(0, 2000);
    std::fprintf(stderr, "  detail: %.*s%s\n", static_cast<int>(shown.size()), shown.data(),
                 detail.size() > shown.size() ? " ..." : "");
  }
  std::abort();
}

inline void Check(bool condition, const char* what, std::string_view detail = {}) {
  if (!condition) Fail(what, detail);
}

}  // namespace opstream::fuzz
