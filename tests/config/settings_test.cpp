// Settings are read with the reference host's sources, precedence, parsing rules and messages (§1).
#include "config/settings.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "common/text.hpp"
#include "config/config_test_support.hpp"
#include "config/setting_catalog.hpp"

namespace opstream::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Environment = std::map<std::string, std::string>;

class SettingsTest : public ::testing::Test {
 protected:
  // Loads with the given arguments and environment from the scratch working directory.
  Status Load(const std::vector<std::string>& args, const Environment& environment, LoadOptions options = {}) {
    warnings_.clear();
    return LoadSettings(args, environment, dir_.path(), settings_, warnings_, options);
  }

  Settings LoadOrDie(const std::vector<std::string>& args, const Environment& environment, LoadOptions options = {}) {
    Status status = Load(args, environment, options);
    EXPECT_TRUE(status.ok()) << status.message();
    return settings_;
  }

  std::string LoadError(const std::vector<std::string>& args, const Environment& environment,
                        LoadOptions options = {}) {
    Status status = Load(args, environment, options);
    EXPECT_FALSE(status.ok());
    return status.message();
  }

  bool HasWarning(std::string_view fragment) const {
    for (const std::string& warning : warnings_) {
      if (warning.find(fragment) != std::string::npos) return true;
    }
    return false;
  }

  testing::ScratchDirectory dir_;
  Settings settings_;
  std::vector<std::string> warnings_;
};

constexpr LoadOptions kHostCodeDefaults{.apply_image_defaults = false};

// ---- Defaults ----

TEST_F(SettingsTest, NothingConfiguredGivesTheImageDefaults) {
  const Settings s = LoadOrDie({}, {});
  EXPECT_THAT(s.transports, ElementsAre("signalr"));
  EXPECT_TRUE(s.signalr_enabled);
  EXPECT_FALSE(s.websockets_enabled);
  EXPECT_FALSE(s.grpc_enabled);
  EXPECT_THAT(s.engines, ElementsAre("text", "json"));
  EXPECT_EQ(s.storage_provider, "memory");
  EXPECT_EQ(s.storage_kind, StorageKind::kMemory);
  EXPECT_EQ(s.backplane_provider, "local");
  EXPECT_EQ(s.backplane_kind, BackplaneKind::kLocal);
  EXPECT_EQ(s.storage_database_name, "opstream");
  EXPECT_EQ(s.signalr_path, "/collab");
  EXPECT_EQ(s.signalr_management_path, "/manage");
  EXPECT_EQ(s.websockets_path, "/collab-ws");
  EXPECT_EQ(s.websockets_management_path, "/manage-ws");
  EXPECT_EQ(s.environment_name, "Production");
  EXPECT_THAT(s.allowed_hosts, ElementsAre("*"));
  EXPECT_EQ(s.default_log_level, LogLevel::kInformation);
  EXPECT_EQ(s.aspnetcore_log_level, LogLevel::kWarning);
  EXPECT_EQ(s.server_urls, "http://+:8080");
  EXPECT_THAT(s.bindings, ElementsAre(ListenBinding{"", 8080, "http://+:8080", false}));
  EXPECT_EQ(RootEndpointText(s), "OpStream host. Storage=memory, Backplane=local, Transports=signalr");
  EXPECT_THAT(warnings_, IsEmpty());
}

TEST_F(SettingsTest, DefaultConstructedSettingsAreTheImageDefaults) {
  const Settings loaded = LoadOrDie({}, {});
  const Settings constructed;
  EXPECT_EQ(constructed.transports, loaded.transports);
  EXPECT_EQ(constructed.signalr_enabled, loaded.signalr_enabled);
  EXPECT_EQ(constructed.websockets_enabled, loaded.websockets_enabled);
  EXPECT_EQ(constructed.grpc_enabled, loaded.grpc_enabled);
  EXPECT_EQ(constructed.engines, loaded.engines);
  EXPECT_EQ(constructed.storage_provider, loaded.storage_provider);
  EXPECT_EQ(constructed.backplane_provider, loaded.backplane_provider);
  EXPECT_EQ(constructed.allowed_hosts, loaded.allowed_hosts);
  EXPECT_EQ(constructed.aspnetcore_log_level, loaded.aspnetcore_log_level);
  EXPECT_EQ(constructed.server_urls, loaded.server_urls);
  EXPECT_EQ(constructed.bindings, loaded.bindings);
  EXPECT_EQ(constructed.worker_threads, loaded.worker_threads);
  EXPECT_EQ(RootEndpointText(constructed), RootEndpointText(loaded));
}

