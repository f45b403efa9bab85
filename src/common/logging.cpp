#include "common/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace opstream {
namespace {

// Microsoft.Extensions.Logging's console level names.
class AspNetLevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr std::string_view kNames[] = {"trce", "dbug", "info", "warn", "fail", "crit", "    "};
    const auto name = kNames[static_cast<int>(msg.level)];
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<AspNetLevelFlag>(); }
};

std::mutex& RegistryMutex() {
  static std::mutex mutex;
  return mutex;
}

spdlog::sink_ptr& SharedSink() {
  static spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  return sink;
}

spdlog::level::level_enum& SharedLevel() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}

void ApplyFormat(spdlog::logger& logger) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<AspNetLevelFlag>('*').set_pattern("%*: %n[0]\n      %v");
  logger.set_formatter(std::move(formatter));
  logger.set_level(SharedLevel());
  logger.flush_on(spdlog::level::trace);
}

}  // namespace

void ConfigureLogging(spdlog::level::level_enum level) {
  std::lock_guard lock(RegistryMutex());
  SharedLevel() = level;
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& logger) { ApplyFormat(*logger); });
}

std::shared_ptr<spdlog::logger> GetLogger(std::string_view category) {
  std::lock_guard lock(RegistryMutex());
  const std::string name(category);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, SharedSink());
  ApplyFormat(*logger);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace opstream
