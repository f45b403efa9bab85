#include "config/settings.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <thread>
#include <utility>

#include "common/text.hpp"
#include "config/setting_catalog.hpp"

extern char** environ;

namespace opstream::config {

namespace {

constexpr std::string_view kProduction = "Production";
constexpr std::string_view kKestrelDefaultUrls = "http://localhost:5000";
constexpr std::string_view kImageUrls = "http://+:8080";

// Lowest-precedence defaults equal to what the reference image configures (§1.9). The OpStream values
// are the image's environment variables. Its appsettings.json also lists Transports=signalr,websockets
// and Engines=text,json,rich-text,form, but the image environment overrides those, so they are never in
// effect and are deliberately not used here. The logging levels and AllowedHosts do come from that
// file, because no variable overrides them. Note one difference in precedence: in the image these
// OpStream values are environment variables and thus beat an operator's appsettings.json; here they
// are defaults that any source overrides. A replacement image that sets the same ENV lines (as §1.9
// requires) gets the reference behaviour exactly. The listener default (http://+:8080) is applied in
// ResolveBindings because it must yield to ASPNETCORE_HTTP_PORTS as well.
ConfigurationData ImageDefaults() {
  ConfigurationData data;
  data.emplace(keys::kTransports, "signalr");
  data.emplace(keys::kEngines, "text,json");
  data.emplace(keys::kStorageProvider, "memory");
  data.emplace(keys::kBackplaneProvider, "local");
  data.emplace(keys::kSignalRPath, "/collab");
  data.emplace(keys::kWebSocketsPath, "/collab-ws");
  data.emplace(keys::kDefaultLogLevel, "Information");
  data.emplace(keys::kAspNetCoreLogLevel, "Warning");
  data.emplace(keys::kAllowedHosts, "*");
  return data;
}

constexpr std::array<std::string_view, 6> kKnownEngines = {"text", "json", "rich-text", "table", "form", "tree"};
constexpr std::array<std::string_view, 3> kKnownTransports = {"signalr", "websockets", "grpc"};

struct StorageName {
  std::string_view name;
  StorageKind kind;
};
constexpr std::array<StorageName, 11> kStorageNames = {{
    {"memory", StorageKind::kMemory},
    {"postgres", StorageKind::kPostgres},
    {"postgresql", StorageKind::kPostgres},
    {"mysql", StorageKind::kMySql},
    {"mariadb", StorageKind::kMySql},
    {"sqlserver", StorageKind::kSqlServer},
    {"mssql", StorageKind::kSqlServer},
    {"sqlite", StorageKind::kSqlite},
    {"mongo", StorageKind::kMongo},
    {"mongodb", StorageKind::kMongo},
    {"redis", StorageKind::kRedis},
}};

template <typename Range>
bool Contains(const Range& range, std::string_view value) {
  return std::find(std::begin(range), std::end(range), value) != std::end(range);
}

bool StartsWithIgnoringCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && AsciiIEquals(s.substr(0, prefix.size()), prefix);
}

// .NET String.Trim(): strips Unicode white space, not just ASCII (same set as IsBlank).
std::string_view TrimDotNetWhitespace(std::string_view s) {
  auto blank_prefix = [&s]() -> size_t {
    for (size_t n = 1; n <= 3 && n <= s.size(); ++n) {
      if (IsBlank(s.substr(0, n))) return n;
    }
    return 0;
  };
  auto blank_suffix = [&s]() -> size_t {
    for (size_t n = 1; n <= 3 && n <= s.size(); ++n) {
      if (IsBlank(s.substr(s.size() - n))) return n;
    }
    return 0;
  };
  for (size_t n = blank_prefix(); n != 0; n = blank_prefix()) s.remove_prefix(n);
  for (size_t n = blank_suffix(); n != 0; n = blank_suffix()) s.remove_suffix(n);
  return s;
}

// §1.3: split on ',', trim, drop empty entries, lower-case, drop repeats keeping the first.
std::vector<std::string> ParseCsvList(std::string_view raw) {
  std::vector<std::string> out;
  for (std::string_view part : Split(raw, ',')) {
    part = TrimDotNetWhitespace(part);
    if (part.empty()) continue;
    std::string name = AsciiLower(part);
    if (!Contains(out, name)) out.push_back(std::move(name));
  }
  return out;
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out.append(separator);
    out.append(items[i]);
  }
  return out;
}

