#include "config/setting_catalog.hpp"

#include <array>

namespace opstream::config {

namespace {

constexpr std::string_view kEndpoints = "Transports and endpoints";
constexpr std::string_view kEnginesGroup = "Document engines";
constexpr std::string_view kStorage = "Storage";
constexpr std::string_view kBackplane = "Backplane";
constexpr std::string_view kHost = "Listener and host";
constexpr std::string_view kLogging = "Logging";
constexpr std::string_view kTuning = "Tuning (OpStream Server extensions; the reference image hard-codes these)";

// Defaults shown are those of the server image (§1.9), which this binary applies when nothing is set.
constexpr std::array kCatalog = {
    SettingInfo{kEndpoints, keys::kTransports, "OPSTREAM__TRANSPORTS", "signalr",
                "Collaboration transports, comma-separated: signalr, websockets, grpc. At least one entry is "
                "required; unknown names are ignored with a warning."},
    SettingInfo{kEndpoints, keys::kSignalRPath, "OPSTREAM__SIGNALR__PATH", "/collab",
                "Route of the SignalR collaboration hub."},
    SettingInfo{kEndpoints, keys::kSignalRManagementPath, "OPSTREAM__SIGNALR__MANAGEMENTPATH", "/manage",
                "Route of the SignalR management hub."},
    SettingInfo{kEndpoints, keys::kWebSocketsPath, "OPSTREAM__WEBSOCKETS__PATH", "/collab-ws",
                "Route of the raw WebSocket collaboration endpoint."},
    SettingInfo{kEndpoints, keys::kWebSocketsManagementPath, "OPSTREAM__WEBSOCKETS__MANAGEMENTPATH", "/manage-ws",
                "Route of the raw WebSocket management endpoint."},
    SettingInfo{kEnginesGroup, keys::kEngines, "OPSTREAM__ENGINES", "text,json",
                "Document engines, comma-separated: text, json, rich-text (alias richtext), table, form, tree. "
                "text is always registered first."},
    SettingInfo{kStorage, keys::kStorageProvider, "OPSTREAM__STORAGE__PROVIDER", "memory",
                "Document store: memory, postgres (postgresql), mysql (mariadb), sqlserver (mssql), sqlite, "
                "mongo (mongodb), redis. Lower-cased, not trimmed."},
    SettingInfo{kStorage, keys::kStorageConnectionString, "OPSTREAM__STORAGE__CONNECTIONSTRING", "(none)",
                "Connection string of the document store; required for every provider except memory."},
    SettingInfo{kStorage, keys::kStorageDatabaseName, "OPSTREAM__STORAGE__DATABASENAME", "opstream",
                "Database name (mongo only)."},
    SettingInfo{kStorage, keys::kStorageStartupRetrySeconds, "OPSTREAM__STORAGE__STARTUPRETRYSECONDS", "30",
                "How long startup keeps retrying an unreachable document store before giving up, in seconds."},
    SettingInfo{kBackplane, keys::kBackplaneProvider, "OPSTREAM__BACKPLANE__PROVIDER", "local",
                "Cluster backplane: local (single node) or redis. Lower-cased, not trimmed."},
    SettingInfo{kBackplane, keys::kBackplaneConnectionString, "OPSTREAM__BACKPLANE__CONNECTIONSTRING", "(none)",
                "Redis connection string (StackExchange.Redis format); required when the backplane is redis."},
    SettingInfo{kHost, keys::kUrls, "ASPNETCORE_URLS", "http://+:8080",
                "Listening URLs separated by ';': http://+:PORT or http://*:PORT (every interface), "
                "http://localhost:PORT, http://IPv4:PORT, http://[IPv6]:PORT. Port 0 picks a free port. "
                "https:// is refused: terminate TLS at a proxy. Also --urls."},
    SettingInfo{kHost, keys::kHttpPorts, "ASPNETCORE_HTTP_PORTS", "(none)",
                "Ports separated by ';', each bound on every interface; used only when ASPNETCORE_URLS is not "
                "set. ASPNETCORE_HTTPS_PORTS is refused like https:// URLs."},
    SettingInfo{kHost, keys::kEnvironment, "ASPNETCORE_ENVIRONMENT", "Production",
                "Environment name; selects appsettings.{Environment}.json. DOTNET_ENVIRONMENT overrides it "
                "and --environment overrides both, as in ASP.NET Core 7 and later."},
    SettingInfo{kHost, keys::kAllowedHosts, "ALLOWEDHOSTS", "*",
                "Host header filter, ';'-separated host names; * allows any host."},
    SettingInfo{kLogging, keys::kDefaultLogLevel, "LOGGING__LOGLEVEL__DEFAULT", "Information",
                "Minimum log level: Trace, Debug, Information, Warning, Error, Critical or None."},
    SettingInfo{kLogging, keys::kAspNetCoreLogLevel, "LOGGING__LOGLEVEL__MICROSOFT.ASPNETCORE", "Warning",
                "Minimum log level of the HTTP layer (request and connection logs)."},
    SettingInfo{kTuning, keys::kWorkerThreads, "OPSTREAM__SERVER__WORKERTHREADS", "CPU cores",
                "Worker event loops, one thread each; connections and documents are spread over them and stay on "
                "theirs. 0 means one per CPU core."},
    SettingInfo{kTuning, keys::kSendQueueLimitBytes, "OPSTREAM__SERVER__SENDQUEUELIMITBYTES", "16777216",
                "Bytes a connection may have queued for sending before it is closed as a slow consumer (16 MiB)."},
    SettingInfo{kTuning, keys::kWritePacingMicroseconds, "OPSTREAM__SERVER__WRITEPACINGMICROSECONDS", "400",
                "A WebSocket written to less than this many microseconds ago waits up to that long before its next "
                "write, so that a burst of broadcasts leaves in fewer writes; 0 writes every flush at once."},
    SettingInfo{kTuning, keys::kFanOutPacingMicroseconds, "OPSTREAM__SERVER__FANOUTPACINGMICROSECONDS", "4000",
                "The same for documents with more than 64 receivers, whose ops come further apart; 0 writes at "
                "once."},
    SettingInfo{kTuning, keys::kShutdownGraceSeconds, "OPSTREAM__SERVER__SHUTDOWNGRACESECONDS", "10",
                "Seconds granted on SIGTERM to flush snapshots and close connections before exiting."},
    SettingInfo{kTuning, keys::kWebSocketMaxMessageBytes, "OPSTREAM__WEBSOCKETS__MAXMESSAGEBYTES", "2097152",
                "Largest raw WebSocket message accepted; bigger ones close the socket with 1009 (2 MiB)."},
    SettingInfo{kTuning, keys::kIdleCloseSeconds, "OPSTREAM__SESSION__IDLECLOSESECONDS", "300",
                "Seconds a document stays open after its last client leaves."},
    SettingInfo{kTuning, keys::kSnapshotEveryOps, "OPSTREAM__SESSION__SNAPSHOTEVERYOPS", "100",
                "Snapshot a document after this many ops (0 disables the op trigger)."},
    SettingInfo{kTuning, keys::kSnapshotEverySeconds, "OPSTREAM__SESSION__SNAPSHOTEVERYSECONDS", "300",
                "Snapshot a document with new ops at least this often, in seconds (0 disables the time trigger)."},
    SettingInfo{kTuning, keys::kOpLogTailOps, "OPSTREAM__SESSION__OPLOGTAILOPS", "1000",
                "Recent ops kept in memory per open document so that late clients can catch up."},
    SettingInfo{kTuning, keys::kAwarenessTtlSeconds, "OPSTREAM__AWARENESS__TTLSECONDS", "30",
                "Seconds a presence (awareness) entry lives without a refresh."},
};

}  // namespace

std::span<const SettingInfo> SettingCatalog() { return kCatalog; }

}  // namespace opstream::config
