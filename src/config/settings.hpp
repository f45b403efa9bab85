#pragma once
// Server settings, read from the same sources, with the same precedence, parsing rules and startup
// error messages as the reference .NET host (server spec §1), plus OpStream Server's own tuning keys.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.hpp"
#include "config/configuration.hpp"
#include "config/listen_bindings.hpp"

namespace opstream::config {

enum class StorageKind { kMemory, kPostgres, kMySql, kSqlServer, kSqlite, kMongo, kRedis };
enum class BackplaneKind { kLocal, kRedis };
// Microsoft.Extensions.Logging.LogLevel, same order and numeric values.
enum class LogLevel { kTrace = 0, kDebug, kInformation, kWarning, kError, kCritical, kNone };

// Canonical provider names: "memory", "postgres", "mysql", "sqlserver", "sqlite", "mongo", "redis".
std::string_view CanonicalName(StorageKind kind);
// "local" or "redis".
std::string_view CanonicalName(BackplaneKind kind);
// "Trace" … "None".
std::string_view LogLevelName(LogLevel level);

// Default-constructed Settings equal what LoadSettings yields when nothing is configured (the image
// defaults), so tests elsewhere can start from `Settings{}`.
struct Settings {
  // ---- Read like the reference host (server spec §1.2, §1.3) ----

  // `OpStream:Transports`: split on ',', trimmed, lower-cased, de-duplicated, in configured order.
  // Unknown names are kept because `/` displays them; they enable nothing.
  std::vector<std::string> transports{"signalr"};
  bool signalr_enabled = true;
  bool websockets_enabled = false;
  bool grpc_enabled = false;

  // Canonical engine names in registration order: always "text" first, aliases resolved
  // (`richtext` → `rich-text`) and duplicates collapsed (SV-30).
  std::vector<std::string> engines{"text", "json"};

  // Provider as configured, lower-cased but neither trimmed nor de-aliased (`/` echoes `postgresql`).
  std::string storage_provider = "memory";
  StorageKind storage_kind = StorageKind::kMemory;
  std::string storage_connection_string;  // empty for memory
  std::string storage_database_name = "opstream";

  std::string backplane_provider = "local";
  BackplaneKind backplane_kind = BackplaneKind::kLocal;
  std::string backplane_connection_string;  // empty for local

  // Route templates, used verbatim (an empty configured value stays empty).
  std::string signalr_path = "/collab";
  std::string signalr_management_path = "/manage";
  std::string websockets_path = "/collab-ws";
  std::string websockets_management_path = "/manage-ws";

  // Host.
  std::string environment_name = "Production";
  // `AllowedHosts` split on ';' (empty entries dropped). Empty, or containing "*", allows any host.
  std::vector<std::string> allowed_hosts{"*"};
  LogLevel default_log_level = LogLevel::kInformation;
  // `Logging:LogLevel:Microsoft.AspNetCore`; when unset it follows default_log_level.
  LogLevel aspnetcore_log_level = LogLevel::kWarning;

  // Listener: the URL list in effect (from urls, http_ports or the default) and what to bind.
  std::string server_urls = "http://+:8080";
  std::vector<ListenBinding> bindings{{"", 8080, "http://+:8080", false}};

  // ---- OpStream Server extensions (the reference hard-codes these, §1.5) ----

  unsigned worker_threads = std::max(1u, std::thread::hardware_concurrency());  // resolved: never 0
  std::size_t send_queue_limit_bytes = 16 * 1024 * 1024;                        // SV-46: slow consumers are dropped
  std::uint32_t write_pacing_us = 400;                                          // see FlushPacer; 0: no pacing
  std::uint32_t fanout_pacing_us = 4000;  // the same for large fan-outs; 0: no pacing
  std::chrono::milliseconds shutdown_grace{10'000};
  std::size_t websocket_max_message_bytes = 2 * 1024 * 1024;  // wire-protocol OP-19: close 1009 above
  std::chrono::milliseconds idle_close_delay{300'000};
  std::uint64_t snapshot_every_ops = 100;             // 0: no op-count trigger
  std::chrono::milliseconds snapshot_every{300'000};  // 0: no time trigger
  std::size_t op_log_tail_ops = 1000;
  std::chrono::milliseconds awareness_ttl{30'000};
  std::chrono::milliseconds storage_startup_retry{30'000};

  bool HasTransport(std::string_view name) const;
};

struct LoadOptions {
  // The reference image sets OPSTREAM__TRANSPORTS, OPSTREAM__ENGINES, the providers and ASPNETCORE_URLS
  // in its environment (§1.9); this binary ships those values as lowest-precedence defaults so that it
  // behaves like the image when they are not configured anywhere. Turn off to get the bare host-code
  // behaviour (no transports → startup error, listener http://localhost:5000), e.g. in tests.
  bool apply_image_defaults = true;
};

// Builds the configuration stack of WebApplication.CreateBuilder (ASP.NET Core 7+), lowest to highest:
//   image defaults (if enabled), ASPNETCORE_* variables (prefix removed), DOTNET_* variables (prefix
//   removed), appsettings.json, appsettings.{Environment}.json, all environment variables, arguments.
// The environment name is `environment` from the arguments, else DOTNET_ENVIRONMENT, else
// ASPNETCORE_ENVIRONMENT, else "Production"; files are read from `contentRoot` (same sources; default
// working_dir, relative values resolved against it). Errors: a malformed argument or JSON file.
Status LoadConfiguration(const std::vector<std::string>& args, const std::map<std::string, std::string>& environment,
                         const std::filesystem::path& working_dir, const LoadOptions& options, Configuration& out,
                         std::string& environment_name);

// Reads and validates Settings from a configuration. Validation follows the reference order (engines,
// storage, backplane, transports; first failure wins) with the reference's exact messages, then the
// logging levels, extension settings and listener addresses. Non-fatal findings (unknown transports,
// duplicate engine aliases, memory storage with a Redis backplane, unused OpStream:* keys, ...) are
// appended to `warnings`. `out` is only assigned on success.
Status BindSettings(const Configuration& configuration, const LoadOptions& options, Settings& out,
                    std::vector<std::string>& warnings);

// LoadConfiguration + BindSettings; sets out.environment_name. `args` excludes the program name.
Status LoadSettings(const std::vector<std::string>& args, const std::map<std::string, std::string>& environment,
                    const std::filesystem::path& working_dir, Settings& out, std::vector<std::string>& warnings,
                    const LoadOptions& options = {});

// The process environment (environ), for LoadSettings.
std::map<std::string, std::string> ReadProcessEnvironment();

// Body of `GET /` (§1.7): `OpStream host. Storage={storage}, Backplane={backplane}, Transports={csv}`.
std::string RootEndpointText(const Settings& settings);

// `OpStream:{key} (env OPSTREAM__{KEY}) is required.` for a key relative to the OpStream section,
// e.g. "Storage:ConnectionString".
std::string RequiredKeyMessage(std::string_view key_in_opstream_section);

}  // namespace opstream::config