TEST_F(SettingsTest, ExtensionDefaults) {
  const Settings s = LoadOrDie({}, {});
  EXPECT_EQ(s.worker_threads, std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(s.websocket_max_message_bytes, 2u * 1024 * 1024);
  EXPECT_EQ(s.send_queue_limit_bytes, 16u * 1024 * 1024);
  EXPECT_EQ(s.write_pacing_us, 400u);
  EXPECT_EQ(s.fanout_pacing_us, 4000u);
  EXPECT_EQ(s.idle_close_delay, std::chrono::seconds(300));
  EXPECT_EQ(s.snapshot_every_ops, 100u);
  EXPECT_EQ(s.snapshot_every, std::chrono::seconds(300));
  EXPECT_EQ(s.op_log_tail_ops, 1000u);
  EXPECT_EQ(s.awareness_ttl, std::chrono::seconds(30));
  EXPECT_EQ(s.storage_startup_retry, std::chrono::seconds(30));
  EXPECT_EQ(s.shutdown_grace, std::chrono::seconds(10));
}

TEST_F(SettingsTest, HostCodeDefaultsRequireTransports) {
  EXPECT_EQ(LoadError({}, {}, kHostCodeDefaults), "OpStream:Transports (env OPSTREAM__TRANSPORTS) is required.");
  const Settings s = LoadOrDie({}, {{"OPSTREAM__TRANSPORTS", "websockets"}}, kHostCodeDefaults);
  EXPECT_THAT(s.engines, ElementsAre("text"));  // host code: empty list, only text
  EXPECT_EQ(s.storage_provider, "memory");
  EXPECT_EQ(s.backplane_provider, "local");
  EXPECT_EQ(s.server_urls, "http://localhost:5000");
  EXPECT_EQ(s.aspnetcore_log_level, LogLevel::kInformation);  // follows Default when unset
  EXPECT_THAT(s.allowed_hosts, IsEmpty());
}

// ---- Sources and precedence (§1.1) ----

TEST_F(SettingsTest, PrecedenceAcrossAllFourSources) {
  dir_.Write("appsettings.json",
             R"({"OpStream": {"Transports": "grpc", "Engines": "json", "Storage": {"Provider": "sqlite",
      "ConnectionString": "Data Source=file.db"}, "Backplane": {"Provider": "LOCAL"}, "SignalR": {"Path": "/file"}}})");
  dir_.Write("appsettings.Production.json", R"({"OpStream": {"Engines": "table", "SignalR": {"Path": "/env-file"},
      "WebSockets": {"Path": "/env-file-ws"}}})");
  const Environment environment = {{"OPSTREAM__ENGINES", "form"},
                                   {"OPSTREAM__WEBSOCKETS__PATH", "/variable-ws"},
                                   {"OPSTREAM__SIGNALR__MANAGEMENTPATH", "/variable-manage"}};
  const Settings s = LoadOrDie({"--OpStream:WebSockets:Path=/argument-ws"}, environment);
  EXPECT_THAT(s.transports, ElementsAre("grpc"));            // appsettings.json over the defaults
  EXPECT_EQ(s.storage_provider, "sqlite");                   // appsettings.json
  EXPECT_EQ(s.backplane_provider, "local");                  // lower-cased
  EXPECT_EQ(s.signalr_path, "/env-file");                    // appsettings.Production.json over appsettings.json
  EXPECT_THAT(s.engines, ElementsAre("text", "form"));       // environment over both files
  EXPECT_EQ(s.signalr_management_path, "/variable-manage");  // environment
  EXPECT_EQ(s.websockets_path, "/argument-ws");              // command line over everything
}

TEST_F(SettingsTest, KeysAreCaseInsensitiveInEverySource) {
  dir_.Write("appsettings.json",
             R"({"opstream": {"storage": {"PROVIDER": "Postgres", "connectionstring": "Host=db"}}})");
  const Settings s = LoadOrDie({"--OPSTREAM:SIGNALR:PATH", "/hub"},
                               {{"OpStream__Transports", "WebSockets"}, {"opstream__backplane__provider", "Local"}});
  EXPECT_EQ(s.storage_provider, "postgres");
  EXPECT_EQ(s.storage_connection_string, "Host=db");
  EXPECT_THAT(s.transports, ElementsAre("websockets"));
  EXPECT_EQ(s.backplane_provider, "local");
  EXPECT_EQ(s.signalr_path, "/hub");
}

