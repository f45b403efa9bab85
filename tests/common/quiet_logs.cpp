// Tests run silently unless OPSTREAM_TEST_LOGS is set (the loggers would otherwise print every
// join and rejection the tests provoke).
#include <cstdlib>

#include "common/logging.hpp"

namespace {
const bool kConfigured = [] {
  opstream::ConfigureLogging(std::getenv("OPSTREAM_TEST_LOGS") ? spdlog::level::trace : spdlog::level::off);
  return true;
}();
}  // namespace