bool HasText(const std::optional<std::string>& value) { return value.has_value() && !value->empty(); }

// `OpStream:Storage:Provider` → `OPSTREAM__STORAGE__PROVIDER`.
std::string EnvironmentFormOf(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == ':') {
      out.append("__");
    } else {
      out.push_back((c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c);
    }
  }
  return out;
}

Status InvalidValue(std::string_view key, std::string_view value, std::string_view expected) {
  return Status::Error("Invalid value '" + std::string(value) + "' for " + std::string(key) + " (env " +
                       EnvironmentFormOf(key) + "): expected " + std::string(expected) + ".");
}

// A whole number in [min, max]; an absent or blank value keeps `value`. Blank counts as unset so that
// an operator can clear an inherited variable without knowing the default.
Status ReadWholeNumber(const Configuration& configuration, std::string_view key, std::uint64_t min, std::uint64_t max,
                       std::uint64_t& value) {
  const std::optional<std::string> raw = configuration.Get(key);
  if (!raw.has_value() || IsBlank(*raw)) return Status::Ok();
  const std::string_view text = TrimWhitespace(*raw);
  const std::string expected = "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  std::uint64_t parsed = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return InvalidValue(key, *raw, expected);
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (parsed > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return InvalidValue(key, *raw, expected);
    parsed = parsed * 10 + digit;
  }
  if (parsed < min || parsed > max) return InvalidValue(key, *raw, expected);
  value = parsed;
  return Status::Ok();
}

template <typename Integer>
Status ReadWholeNumber(const Configuration& configuration, std::string_view key, std::uint64_t min, std::uint64_t max,
                       Integer& value) {
  std::uint64_t wide = value;
  Status status = ReadWholeNumber(configuration, key, min, max, wide);
  if (status.ok()) value = static_cast<Integer>(wide);
  return status;
}

// Seconds, optionally with a fraction (`0.25`), kept to the millisecond. Tests use sub-second values.
Status ReadSeconds(const Configuration& configuration, std::string_view key, std::chrono::milliseconds min,
                   std::chrono::milliseconds& value) {
  constexpr std::int64_t kMaxSeconds = 1'000'000'000;  // ~31 years; keeps milliseconds far from overflow
  const std::optional<std::string> raw = configuration.Get(key);
  if (!raw.has_value() || IsBlank(*raw)) return Status::Ok();
  const std::string_view text = TrimWhitespace(*raw);
  const std::string expected =
      min.count() > 0 ? "a positive number of seconds, such as 30 or 0.5" : "a number of seconds, such as 30 or 0.5";
  std::int64_t whole = 0;
  std::int64_t millis = 0;
  int fraction_digits = 0;
  bool in_fraction = false;
  bool any_digit = false;
  for (char c : text) {
    if (c == '.' && !in_fraction) {
      in_fraction = true;
      continue;
    }
    if (c < '0' || c > '9') return InvalidValue(key, *raw, expected);
    any_digit = true;
    if (!in_fraction) {
      whole = whole * 10 + (c - '0');
      if (whole > kMaxSeconds) return InvalidValue(key, *raw, expected);
    } else if (fraction_digits < 3) {
      millis = millis * 10 + (c - '0');
      ++fraction_digits;
    }
  }
  if (!any_digit) return InvalidValue(key, *raw, expected);
  for (; fraction_digits < 3; ++fraction_digits) millis *= 10;
  const std::chrono::milliseconds parsed{whole * 1000 + millis};
  if (parsed < min) return InvalidValue(key, *raw, expected);
  value = parsed;
  return Status::Ok();
}

// Enum.TryParse<LogLevel>(value, ignoreCase: true) as the logging filter uses it: a name or a number.
// An unset or empty value keeps `level`.
Status ReadLogLevel(const Configuration& configuration, std::string_view key, LogLevel& level) {
  const std::optional<std::string> raw = configuration.Get(key);
  if (!HasText(raw)) return Status::Ok();
  const std::string_view text = TrimWhitespace(*raw);
  for (int i = 0; i <= static_cast<int>(LogLevel::kNone); ++i) {
    const auto candidate = static_cast<LogLevel>(i);
    if (AsciiIEquals(text, LogLevelName(candidate)) || text == std::to_string(i)) {
      level = candidate;
      return Status::Ok();
    }
  }
  // The first sentence is the reference's message (LoggerFilterConfigureOptions).
  return Status::Error("Configuration value '" + *raw + "' is not supported. (" + std::string(key) +
                       ": use Trace, Debug, Information, Warning, Error, Critical or None.)");
}