TEST_F(SettingsTest, CommandLineAcceptsAllForms) {
  const Settings s = LoadOrDie({"--OpStream:Storage:Provider", "redis", "/OpStream:Storage:ConnectionString=redis:6379",
                                "OpStream:Transports=grpc", "--OpStream:Engines=tree"},
                               {});
  EXPECT_EQ(s.storage_kind, StorageKind::kRedis);
  EXPECT_EQ(s.storage_connection_string, "redis:6379");
  EXPECT_THAT(s.transports, ElementsAre("grpc"));
  EXPECT_THAT(s.engines, ElementsAre("text", "tree"));
}

TEST_F(SettingsTest, MalformedArgumentIsAStartupError) {
  EXPECT_THAT(LoadError({"-p=1"}, {}), HasSubstr("The short switch '-p=1' is not defined in the switch mappings."));
}

TEST_F(SettingsTest, OpStreamSectionIsOnlyReadFromItsRoot) {
  // The mistake in the reference's own integration test: no OPSTREAM__ prefix, so it is ignored.
  const Settings s = LoadOrDie({}, {{"WebSockets__Path", "/elsewhere"}, {"OPSTREAM__TRANSPORTS", "websockets"}});
  EXPECT_EQ(s.websockets_path, "/collab-ws");
}

TEST_F(SettingsTest, AspNetCorePrefixedVariablesAreLowestPrecedenceConfiguration) {
  dir_.Write("appsettings.json", R"({"OpStream": {"Engines": "json"}})");
  const Settings s = LoadOrDie({}, {{"ASPNETCORE_OPSTREAM__ENGINES", "form"}, {"DOTNET_OPSTREAM__TRANSPORTS", "grpc"}});
  EXPECT_THAT(s.engines, ElementsAre("text", "json"));  // appsettings.json beats ASPNETCORE_*
  EXPECT_THAT(s.transports, ElementsAre("grpc"));       // DOTNET_* beats the built-in default
}

// ---- Environment name and appsettings.{Environment}.json ----

TEST_F(SettingsTest, EnvironmentFileFollowsAspNetCoreEnvironment) {
  dir_.Write("appsettings.json", R"({"OpStream": {"Engines": "json"}})");
  dir_.Write("appsettings.Staging.json", R"({"OpStream": {"Engines": "form"}})");
  dir_.Write("appsettings.Production.json", R"({"OpStream": {"Engines": "table"}})");

  Settings s = LoadOrDie({}, {{"ASPNETCORE_ENVIRONMENT", "Staging"}});
  EXPECT_EQ(s.environment_name, "Staging");
  EXPECT_THAT(s.engines, ElementsAre("text", "form"));

  s = LoadOrDie({}, {});
  EXPECT_EQ(s.environment_name, "Production");
  EXPECT_THAT(s.engines, ElementsAre("text", "table"));

  s = LoadOrDie({}, {{"DOTNET_ENVIRONMENT", "Staging"}});
  EXPECT_EQ(s.environment_name, "Staging");

  s = LoadOrDie({}, {{"ASPNETCORE_ENVIRONMENT", "Development"}});
  EXPECT_THAT(s.engines, ElementsAre("text", "json"));  // no appsettings.Development.json: fine
}

TEST_F(SettingsTest, EnvironmentNamePrecedenceIsThatOfWebApplicationBuilder) {
  // ASP.NET Core 7+: command line > DOTNET_ENVIRONMENT > ASPNETCORE_ENVIRONMENT.
  const Environment both = {{"ASPNETCORE_ENVIRONMENT", "A"}, {"DOTNET_ENVIRONMENT", "D"}};
  EXPECT_EQ(LoadOrDie({}, both).environment_name, "D");
  EXPECT_EQ(LoadOrDie({"--environment", "C"}, both).environment_name, "C");
  EXPECT_EQ(LoadOrDie({}, {{"ENVIRONMENT", "Unprefixed"}}).environment_name, "Production");
}

TEST_F(SettingsTest, EnvironmentFileNameIsCaseSensitive) {
  dir_.Write("appsettings.staging.json", R"({"OpStream": {"Engines": "form"}})");
  EXPECT_THAT(LoadOrDie({}, {{"ASPNETCORE_ENVIRONMENT", "Staging"}}).engines, ElementsAre("text", "json"));
}

