// opstream-server: the composition root. Reads the configuration, builds the layers (engines,
// storage, backplane, session, transports, network), serves until SIGTERM/SIGINT, then shuts down
// gracefully: stop accepting, close every connection with a close frame, flush appends and
// snapshots, exit 0.
#include <fmt/format.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <iostream>
#include <optional>
#include <thread>

#include "backplane/local_backplane.hpp"
#include "backplane/redis/redis_backplane.hpp"
#include "common/io_context_pool.hpp"
#include "common/logging.hpp"
#include "config/command_line.hpp"
#include "config/settings.hpp"
#include "engines/engine_registry.hpp"
#include "engines/form/form_engine.hpp"
#include "engines/json_crdt/json_crdt_engine.hpp"
#include "engines/rich_text/rich_text_engine.hpp"
#include "engines/table/table_engine.hpp"
#include "engines/text/text_engine.hpp"
#include "engines/tree/tree_engine.hpp"
#include "net/flush_pacer.hpp"
#include "net/http2_connection.hpp"
#include "net/http_endpoints.hpp"
#include "net/probe.hpp"
#include "net/server.hpp"
#include "session/document_router.hpp"
#include "storage/memory_store.hpp"
#include "storage/mongo/mongo_document_store.hpp"
#include "storage/mysql/mysql_document_store.hpp"
#include "storage/postgres/postgres_document_store.hpp"
#include "storage/redis/redis_connection_string.hpp"
#include "storage/redis/redis_document_store.hpp"
#include "storage/sqlite/sqlite_document_store.hpp"
#include "storage/sqlserver/sqlserver_document_store.hpp"
#include "transports/grpc/grpc_service.hpp"
#include "transports/signalr/signalr_transport.hpp"
#include "transports/websocket/collab_socket.hpp"