// Engines (§1.3, §1.4, SV-30). `text` is always first; listing it again is a no-op.
Status BindEngines(const Configuration& configuration, Settings& settings, std::vector<std::string>& warnings) {
  settings.engines = {"text"};
  std::map<std::string, std::string> spelling_of;  // canonical name → name as listed first
  for (const std::string& listed : ParseCsvList(configuration.Get(keys::kEngines).value_or(""))) {
    const std::string canonical = listed == "richtext" ? "rich-text" : listed;
    if (!Contains(kKnownEngines, canonical)) {
      return Status::Error("Unknown engine '" + listed + "'. Valid: text, json, rich-text, table, form, tree.");
    }
    auto [first, inserted] = spelling_of.emplace(canonical, listed);
    if (!inserted) {
      // The reference registers the engine twice and crashes building its session registry.
      warnings.push_back("OpStream:Engines lists both '" + first->second + "' and '" + listed +
                         "', which name the same engine; it is registered once.");
      continue;
    }
    if (!Contains(settings.engines, canonical)) settings.engines.push_back(canonical);
  }
  return Status::Ok();
}

Status BindStorage(const Configuration& configuration, Settings& settings) {
  // Lower-cased but not trimmed (§1.3): " redis" is an unknown provider.
  settings.storage_provider = AsciiLower(configuration.Get(keys::kStorageProvider).value_or("memory"));
  const auto known = std::find_if(kStorageNames.begin(), kStorageNames.end(),
                                  [&](const StorageName& entry) { return entry.name == settings.storage_provider; });
  if (known == kStorageNames.end()) {
    return Status::Error("Unknown storage provider '" + settings.storage_provider +
                         "'. Valid: memory, postgres, mysql, sqlserver, sqlite, mongo, redis.");
  }
  settings.storage_kind = known->kind;
  settings.storage_database_name = configuration.Get(keys::kStorageDatabaseName).value_or("opstream");
  if (settings.storage_kind == StorageKind::kMemory) return Status::Ok();

  const std::optional<std::string> connection = configuration.Get(keys::kStorageConnectionString);
  if (!connection.has_value()) return Status::Error(RequiredKeyMessage("Storage:ConnectionString"));
  if (settings.storage_kind == StorageKind::kRedis && IsBlank(*connection)) {
    return Status::Error(
        "RedisStorageOptions.ConnectionString must not be empty. Set it inside the configure action passed to "
        "UseRedisStorage().");
  }
  settings.storage_connection_string = *connection;
  return Status::Ok();
}

Status BindBackplane(const Configuration& configuration, Settings& settings) {
  settings.backplane_provider = AsciiLower(configuration.Get(keys::kBackplaneProvider).value_or("local"));
  if (settings.backplane_provider == "local") {
    settings.backplane_kind = BackplaneKind::kLocal;
    return Status::Ok();
  }
  if (settings.backplane_provider != "redis") {
    return Status::Error("Unknown backplane provider '" + settings.backplane_provider + "'. Valid: local, redis.");
  }
  settings.backplane_kind = BackplaneKind::kRedis;
  const std::optional<std::string> connection = configuration.Get(keys::kBackplaneConnectionString);
  if (!connection.has_value()) return Status::Error(RequiredKeyMessage("Backplane:ConnectionString"));
  if (IsBlank(*connection)) {
    return Status::Error(
        "RedisBackplaneOptions.ConnectionString must not be empty. Set it inside the configure action passed to "
        "UseRedisBackplane().");
  }
  settings.backplane_connection_string = *connection;
  return Status::Ok();
}