TEST_F(SettingsTest, ContentRootSelectsTheSettingsFolder) {
  std::filesystem::create_directory(dir_.path() / "conf");
  dir_.Write("conf/appsettings.json", R"({"OpStream": {"Engines": "tree"}})");
  EXPECT_THAT(LoadOrDie({"--contentRoot=conf"}, {}).engines, ElementsAre("text", "tree"));
}

TEST_F(SettingsTest, InvalidJsonFileIsAStartupErrorNamingTheFile) {
  dir_.Write("appsettings.json", "{ \"OpStream\": { \"Transports\": signalr } }");
  const std::string message = LoadError({}, {});
  EXPECT_THAT(message, HasSubstr("Failed to load configuration from file '"));
  EXPECT_THAT(message, HasSubstr("appsettings.json'"));
  EXPECT_THAT(message, HasSubstr("line 1, column"));

  dir_.Write("appsettings.json", "{}");
  dir_.Write("appsettings.Production.json", "[]");
  EXPECT_THAT(LoadError({}, {}), HasSubstr("appsettings.Production.json': Top-level JSON element must be an object."));
}

TEST_F(SettingsTest, JsonArrayForACsvSettingIsAbsentAndWarned) {
  dir_.Write("appsettings.json", R"({"OpStream": {"Transports": ["signalr", "grpc"]}})");
  EXPECT_EQ(LoadError({}, {}, kHostCodeDefaults), "OpStream:Transports (env OPSTREAM__TRANSPORTS) is required.");
  LoadOrDie({}, {});
  EXPECT_TRUE(HasWarning("Configuration key 'OpStream:Transports:0' (from appsettings.json) is not used"));
}

// ---- Empty versus absent ----

TEST_F(SettingsTest, EmptyVariableIsAValueNotAnAbsence) {
  // Present but empty: the "at least one" check, not the "required" one.
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__TRANSPORTS", ""}}),
            "OPSTREAM__TRANSPORTS must list at least one of: signalr, websockets, grpc.");
  // An empty connection string satisfies Required for a relational provider...
  const Settings s =
      LoadOrDie({}, {{"OPSTREAM__STORAGE__PROVIDER", "postgres"}, {"OPSTREAM__STORAGE__CONNECTIONSTRING", ""}});
  EXPECT_EQ(s.storage_kind, StorageKind::kPostgres);
  EXPECT_EQ(s.storage_connection_string, "");
  // ...an empty provider is an unknown provider, not the default...
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__STORAGE__PROVIDER", ""}}),
            "Unknown storage provider ''. Valid: memory, postgres, mysql, sqlserver, sqlite, mongo, redis.");
  // ...and an empty path stays empty.
  EXPECT_EQ(LoadOrDie({}, {{"OPSTREAM__SIGNALR__PATH", ""}}).signalr_path, "");
}

TEST_F(SettingsTest, EmptyJsonObjectReadsAsAbsent) {
  dir_.Write("appsettings.json", R"({"OpStream": {"Storage": {"Provider": "mysql", "ConnectionString": {}}}})");
  EXPECT_EQ(LoadError({}, {}),
            "OpStream:Storage:ConnectionString (env OPSTREAM__STORAGE__CONNECTIONSTRING) is required.");
}

// ---- §1.4 messages, verbatim, and their order ----

TEST_F(SettingsTest, UnknownEngineMessage) {
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__ENGINES", "json, Markdown ,tree"}}),
            "Unknown engine 'markdown'. Valid: text, json, rich-text, table, form, tree.");
}

TEST_F(SettingsTest, UnknownStorageProviderMessage) {
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__STORAGE__PROVIDER", "Cassandra"}}),
            "Unknown storage provider 'cassandra'. Valid: memory, postgres, mysql, sqlserver, sqlite, mongo, redis.");
  // Not trimmed: " redis" is unknown.
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__STORAGE__PROVIDER", " redis"}}),
            "Unknown storage provider ' redis'. Valid: memory, postgres, mysql, sqlserver, sqlite, mongo, redis.");
}

TEST_F(SettingsTest, UnknownBackplaneProviderMessage) {
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__BACKPLANE__PROVIDER", "NATS"}}),
            "Unknown backplane provider 'nats'. Valid: local, redis.");
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__BACKPLANE__PROVIDER", "redis "}}),
            "Unknown backplane provider 'redis '. Valid: local, redis.");
}

