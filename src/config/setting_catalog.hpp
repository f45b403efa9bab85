#pragma once
// Every configuration key the server reads, with its environment-variable form, its default and a
// one-line description. The loader reads exactly these keys and `--help` prints exactly this list, so
// the two cannot drift apart.
#include <span>
#include <string_view>

namespace opstream::config {

namespace keys {
// Read by the reference host (server spec §1.2).
inline constexpr std::string_view kTransports = "OpStream:Transports";
inline constexpr std::string_view kEngines = "OpStream:Engines";
inline constexpr std::string_view kStorageProvider = "OpStream:Storage:Provider";
inline constexpr std::string_view kStorageConnectionString = "OpStream:Storage:ConnectionString";
inline constexpr std::string_view kStorageDatabaseName = "OpStream:Storage:DatabaseName";
inline constexpr std::string_view kBackplaneProvider = "OpStream:Backplane:Provider";
inline constexpr std::string_view kBackplaneConnectionString = "OpStream:Backplane:ConnectionString";
inline constexpr std::string_view kSignalRPath = "OpStream:SignalR:Path";
inline constexpr std::string_view kSignalRManagementPath = "OpStream:SignalR:ManagementPath";
inline constexpr std::string_view kWebSocketsPath = "OpStream:WebSockets:Path";
inline constexpr std::string_view kWebSocketsManagementPath = "OpStream:WebSockets:ManagementPath";
// Web host and Kestrel keys (ASPNETCORE_URLS arrives as `urls`, ASPNETCORE_HTTP_PORTS as `http_ports`).
inline constexpr std::string_view kUrls = "urls";
inline constexpr std::string_view kHttpPorts = "http_ports";
inline constexpr std::string_view kHttpsPorts = "https_ports";
inline constexpr std::string_view kEnvironment = "environment";
inline constexpr std::string_view kContentRoot = "contentRoot";
inline constexpr std::string_view kDefaultLogLevel = "Logging:LogLevel:Default";
inline constexpr std::string_view kAspNetCoreLogLevel = "Logging:LogLevel:Microsoft.AspNetCore";
inline constexpr std::string_view kAllowedHosts = "AllowedHosts";
// OpStream Server extensions: not read by the reference, which hard-codes these values (§1.5).
inline constexpr std::string_view kWorkerThreads = "OpStream:Server:WorkerThreads";
inline constexpr std::string_view kSendQueueLimitBytes = "OpStream:Server:SendQueueLimitBytes";
inline constexpr std::string_view kWritePacingMicroseconds = "OpStream:Server:WritePacingMicroseconds";
inline constexpr std::string_view kFanOutPacingMicroseconds = "OpStream:Server:FanOutPacingMicroseconds";
inline constexpr std::string_view kShutdownGraceSeconds = "OpStream:Server:ShutdownGraceSeconds";
inline constexpr std::string_view kWebSocketMaxMessageBytes = "OpStream:WebSockets:MaxMessageBytes";
inline constexpr std::string_view kIdleCloseSeconds = "OpStream:Session:IdleCloseSeconds";
inline constexpr std::string_view kSnapshotEveryOps = "OpStream:Session:SnapshotEveryOps";
inline constexpr std::string_view kSnapshotEverySeconds = "OpStream:Session:SnapshotEverySeconds";
inline constexpr std::string_view kOpLogTailOps = "OpStream:Session:OpLogTailOps";
inline constexpr std::string_view kAwarenessTtlSeconds = "OpStream:Awareness:TtlSeconds";
inline constexpr std::string_view kStorageStartupRetrySeconds = "OpStream:Storage:StartupRetrySeconds";
}  // namespace keys

struct SettingInfo {
  std::string_view group;          // heading in --help
  std::string_view key;            // configuration key, e.g. OpStream:Storage:Provider
  std::string_view environment;    // environment variable, e.g. OPSTREAM__STORAGE__PROVIDER
  std::string_view default_value;  // as shown to operators
  std::string_view description;    // one sentence
};

// In --help order.
std::span<const SettingInfo> SettingCatalog();

}  // namespace opstream::config