Status BindTransports(const Configuration& configuration, Settings& settings, std::vector<std::string>& warnings) {
  const std::optional<std::string> raw = configuration.Get(keys::kTransports);
  if (!raw.has_value()) return Status::Error(RequiredKeyMessage("Transports"));
  settings.transports = ParseCsvList(*raw);
  if (settings.transports.empty()) {
    return Status::Error("OPSTREAM__TRANSPORTS must list at least one of: signalr, websockets, grpc.");
  }
  for (const std::string& name : settings.transports) {
    if (!Contains(kKnownTransports, name)) {
      // SV-30: the reference ignores these silently; they stay in the list because `/` shows them.
      warnings.push_back("Unknown transport '" + name +
                         "' in OpStream:Transports is ignored. Valid: signalr, websockets, grpc.");
    }
  }
  settings.signalr_enabled = Contains(settings.transports, "signalr");
  settings.websockets_enabled = Contains(settings.transports, "websockets");
  settings.grpc_enabled = Contains(settings.transports, "grpc");
  if (!settings.signalr_enabled && !settings.websockets_enabled && !settings.grpc_enabled) {
    warnings.push_back(
        "OpStream:Transports names no known transport; no collaboration endpoint is served (only /, health and "
        "diagnostics).");
  }
  return Status::Ok();
}

Status BindExtensions(const Configuration& c, Settings& s) {
  using std::chrono::milliseconds;
  constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;
  unsigned workers = 0;
  // A braced list is evaluated left to right, so the first bad key in this order is the one reported.
  for (const Status& status : {
           ReadWholeNumber(c, keys::kWorkerThreads, 0, 1024, workers),
           ReadWholeNumber(c, keys::kSendQueueLimitBytes, 1024, 64 * kGiB, s.send_queue_limit_bytes),
           ReadWholeNumber(c, keys::kWritePacingMicroseconds, 0, 100'000, s.write_pacing_us),
           ReadWholeNumber(c, keys::kFanOutPacingMicroseconds, 0, 100'000, s.fanout_pacing_us),
           ReadSeconds(c, keys::kShutdownGraceSeconds, milliseconds{0}, s.shutdown_grace),
           ReadWholeNumber(c, keys::kWebSocketMaxMessageBytes, 1024, kGiB, s.websocket_max_message_bytes),
           ReadSeconds(c, keys::kIdleCloseSeconds, milliseconds{0}, s.idle_close_delay),
           ReadWholeNumber(c, keys::kSnapshotEveryOps, 0, std::numeric_limits<std::uint32_t>::max(),
                           s.snapshot_every_ops),
           ReadSeconds(c, keys::kSnapshotEverySeconds, milliseconds{0}, s.snapshot_every),
           ReadWholeNumber(c, keys::kOpLogTailOps, 0, 10'000'000, s.op_log_tail_ops),
           ReadSeconds(c, keys::kAwarenessTtlSeconds, milliseconds{1}, s.awareness_ttl),
           ReadSeconds(c, keys::kStorageStartupRetrySeconds, milliseconds{0}, s.storage_startup_retry),
       }) {
    if (!status.ok()) return status;
  }
  s.worker_threads = workers != 0 ? workers : std::max(1u, std::thread::hardware_concurrency());
  return Status::Ok();
}

// Kestrel's address selection: `urls` (any source) wins, then `http_ports`, then the default.
Status ResolveBindings(const Configuration& configuration, const LoadOptions& options, Settings& settings,
                       std::vector<std::string>& warnings) {
  const std::optional<std::string> urls = configuration.Get(keys::kUrls);
  const std::optional<std::string> http_ports = configuration.Get(keys::kHttpPorts);
  const std::optional<std::string> https_ports = configuration.Get(keys::kHttpsPorts);
  if (HasText(urls)) {
    if (HasText(http_ports) || HasText(https_ports)) {
      // Kestrel logs this same warning.
      warnings.push_back("Overriding HTTP_PORTS '" + http_ports.value_or("") + "' and HTTPS_PORTS '" +
                         https_ports.value_or("") + "'. Binding to values defined by URLS instead '" + *urls + "'.");
    }
    settings.server_urls = *urls;
  } else if (HasText(https_ports)) {
    return Status::Error("HTTPS is not supported (ASPNETCORE_HTTPS_PORTS='" + *https_ports +
                         "'). OpStream Server serves plain HTTP only: terminate TLS at a reverse proxy or load "
                         "balancer and use ASPNETCORE_HTTP_PORTS or ASPNETCORE_URLS=http://+:PORT.");
  } else if (HasText(http_ports)) {
    settings.server_urls = ExpandHttpPorts(*http_ports);
  } else {
    settings.server_urls = std::string(options.apply_image_defaults ? kImageUrls : kKestrelDefaultUrls);
  }

  if (Status status = ParseListenUrls(settings.server_urls, settings.bindings, warnings); !status.ok()) {
    return status;
  }
  if (settings.bindings.empty()) {
    // A list of only separators leaves Kestrel with no address, and it then uses its own default.
    settings.server_urls = std::string(kKestrelDefaultUrls);
    return ParseListenUrls(settings.server_urls, settings.bindings, warnings);
  }
  return Status::Ok();
}

void WarnAboutUnusedKeys(const Configuration& configuration, std::vector<std::string>& warnings) {
  bool warned_about_kestrel = false;
  for (const std::string& key : configuration.Keys()) {
    if (StartsWithIgnoringCase(key, "Kestrel:") && !warned_about_kestrel) {
      warned_about_kestrel = true;
      warnings.push_back("Kestrel:* settings (such as '" + key +
                         "') are not supported and are ignored; set listening addresses with ASPNETCORE_URLS.");
      continue;
    }
    if (!StartsWithIgnoringCase(key, "OpStream:")) continue;
    const auto catalog = SettingCatalog();
    const bool known = std::any_of(catalog.begin(), catalog.end(),
                                   [&](const SettingInfo& info) { return AsciiIEquals(info.key, key); });
    if (!known) {
      warnings.push_back("Configuration key '" + key + "' (from " + configuration.SourceOf(key).value_or("?") +
                         ") is not used by OpStream Server and is ignored.");
    }
  }
}

}  // namespace

std::string_view CanonicalName(StorageKind kind) {
  switch (kind) {
    case StorageKind::kMemory:
      return "memory";
    case StorageKind::kPostgres:
      return "postgres";
    case StorageKind::kMySql:
      return "mysql";
    case StorageKind::kSqlServer:
      return "sqlserver";
    case StorageKind::kSqlite:
      return "sqlite";
    case StorageKind::kMongo:
      return "mongo";
    case StorageKind::kRedis:
      return "redis";
  }
  return "memory";
}

std::string_view CanonicalName(BackplaneKind kind) { return kind == BackplaneKind::kRedis ? "redis" : "local"; }

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "Trace";
    case LogLevel::kDebug:
      return "Debug";
    case LogLevel::kInformation:
      return "Information";
    case LogLevel::kWarning:
      return "Warning";
    case LogLevel::kError:
      return "Error";
    case LogLevel::kCritical:
      return "Critical";
    case LogLevel::kNone:
      return "None";
  }
  return "Information";
}