TEST_F(SettingsTest, RequiredConnectionStringMessages) {
  for (const char* provider :
       {"postgres", "postgresql", "mysql", "mariadb", "sqlserver", "mssql", "sqlite", "mongo", "mongodb", "redis"}) {
    EXPECT_EQ(LoadError({}, {{"OPSTREAM__STORAGE__PROVIDER", provider}}),
              "OpStream:Storage:ConnectionString (env OPSTREAM__STORAGE__CONNECTIONSTRING) is required.")
        << provider;
  }
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__BACKPLANE__PROVIDER", "redis"}}),
            "OpStream:Backplane:ConnectionString (env OPSTREAM__BACKPLANE__CONNECTIONSTRING) is required.");
  EXPECT_EQ(RequiredKeyMessage("Storage:DatabaseName"),
            "OpStream:Storage:DatabaseName (env OPSTREAM__STORAGE__DATABASENAME) is required.");
}

TEST_F(SettingsTest, EmptyTransportListMessage) {
  for (const char* value : {"", ",", " , ,", "\t"}) {
    EXPECT_EQ(LoadError({}, {{"OPSTREAM__TRANSPORTS", value}}),
              "OPSTREAM__TRANSPORTS must list at least one of: signalr, websockets, grpc.")
        << "'" << value << "'";
  }
}

TEST_F(SettingsTest, BlankRedisConnectionStringMessages) {
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__STORAGE__PROVIDER", "redis"}, {"OPSTREAM__STORAGE__CONNECTIONSTRING", " \t"}}),
            "RedisStorageOptions.ConnectionString must not be empty. Set it inside the configure action passed to "
            "UseRedisStorage().");
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__BACKPLANE__PROVIDER", "redis"}, {"OPSTREAM__BACKPLANE__CONNECTIONSTRING", ""}}),
            "RedisBackplaneOptions.ConnectionString must not be empty. Set it inside the configure action passed to "
            "UseRedisBackplane().");
}

TEST_F(SettingsTest, ValidationOrderIsEnginesStorageBackplaneTransports) {
  Environment environment = {{"OPSTREAM__ENGINES", "bogus"},
                             {"OPSTREAM__STORAGE__PROVIDER", "bogus"},
                             {"OPSTREAM__BACKPLANE__PROVIDER", "bogus"},
                             {"OPSTREAM__TRANSPORTS", ""}};
  EXPECT_THAT(LoadError({}, environment), HasSubstr("Unknown engine"));
  environment.erase("OPSTREAM__ENGINES");
  EXPECT_THAT(LoadError({}, environment), HasSubstr("Unknown storage provider"));
  environment["OPSTREAM__STORAGE__PROVIDER"] = "redis";  // Required comes before the backplane check too
  EXPECT_THAT(LoadError({}, environment), HasSubstr("OpStream:Storage:ConnectionString"));
  environment["OPSTREAM__STORAGE__PROVIDER"] = "memory";
  EXPECT_THAT(LoadError({}, environment), HasSubstr("Unknown backplane provider"));
  environment.erase("OPSTREAM__BACKPLANE__PROVIDER");
  EXPECT_THAT(LoadError({}, environment), HasSubstr("OPSTREAM__TRANSPORTS must list"));
}

// ---- CSV quirks (§1.3, SV-30) ----

TEST_F(SettingsTest, TransportListIsTrimmedLowerCasedAndDeduplicated) {
  const Settings s = LoadOrDie({}, {{"OPSTREAM__TRANSPORTS", " SignalR,,websockets , signalr,GRPC,\xC2\xA0"}});
  EXPECT_THAT(s.transports, ElementsAre("signalr", "websockets", "grpc"));
  EXPECT_TRUE(s.signalr_enabled && s.websockets_enabled && s.grpc_enabled);
  EXPECT_TRUE(s.HasTransport("grpc"));
  EXPECT_THAT(warnings_, IsEmpty());
}

TEST_F(SettingsTest, UnknownTransportsAreKeptForDisplayAndWarned) {
  const Settings s = LoadOrDie({}, {{"OPSTREAM__TRANSPORTS", "Foo,websockets"}});
  EXPECT_THAT(s.transports, ElementsAre("foo", "websockets"));
  EXPECT_TRUE(s.websockets_enabled);
  EXPECT_FALSE(s.signalr_enabled);
  EXPECT_TRUE(HasWarning("Unknown transport 'foo'"));
  EXPECT_EQ(RootEndpointText(s), "OpStream host. Storage=memory, Backplane=local, Transports=foo,websockets");
}

