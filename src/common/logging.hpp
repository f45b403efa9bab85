#pragma once
// Loggers named by category, written in the console format of the reference host
// (`warn: Category[0]` followed by the indented message), so log-based alerting keeps working.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace opstream {

// Installs the console sink and format; `level` is a spdlog level. Call once at startup.
void ConfigureLogging(spdlog::level::level_enum level);
// The logger of one category; created on first use with the shared sink.
std::shared_ptr<spdlog::logger> GetLogger(std::string_view category);

}  // namespace opstream