bool Settings::HasTransport(std::string_view name) const { return Contains(transports, name); }

std::string RequiredKeyMessage(std::string_view key_in_opstream_section) {
  const std::string key = "OpStream:" + std::string(key_in_opstream_section);
  return key + " (env " + EnvironmentFormOf(key) + ") is required.";
}

Status LoadConfiguration(const std::vector<std::string>& args, const std::map<std::string, std::string>& environment,
                         const std::filesystem::path& working_dir, const LoadOptions& options, Configuration& out,
                         std::string& environment_name) {
  ConfigurationData command_line;
  if (Status status = CommandLineData(args, command_line); !status.ok()) return status;
  ConfigurationData aspnetcore_variables = EnvironmentVariablesData(environment, "ASPNETCORE_");
  ConfigurationData dotnet_variables = EnvironmentVariablesData(environment, "DOTNET_");

  // Host settings (environment name, content root) are fixed before any file is read, from these three
  // sources only. Since ASP.NET Core 7 the ASPNETCORE_ variables rank lowest among them, so
  // DOTNET_ENVIRONMENT beats ASPNETCORE_ENVIRONMENT (aspnet/Announcements#498).
  Configuration host;
  host.AddLayer("ASPNETCORE_ environment variables", aspnetcore_variables);
  host.AddLayer("DOTNET_ environment variables", dotnet_variables);
  host.AddLayer("command line", command_line);
  // `?? "Production"`: an empty ASPNETCORE_ENVIRONMENT really selects "appsettings..json".
  environment_name = host.Get(keys::kEnvironment).value_or(std::string(kProduction));
  std::filesystem::path content_root = working_dir;
  if (const std::optional<std::string> root = host.Get(keys::kContentRoot); HasText(root)) {
    content_root = working_dir / *root;  // an absolute value replaces working_dir
  }

  ConfigurationData app_settings;
  ConfigurationData environment_settings;
  const std::string environment_file = "appsettings." + environment_name + ".json";
  if (Status status = LoadJsonConfigurationFile(content_root / "appsettings.json", app_settings); !status.ok()) {
    return status;
  }
  if (Status status = LoadJsonConfigurationFile(content_root / environment_file, environment_settings); !status.ok()) {
    return status;
  }

  Configuration configuration;
  if (options.apply_image_defaults) configuration.AddLayer("image defaults", ImageDefaults());
  configuration.AddLayer("ASPNETCORE_ environment variables", std::move(aspnetcore_variables));
  configuration.AddLayer("DOTNET_ environment variables", std::move(dotnet_variables));
  configuration.AddLayer("appsettings.json", std::move(app_settings));
  configuration.AddLayer(environment_file, std::move(environment_settings));
  configuration.AddLayer("environment variables", EnvironmentVariablesData(environment));
  configuration.AddLayer("command line", std::move(command_line));
  out = std::move(configuration);
  return Status::Ok();
}