TEST_F(SettingsTest, OnlyUnknownTransportsStartWithoutCollaborationEndpoints) {
  const Settings s = LoadOrDie({}, {{"OPSTREAM__TRANSPORTS", "foo"}});
  EXPECT_FALSE(s.signalr_enabled || s.websockets_enabled || s.grpc_enabled);
  EXPECT_TRUE(HasWarning("no collaboration endpoint"));
}

TEST_F(SettingsTest, EnginesKeepOrderWithTextFirst) {
  const Settings s = LoadOrDie({}, {{"OPSTREAM__ENGINES", "Tree, json,TEXT,form,json,table"}});
  EXPECT_THAT(s.engines, ElementsAre("text", "tree", "json", "form", "table"));
  EXPECT_THAT(warnings_, IsEmpty());
}

TEST_F(SettingsTest, RichTextAliasIsResolvedAndDuplicatesCollapse) {
  Settings s = LoadOrDie({}, {{"OPSTREAM__ENGINES", "richtext"}});
  EXPECT_THAT(s.engines, ElementsAre("text", "rich-text"));
  EXPECT_THAT(warnings_, IsEmpty());

  s = LoadOrDie({}, {{"OPSTREAM__ENGINES", "rich-text,json,RichText"}});
  EXPECT_THAT(s.engines, ElementsAre("text", "rich-text", "json"));
  EXPECT_TRUE(HasWarning("lists both 'rich-text' and 'richtext'"));
}

// ---- Providers and the `/` text (§1.7) ----

TEST_F(SettingsTest, ProviderAliasesAreEchoedInTheRootText) {
  const Settings s = LoadOrDie({}, {{"OPSTREAM__STORAGE__PROVIDER", "PostgreSQL"},
                                    {"OPSTREAM__STORAGE__CONNECTIONSTRING", "Host=db"},
                                    {"OPSTREAM__BACKPLANE__PROVIDER", "Redis"},
                                    {"OPSTREAM__BACKPLANE__CONNECTIONSTRING", "redis:6379"},
                                    {"OPSTREAM__TRANSPORTS", "signalr,WebSockets,signalr"}});
  EXPECT_EQ(s.storage_kind, StorageKind::kPostgres);
  EXPECT_EQ(CanonicalName(s.storage_kind), "postgres");
  EXPECT_EQ(s.backplane_kind, BackplaneKind::kRedis);
  EXPECT_EQ(s.backplane_connection_string, "redis:6379");
  EXPECT_EQ(RootEndpointText(s), "OpStream host. Storage=postgresql, Backplane=redis, Transports=signalr,websockets");
}

TEST_F(SettingsTest, EveryStorageAliasMapsToItsKind) {
  const std::vector<std::pair<std::string, StorageKind>> cases = {
      {"memory", StorageKind::kMemory},   {"postgres", StorageKind::kPostgres}, {"postgresql", StorageKind::kPostgres},
      {"mysql", StorageKind::kMySql},     {"mariadb", StorageKind::kMySql},     {"sqlserver", StorageKind::kSqlServer},
      {"mssql", StorageKind::kSqlServer}, {"sqlite", StorageKind::kSqlite},     {"mongo", StorageKind::kMongo},
      {"MongoDB", StorageKind::kMongo},   {"redis", StorageKind::kRedis}};
  for (const auto& [name, kind] : cases) {
    const Settings s =
        LoadOrDie({}, {{"OPSTREAM__STORAGE__PROVIDER", name}, {"OPSTREAM__STORAGE__CONNECTIONSTRING", "x"}});
    EXPECT_EQ(s.storage_kind, kind) << name;
    EXPECT_EQ(s.storage_provider, AsciiLower(name)) << name;
  }
}

TEST_F(SettingsTest, MongoDatabaseName) {
  const Settings s = LoadOrDie({}, {{"OPSTREAM__STORAGE__PROVIDER", "mongo"},
                                    {"OPSTREAM__STORAGE__CONNECTIONSTRING", "mongodb://m:27017"},
                                    {"OPSTREAM__STORAGE__DATABASENAME", "collab"}});
  EXPECT_EQ(s.storage_database_name, "collab");
}

TEST_F(SettingsTest, MemoryStorageWithRedisBackplaneIsWarned) {
  LoadOrDie({}, {{"OPSTREAM__BACKPLANE__PROVIDER", "redis"}, {"OPSTREAM__BACKPLANE__CONNECTIONSTRING", "r:6379"}});
  EXPECT_TRUE(HasWarning("Memory storage with the Redis backplane"));  // SV-38
}

// ---- Logging, AllowedHosts ----