namespace {

using namespace opstream;
namespace asio = boost::asio;

constexpr std::string_view kVersion = "0.1.0";

int Fail(const std::string& message) {
  std::cerr << "Unhandled exception. System.InvalidOperationException: " << message << std::endl;
  return 1;
}

spdlog::level::level_enum ToSpdlog(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::kTrace:
      return spdlog::level::trace;
    case config::LogLevel::kDebug:
      return spdlog::level::debug;
    case config::LogLevel::kInformation:
      return spdlog::level::info;
    case config::LogLevel::kWarning:
      return spdlog::level::warn;
    case config::LogLevel::kError:
      return spdlog::level::err;
    case config::LogLevel::kCritical:
      return spdlog::level::critical;
    case config::LogLevel::kNone:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

// Engines this build provides; configured engines missing here are reported at startup.
std::shared_ptr<const engines::Engine> MakeEngine(std::string_view name) {
  if (name == "text") return engines::MakeTextEngine();
  if (name == "rich-text") return engines::MakeRichTextEngine();
  if (name == "json") return engines::MakeJsonCrdtEngine();
  if (name == "form") return engines::MakeFormEngine();
  if (name == "table") return engines::MakeTableEngine();
  if (name == "tree") return engines::MakeTreeEngine();
  return nullptr;
}

Status OpenStore(const config::Settings& settings, std::unique_ptr<storage::DocumentStore>& store) {
  switch (settings.storage_kind) {
    case config::StorageKind::kMemory:
      store = std::make_unique<storage::MemoryDocumentStore>();
      return Status::Ok();
    case config::StorageKind::kSqlite:
      return storage::OpenSqliteStore(settings.storage_connection_string, store);
    case config::StorageKind::kPostgres:
      return storage::OpenPostgresStore(settings.storage_connection_string, store);
    case config::StorageKind::kMySql:
      return storage::OpenMySqlStore(settings.storage_connection_string, store);
    case config::StorageKind::kRedis:
      return storage::OpenRedisStore(settings.storage_connection_string, store);
    case config::StorageKind::kMongo:
      return storage::OpenMongoStore(settings.storage_connection_string, store,
                                     {.database_name = settings.storage_database_name});
    case config::StorageKind::kSqlServer:
      return storage::OpenSqlServerStore(settings.storage_connection_string, store);
    default:
      return Status::Error(
          fmt::format("Storage provider '{}' is not available in this build of OpStream Server. "
                      "Available: memory, sqlite, postgres, mysql, sqlserver, redis, mongo.",
                      settings.storage_provider));
  }
}

// Connects the Redis backplane, running the event loop on a helper thread until the first
// connection attempt is decided (the workers do not run yet).
Status StartRedisBackplane(asio::io_context& io, const std::string& connection_string,
                           std::unique_ptr<backplane::Backplane>& out) {
  redis::ConnectionOptions options;
  if (auto parsed = redis::ParseConnectionString(connection_string, options); !parsed.ok()) {
    return Status::Error(fmt::format("Invalid backplane connection string: {}", parsed.message()));
  }
  auto redis_backplane = std::make_unique<backplane::RedisBackplane>(io, options);
  std::promise<Status> started;
  redis_backplane->Start([&started](Status status) { started.set_value(std::move(status)); });
  auto work = asio::make_work_guard(io);
  std::thread loop([&io] { io.run(); });
  const Status status = started.get_future().get();
  work.reset();
  io.stop();  // pending work stays queued and resumes when the workers run the loop
  loop.join();
  io.restart();
  if (!status.ok() && options.abort_connect) {
    return Status::Error(
        fmt::format("The Redis backplane could not connect to {}: {}", options.Describe(), status.message()));
  }
  if (!status.ok()) {
    GetLogger("OpStream.Server.Backplane.Redis.RedisBackplane")
        ->warn("Redis backplane is not connected yet ({}); retrying in the background", status.message());
  }
  out = std::move(redis_backplane);
  return Status::Ok();
}

// Runs Initialize (schema migration) with retries until the configured budget is spent (§3.8).
Status InitializeStore(storage::DocumentStore& store, std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  auto delay = std::chrono::milliseconds(250);
  while (true) {
    std::promise<Status> promise;
    store.Initialize([&promise](Status status) { promise.set_value(std::move(status)); });
    auto status = promise.get_future().get();
    if (status.ok() || std::chrono::steady_clock::now() + delay > deadline) return status;
    GetLogger("OpStream.Host.Migrations")
        ->warn("Storage is not ready ({}); retrying in {} ms", status.message(), delay.count());
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(4000));
  }
}

std::vector<net::ListenEndpoint> ToEndpoints(const std::vector<config::ListenBinding>& bindings) {
  std::vector<net::ListenEndpoint> endpoints;
  for (const auto& binding : bindings) {
    if (binding.AllInterfaces()) {
      endpoints.push_back({{asio::ip::address_v6::any(), binding.port}, binding.url, true, true});
      endpoints.push_back({{asio::ip::address_v4::any(), binding.port}, binding.url, false, true});
      continue;
    }
    const auto address = asio::ip::make_address(binding.address);
    endpoints.push_back({{address, binding.port}, binding.url, false, binding.loopback_pair});
  }
  return endpoints;
}

std::string DisplayUrl(const asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (address.is_v6()) return fmt::format("http://[{}]:{}", address.to_string(), endpoint.port());
  return fmt::format("http://{}:{}", address.to_string(), endpoint.port());
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  config::LaunchRequest launch;
  if (auto parsed = config::ParseLaunchRequest(args, launch); !parsed.ok()) {
    std::cerr << parsed.message() << std::endl;
    return 2;
  }
  switch (launch.mode) {
    case config::LaunchMode::kHelp:
      std::cout << config::HelpText();
      return 0;
    case config::LaunchMode::kVersion:
      std::cout << "opstream-server " << kVersion << std::endl;
      return 0;
    case config::LaunchMode::kProbe:
      return net::RunProbe(launch.probe_url, std::chrono::seconds(5));
    case config::LaunchMode::kRun:
      break;
  }

  config::Settings settings;
  std::vector<std::string> warnings;
  if (auto loaded = config::LoadSettings(args, config::ReadProcessEnvironment(), std::filesystem::current_path(),
                                         settings, warnings);
      !loaded.ok()) {
    return Fail(loaded.message());
  }
  ConfigureLogging(ToSpdlog(settings.default_log_level));
  const auto host_log = GetLogger("OpStream.Host");
  for (const auto& warning : warnings) host_log->warn("{}", warning);

  // ---- engines ----
  engines::EngineRegistry engine_registry;
  for (const auto& name : settings.engines) {
    if (auto engine = MakeEngine(name)) {
      // D9: joins may name rich text "richtext", like the configuration does.
      engine_registry.Register(engine,
                               name == "rich-text" ? std::vector<std::string>{"richtext"} : std::vector<std::string>{});
    } else {
      host_log->warn("Engine '{}' is not available in this build; joins of type '{}' are refused.", name, name);
    }
  }

  // ---- storage and backplane ----
  std::unique_ptr<storage::DocumentStore> store;
  if (auto opened = OpenStore(settings, store); !opened.ok()) return Fail(opened.message());
  // The backplane's connections run on the server's own event loop; it connects now so that an
  // unreachable Redis aborts startup with the default abortConnect=true (server.md §4.3).
  IoContextPool loops(settings.worker_threads);
  asio::io_context& io = loops.primary();
  std::unique_ptr<backplane::Backplane> backplane;
  if (settings.backplane_kind == config::BackplaneKind::kRedis) {
    if (auto started = StartRedisBackplane(io, settings.backplane_connection_string, backplane); !started.ok()) {
      return Fail(started.message());
    }
  } else {
    backplane = std::make_unique<backplane::LocalBackplane>();
  }

  // ---- startup report (server.md §1.8), logged once ----
  const auto startup_log = GetLogger("OpStream.Server.Session.OpStreamStartupValidator");
  if (settings.storage_kind == config::StorageKind::kMemory) {
    startup_log->warn(
        "OpStream is using MemoryDocumentStore. All document data will be lost when the process restarts. Call "
        "UseRedisStorage(), UseEfCoreStorage(), or another persistent store before going to production.");
  } else {
    startup_log->info("OpStream storage: {}", store->type_name());
  }
  if (backplane->is_local()) {
    startup_log->info(
        "OpStream is running in single-node mode (LocalBackplane). Call UseRedisBackplane() or UseNatsBackplane() "
        "for multi-node deployments.");
  } else {
    startup_log->info("OpStream backplane: RedisBackplane");
    GetLogger("OpStream.Server.Backplane.Redis.RedisBackplane")->info("Backplane node id: {}", backplane->node_id());
  }
  for (const auto& type : engine_registry.DocumentTypes()) {
    startup_log->info("OpStream engine registered for document type: \"{}\"", type);
  }

  const auto migration_log = GetLogger("OpStream.Host.Migrations");
  migration_log->info("Applying automatic migrations...");
  if (auto initialized = InitializeStore(*store, settings.storage_startup_retry); !initialized.ok()) {
    return Fail(fmt::format("Storage could not be initialized: {}", initialized.message()));
  }
  migration_log->info("Automatic migrations applied successfully.");

  // ---- session layer, transports, network ----
  session::SessionOptions session_options;
  session_options.idle_close_delay = settings.idle_close_delay;
  session_options.snapshot_every_ops =
      settings.snapshot_every_ops == 0 ? INT64_MAX : static_cast<int64_t>(settings.snapshot_every_ops);
  session_options.snapshot_interval =
      settings.snapshot_every.count() == 0 ? std::chrono::milliseconds::max() : settings.snapshot_every;
  session_options.op_log_tail = static_cast<int64_t>(settings.op_log_tail_ops);
  session_options.awareness_ttl = settings.awareness_ttl;
  session::DocumentRouter router(io, engine_registry, *store, *backplane, session_options, &loops);

  net::HttpEndpoints endpoints(config::RootEndpointText(settings), *store, *backplane);
  net::Server server(io, endpoints, &loops);
  // Broadcasts that are not paced (a receiver's first frame after a pause, SignalR) are written by
  // threads of their own (half the workers, at least one): reads and document work go on while a
  // large fan-out is written, so frames gather per receiver.
  const unsigned writer_threads = std::max(1u, settings.worker_threads / 2);
  asio::io_context write_io(static_cast<int>(writer_threads));
  auto write_work = asio::make_work_guard(write_io);
  // Both pacers run their rounds on the loop that deferred the flush, the document's, which is
  // awake anyway while ops arrive and is where its WebSockets live: on a writer thread every round
  // was a wake-up and a context switch, and each receiver's queue moved between cores (N = 32:
  // about a sixth more server CPU per op; fan-out to 500 readers: 1.43 against 1.63 µs per
  // delivery; bench/README.md).
  std::optional<net::FlushPacer> flush_pacer;
  if (settings.write_pacing_us != 0) flush_pacer.emplace(loops, std::chrono::microseconds(settings.write_pacing_us));
  net::FlushPacer* const pacer = flush_pacer ? &*flush_pacer : nullptr;
  std::optional<net::FlushPacer> fanout_flush_pacer;
  if (settings.fanout_pacing_us != 0) {
    fanout_flush_pacer.emplace(loops, std::chrono::microseconds(settings.fanout_pacing_us));
  }
  net::FlushPacer* const fanout_pacer = fanout_flush_pacer ? &*fanout_flush_pacer : nullptr;
  transports::websocket::CollabSocketOptions socket_options{settings.websocket_max_message_bytes,
                                                            settings.send_queue_limit_bytes};
  socket_options.write_context = &write_io;
  socket_options.flush_pacer = pacer;
  socket_options.fanout_pacer = fanout_pacer;
  if (settings.websockets_enabled) {
    server.AddWebSocketRoute(settings.websockets_path, [&](auto stream, auto request, auto hold) {
      transports::websocket::CollabSocket::Accept(std::move(stream), std::move(request), std::move(hold), router,
                                                  server, socket_options);
    });
  }
  std::optional<transports::signalr::SignalRTransport> signalr;
  if (settings.signalr_enabled) {
    transports::signalr::SignalROptions signalr_options;
    signalr_options.max_queued_bytes = settings.send_queue_limit_bytes;
    signalr_options.write_context = &write_io;
    signalr_options.flush_pacer = pacer;
    signalr_options.fanout_pacer = fanout_pacer;
    signalr.emplace(io, server, router, settings.signalr_path, settings.signalr_management_path, signalr_options);
  }
  std::optional<transports::grpc::GrpcService> grpc_service;
  if (settings.grpc_enabled) {
    grpc_service.emplace(router, endpoints, transports::grpc::GrpcOptions{settings.send_queue_limit_bytes});
    net::Http2Connection::SetStreamFactory(
        [&grpc_service](const auto& head, auto stream) { return grpc_service->Open(head, std::move(stream)); });
  }

  if (auto listening = server.Listen(ToEndpoints(settings.bindings)); !listening.ok()) return Fail(listening.message());
  const auto lifetime_log = GetLogger("Microsoft.Hosting.Lifetime");
  for (const auto& endpoint : server.BoundEndpoints()) lifetime_log->info("Now listening on: {}", DisplayUrl(endpoint));
  lifetime_log->info("Application started. Press Ctrl+C to shut down.");
  lifetime_log->info("Hosting environment: {}", settings.environment_name);
  lifetime_log->info("Content root path: {}", std::filesystem::current_path().string());

  std::promise<void> stop_requested;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) stop_requested.set_value();
  });

  std::vector<std::thread> threads;
  loops.Start();
  for (unsigned i = 0; i < writer_threads; ++i) threads.emplace_back([&write_io] { write_io.run(); });

  stop_requested.get_future().wait();
  lifetime_log->info("Application is shutting down...");
  server.Stop();
  const auto deadline = std::chrono::steady_clock::now() + settings.shutdown_grace;
  while (server.LiveConnectionCount() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::promise<void> flushed;
  router.FlushAll([&flushed] { flushed.set_value(); });
  if (flushed.get_future().wait_until(deadline + std::chrono::seconds(5)) != std::future_status::ready) {
    host_log->error("Timed out writing final snapshots.");
  }
  store->Flush(std::chrono::seconds(5));
  loops.Stop();
  write_io.stop();
  for (auto& thread : threads) thread.join();
  loops.Join();
  return 0;
}
