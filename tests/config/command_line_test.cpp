// `--help`, `--version`, `--probe` and the help text.
#include "config/command_line.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "common/text.hpp"
#include "config/setting_catalog.hpp"

namespace opstream::config {
namespace {

using ::testing::HasSubstr;

TEST(ConfigHelpTest, ListsEveryKeyWithItsEnvironmentFormAndDefault) {
  const std::string help = HelpText();
  for (const SettingInfo& info : SettingCatalog()) {
    EXPECT_THAT(help, HasSubstr(std::string(info.key))) << info.key;
    EXPECT_THAT(help, HasSubstr(std::string(info.environment))) << info.key;
    if (info.default_value != "(none)") {
      EXPECT_THAT(help, HasSubstr("Default: " + std::string(info.default_value) + ".")) << info.key;
    }
  }
}

TEST(ConfigHelpTest, CatalogCoversEverySettingOfTheSpecAndTheExtensions) {
  const std::set<std::string> expected = {
      // §1.2
      "OpStream:Transports", "OpStream:Engines", "OpStream:Storage:Provider", "OpStream:Storage:ConnectionString",
      "OpStream:Storage:DatabaseName", "OpStream:Backplane:Provider", "OpStream:Backplane:ConnectionString",
      "OpStream:SignalR:Path", "OpStream:SignalR:ManagementPath", "OpStream:WebSockets:Path",
      "OpStream:WebSockets:ManagementPath", "urls", "http_ports", "environment", "Logging:LogLevel:Default",
      "Logging:LogLevel:Microsoft.AspNetCore", "AllowedHosts",
      // Extensions
      "OpStream:Server:WorkerThreads", "OpStream:Server:SendQueueLimitBytes", "OpStream:Server:WritePacingMicroseconds",
      "OpStream:Server:FanOutPacingMicroseconds", "OpStream:Server:ShutdownGraceSeconds",
      "OpStream:WebSockets:MaxMessageBytes", "OpStream:Session:IdleCloseSeconds", "OpStream:Session:SnapshotEveryOps",
      "OpStream:Session:SnapshotEverySeconds", "OpStream:Session:OpLogTailOps", "OpStream:Awareness:TtlSeconds",
      "OpStream:Storage:StartupRetrySeconds"};
  std::set<std::string> actual;
  for (const SettingInfo& info : SettingCatalog()) actual.emplace(info.key);
  EXPECT_EQ(actual, expected);
}

TEST(ConfigHelpTest, EnvironmentFormsFollowTheDoubleUnderscoreRule) {
  for (const SettingInfo& info : SettingCatalog()) {
    if (!info.key.starts_with("OpStream:") && !info.key.starts_with("Logging:") && info.key != "AllowedHosts") continue;
    std::string expected;
    for (char c : info.key) expected += c == ':' ? std::string("__") : std::string(1, c);
    EXPECT_TRUE(AsciiIEquals(info.environment, expected)) << info.key << " vs " << info.environment;
    EXPECT_EQ(info.environment.find_first_of("abcdefghijklmnopqrstuvwxyz"), std::string_view::npos) << info.environment;
  }
}

TEST(ConfigHelpTest, ListsTheFlagsAndStaysNarrow) {
  const std::string help = HelpText();
  EXPECT_THAT(help, HasSubstr("--help"));
  EXPECT_THAT(help, HasSubstr("--version"));
  EXPECT_THAT(help, HasSubstr("--probe URL"));
  EXPECT_THAT(help, HasSubstr("2xx"));
  EXPECT_EQ(help.back(), '\n');
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LE(line.size(), 110u) << line;
    EXPECT_TRUE(line.empty() || line.back() != ' ') << "trailing space: " << line;
  }
}

LaunchRequest Launch(const std::vector<std::string>& args) {
  LaunchRequest request;
  Status status = ParseLaunchRequest(args, request);
  EXPECT_TRUE(status.ok()) << status.message();
  return request;
}

TEST(ConfigLaunchTest, RecognisesTheFlags) {
  EXPECT_EQ(Launch({}).mode, LaunchMode::kRun);
  EXPECT_EQ(Launch({"--OpStream:Transports=grpc"}).mode, LaunchMode::kRun);
  EXPECT_EQ(Launch({"--help"}).mode, LaunchMode::kHelp);
  EXPECT_EQ(Launch({"-h"}).mode, LaunchMode::kHelp);
  EXPECT_EQ(Launch({"--version"}).mode, LaunchMode::kVersion);
  const LaunchRequest probe = Launch({"--probe", "http://localhost:8080/health/live"});
  EXPECT_EQ(probe.mode, LaunchMode::kProbe);
  EXPECT_EQ(probe.probe_url, "http://localhost:8080/health/live");
  EXPECT_EQ(Launch({"--probe=http://127.0.0.1:1/health"}).probe_url, "http://127.0.0.1:1/health");
}

TEST(ConfigLaunchTest, ProbeNeedsAUrl) {
  LaunchRequest request;
  EXPECT_FALSE(ParseLaunchRequest({"--probe"}, request).ok());
  EXPECT_FALSE(ParseLaunchRequest({"--probe", "--help"}, request).ok());
  EXPECT_FALSE(ParseLaunchRequest({"--probe="}, request).ok());
}

}  // namespace
}  // namespace opstream::config