TEST_F(SettingsTest, LogLevelsAreParsedLikeDotNetEnums) {
  Settings s =
      LoadOrDie({}, {{"LOGGING__LOGLEVEL__DEFAULT", "debug"}, {"Logging__LogLevel__Microsoft.AspNetCore", "4"}});
  EXPECT_EQ(s.default_log_level, LogLevel::kDebug);
  EXPECT_EQ(s.aspnetcore_log_level, LogLevel::kError);
  EXPECT_EQ(LogLevelName(s.aspnetcore_log_level), "Error");

  s = LoadOrDie({"--Logging:LogLevel:Default=None"}, {{"LOGGING__LOGLEVEL__MICROSOFT.ASPNETCORE", ""}});
  EXPECT_EQ(s.default_log_level, LogLevel::kNone);
  EXPECT_EQ(s.aspnetcore_log_level, LogLevel::kNone);  // empty: unset, follows Default

  EXPECT_THAT(LoadError({}, {{"LOGGING__LOGLEVEL__DEFAULT", "Verbose"}}),
              HasSubstr("Configuration value 'Verbose' is not supported."));
}

TEST_F(SettingsTest, AllowedHostsSplitOnSemicolons) {
  EXPECT_THAT(LoadOrDie({}, {{"ALLOWEDHOSTS", "example.com;;*.example.org"}}).allowed_hosts,
              ElementsAre("example.com", "*.example.org"));
}

// ---- Extension settings ----

TEST_F(SettingsTest, ExtensionSettingsAreRead) {
  const Settings s =
      LoadOrDie({"--OpStream:Session:IdleCloseSeconds=0.25"}, {{"OPSTREAM__SERVER__WORKERTHREADS", "3"},
                                                               {"OPSTREAM__SERVER__SENDQUEUELIMITBYTES", "1048576"},
                                                               {"OPSTREAM__SERVER__SHUTDOWNGRACESECONDS", "2.5"},
                                                               {"OPSTREAM__SERVER__WRITEPACINGMICROSECONDS", "0"},
                                                               {"OPSTREAM__SERVER__FANOUTPACINGMICROSECONDS", "5000"},
                                                               {"OPSTREAM__WEBSOCKETS__MAXMESSAGEBYTES", " 65536 "},
                                                               {"OPSTREAM__SESSION__SNAPSHOTEVERYOPS", "0"},
                                                               {"OPSTREAM__SESSION__SNAPSHOTEVERYSECONDS", "60"},
                                                               {"OPSTREAM__SESSION__OPLOGTAILOPS", "50"},
                                                               {"OPSTREAM__AWARENESS__TTLSECONDS", "1.0005"},
                                                               {"OPSTREAM__STORAGE__STARTUPRETRYSECONDS", "0"}});
  EXPECT_EQ(s.worker_threads, 3u);
  EXPECT_EQ(s.send_queue_limit_bytes, 1048576u);
  EXPECT_EQ(s.shutdown_grace, std::chrono::milliseconds(2500));
  EXPECT_EQ(s.write_pacing_us, 0u);
  EXPECT_EQ(s.fanout_pacing_us, 5000u);
  EXPECT_EQ(s.websocket_max_message_bytes, 65536u);
  EXPECT_EQ(s.idle_close_delay, std::chrono::milliseconds(250));
  EXPECT_EQ(s.snapshot_every_ops, 0u);
  EXPECT_EQ(s.snapshot_every, std::chrono::seconds(60));
  EXPECT_EQ(s.op_log_tail_ops, 50u);
  EXPECT_EQ(s.awareness_ttl, std::chrono::milliseconds(1000));  // kept to the millisecond
  EXPECT_EQ(s.storage_startup_retry, std::chrono::milliseconds(0));
  EXPECT_THAT(warnings_, IsEmpty());
}