Status BindSettings(const Configuration& configuration, const LoadOptions& options, Settings& out,
                    std::vector<std::string>& warnings) {
  Settings settings;
  // Warnings are reported even when a later check fails, so the operator sees everything at once.

  // The reference's order; the first failure wins (§1.4).
  if (Status status = BindEngines(configuration, settings, warnings); !status.ok()) return status;
  if (Status status = BindStorage(configuration, settings); !status.ok()) return status;
  if (Status status = BindBackplane(configuration, settings); !status.ok()) return status;
  if (Status status = BindTransports(configuration, settings, warnings); !status.ok()) return status;

  if (settings.storage_kind == StorageKind::kMemory && settings.backplane_kind == BackplaneKind::kRedis) {
    warnings.push_back(  // SV-38
        "Memory storage with the Redis backplane: every node keeps its own private copy of the documents, and a "
        "document whose ownership moves to another node loses its content. Use this only for tests.");
  }

  settings.signalr_path = configuration.Get(keys::kSignalRPath).value_or("/collab");
  settings.signalr_management_path = configuration.Get(keys::kSignalRManagementPath).value_or("/manage");
  settings.websockets_path = configuration.Get(keys::kWebSocketsPath).value_or("/collab-ws");
  settings.websockets_management_path = configuration.Get(keys::kWebSocketsManagementPath).value_or("/manage-ws");

  settings.allowed_hosts.clear();
  const std::string allowed_hosts = configuration.Get(keys::kAllowedHosts).value_or("");
  for (std::string_view host : Split(allowed_hosts, ';')) {
    if (!host.empty()) settings.allowed_hosts.emplace_back(host);
  }

  settings.default_log_level = LogLevel::kInformation;
  if (Status status = ReadLogLevel(configuration, keys::kDefaultLogLevel, settings.default_log_level); !status.ok()) {
    return status;
  }
  settings.aspnetcore_log_level = settings.default_log_level;
  if (Status status = ReadLogLevel(configuration, keys::kAspNetCoreLogLevel, settings.aspnetcore_log_level);
      !status.ok()) {
    return status;
  }

  if (Status status = BindExtensions(configuration, settings); !status.ok()) return status;
  if (Status status = ResolveBindings(configuration, options, settings, warnings); !status.ok()) return status;
  WarnAboutUnusedKeys(configuration, warnings);

  out = std::move(settings);
  return Status::Ok();
}

Status LoadSettings(const std::vector<std::string>& args, const std::map<std::string, std::string>& environment,
                    const std::filesystem::path& working_dir, Settings& out, std::vector<std::string>& warnings,
                    const LoadOptions& options) {
  Configuration configuration;
  std::string environment_name;
  if (Status status = LoadConfiguration(args, environment, working_dir, options, configuration, environment_name);
      !status.ok()) {
    return status;
  }
  Settings settings;
  if (Status status = BindSettings(configuration, options, settings, warnings); !status.ok()) return status;
  settings.environment_name = std::move(environment_name);
  out = std::move(settings);
  return Status::Ok();
}

std::map<std::string, std::string> ReadProcessEnvironment() {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t equals = text.find('=');
    if (equals == std::string_view::npos || equals == 0) continue;
    // emplace keeps the first of two identical names, which is the one getenv() returns.
    environment.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return environment;
}

std::string RootEndpointText(const Settings& settings) {
  return "OpStream host. Storage=" + settings.storage_provider + ", Backplane=" + settings.backplane_provider +
         ", Transports=" + Join(settings.transports, ",");
}

}  // namespace opstream::config