TEST_F(SettingsTest, BlankExtensionSettingKeepsTheDefault) {
  EXPECT_EQ(LoadOrDie({}, {{"OPSTREAM__SERVER__WORKERTHREADS", ""}}).worker_threads,
            std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(LoadOrDie({}, {{"OPSTREAM__SERVER__WORKERTHREADS", "0"}}).worker_threads,
            std::max(1u, std::thread::hardware_concurrency()));
}

TEST_F(SettingsTest, InvalidExtensionSettingsAreStartupErrors) {
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__SERVER__WORKERTHREADS", "many"}}),
            "Invalid value 'many' for OpStream:Server:WorkerThreads (env OPSTREAM__SERVER__WORKERTHREADS): expected a "
            "whole number from 0 to 1024.");
  EXPECT_THAT(LoadError({}, {{"OPSTREAM__WEBSOCKETS__MAXMESSAGEBYTES", "-1"}}),
              HasSubstr("OpStream:WebSockets:MaxMessageBytes"));
  EXPECT_THAT(LoadError({}, {{"OPSTREAM__SERVER__SENDQUEUELIMITBYTES", "99999999999999999999999"}}),
              HasSubstr("OpStream:Server:SendQueueLimitBytes"));
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__SESSION__IDLECLOSESECONDS", "5m"}}),
            "Invalid value '5m' for OpStream:Session:IdleCloseSeconds (env OPSTREAM__SESSION__IDLECLOSESECONDS): "
            "expected a number of seconds, such as 30 or 0.5.");
  EXPECT_THAT(LoadError({}, {{"OPSTREAM__AWARENESS__TTLSECONDS", "0"}}), HasSubstr("a positive number of seconds"));
  EXPECT_EQ(LoadError({}, {{"OPSTREAM__SERVER__WRITEPACINGMICROSECONDS", "100001"}}),
            "Invalid value '100001' for OpStream:Server:WritePacingMicroseconds (env "
            "OPSTREAM__SERVER__WRITEPACINGMICROSECONDS): expected a whole number from 0 to 100000.");
  EXPECT_THAT(LoadError({}, {{"OPSTREAM__SESSION__SNAPSHOTEVERYSECONDS", "."}}),
              HasSubstr("OpStream:Session:SnapshotEverySeconds"));
}

TEST_F(SettingsTest, ReferenceErrorsWinOverExtensionErrors) {
  EXPECT_THAT(LoadError({}, {{"OPSTREAM__SERVER__WORKERTHREADS", "many"}, {"OPSTREAM__ENGINES", "bogus"}}),
              HasSubstr("Unknown engine 'bogus'"));
}

// ---- Unused keys ----

TEST_F(SettingsTest, UnusedOpStreamKeysAreWarned) {
  LoadOrDie(
      {},
      {{"OPSTREAM__STORAGE__PROVDER", "redis"}, {"OPSTREAM__TENANTWEBHOOK__URL", "http://x"}, {"UNRELATED__KEY", "1"}});
  EXPECT_TRUE(HasWarning("'OPSTREAM:STORAGE:PROVDER' (from environment variables) is not used"));
  EXPECT_TRUE(HasWarning("'OPSTREAM:TENANTWEBHOOK:URL'"));
  EXPECT_FALSE(HasWarning("UNRELATED"));
}

TEST_F(SettingsTest, KestrelSectionIsWarned) {
  dir_.Write("appsettings.json", R"({"Kestrel": {"Endpoints": {"Http": {"Url": "http://+:9000"}}}})");
  LoadOrDie({}, {});
  EXPECT_TRUE(HasWarning("Kestrel:* settings"));
}

TEST_F(SettingsTest, ReadProcessEnvironmentSeesTheRealEnvironment) {
  ASSERT_EQ(setenv("OPSTREAM_CONFIG_TEST_VARIABLE", "a=b", 1), 0);
  const Environment environment = ReadProcessEnvironment();
  unsetenv("OPSTREAM_CONFIG_TEST_VARIABLE");
  ASSERT_TRUE(environment.contains("OPSTREAM_CONFIG_TEST_VARIABLE"));
  EXPECT_EQ(environment.at("OPSTREAM_CONFIG_TEST_VARIABLE"), "a=b");
}

TEST_F(SettingsTest, BindSettingsWorksOnAnyConfiguration) {
  Configuration configuration;
  configuration.AddLayer("test", {{"OpStream:Transports", "grpc"}, {"urls", "http://127.0.0.1:0"}});
  Settings s;
  std::vector<std::string> warnings;
  ASSERT_TRUE(BindSettings(configuration, kHostCodeDefaults, s, warnings).ok());
  EXPECT_THAT(s.transports, ElementsAre("grpc"));
  EXPECT_THAT(s.bindings, ElementsAre(ListenBinding{"127.0.0.1", 0, "http://127.0.0.1:0", false}));
}

TEST_F(SettingsTest, OutputIsUntouchedOnError) {
  settings_.signalr_path = "/sentinel";
  EXPECT_FALSE(Load({}, {{"OPSTREAM__ENGINES", "bogus"}}).ok());
  EXPECT_EQ(settings_.signalr_path, "/sentinel");
}

}  // namespace
}  // namespace opstream::config
