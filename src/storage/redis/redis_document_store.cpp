#include "storage/redis/redis_document_store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "common/base64.hpp"
#include "storage/append_rules.hpp"
#include "storage/store_jobs.hpp"

namespace opstream::storage {
namespace {

namespace asio = boost::asio;
using redis::Reply;

// KEYS[1] = ops stream; ARGV = rev, auth, ts, payload, engine for each op, ascending. Returns the
// number of ops written, or {revision, error} when the first XADD is refused.
constexpr std::string_view kAppendScript = R"lua(
local n = #ARGV / 5
for i = 0, n - 1 do
  local b = i * 5
  local r = redis.pcall('XADD', KEYS[1], ARGV[b + 1] .. '-0', 'rev', ARGV[b + 1], 'auth', ARGV[b + 2],
                        'ts', ARGV[b + 3], 'payload', ARGV[b + 4], 'engine', ARGV[b + 5])
  if type(r) == 'table' and r.err then
    if i == 0 then return {ARGV[b + 1], r.err} end
    return redis.error_reply(r.err)
  end
end
return n
)lua";

// KEYS[1] = snapshot, KEYS[2] = ops stream. Returns {snapshot or nil, entries after its revision}.
// The revision is read with a pattern instead of a JSON decode: state is base64, so the first
// "revision" in the text is the field, and decoding a large snapshot in Lua would be slow. When
// the pattern finds nothing every op is returned and the caller filters.
constexpr std::string_view kLoadScript = R"lua(
local snapshot = redis.call('GET', KEYS[1])
local from = '-'
if snapshot then
  local revision = tonumber(string.match(snapshot, '"revision"%s*:%s*(%-?%d+)'))
  if revision and revision >= 0 then from = string.format('%d-0', revision + 1) end
end
return {snapshot, redis.call('XRANGE', KEYS[2], from, '+')}
)lua";

// What identifies an append whose reply was lost: its first op (see ResolveInDoubt).
struct InDoubtAppend {
  int64_t first_revision = 0;
  int64_t last_revision = 0;
  std::string author_id;
  std::string payload;
  std::string ts;
};

constexpr int64_t kMinimumVersion[] = {6, 2, 0};  // XTRIM MINID and exclusive XRANGE ranges

Timestamp FromUnixMilliseconds(int64_t ms) { return Timestamp(std::chrono::milliseconds(ms)); }

int64_t ToUnixMilliseconds(Timestamp t) {
  return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool ParseInt64(std::string_view text, int64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

std::string SnapshotJson(const Snapshot& snapshot) {
  std::string json = fmt::format(R"({{"revision":{},"timestamp":"{}","state":")", snapshot.revision,
                                 FormatIsoTimestamp(snapshot.timestamp));
  Base64Encode(snapshot.state, json);
  json += "\"}";
  return json;
}

// The reference reads these names case-sensitively (§3.7); so do we.
Status ParseSnapshotJson(std::string_view document_id, std::string_view text, Snapshot& out) {
  auto unreadable = [&](std::string_view why) {
    return Status::Error(
        fmt::format("Redis load failed: the snapshot of document '{}' is unreadable ({}).", document_id, why));
  };
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(text, ec);
  if (ec) return unreadable(ec.message());
  const boost::json::object* object = value.if_object();
  if (!object) return unreadable("not a JSON object");
  const boost::json::value* revision = object->if_contains("revision");
  if (!revision || !revision->is_int64()) {
    if (!revision || !revision->is_uint64()) return unreadable("no integer 'revision'");
  }
  out.revision = revision->to_number<int64_t>();
  const boost::json::value* timestamp = object->if_contains("timestamp");
  if (!timestamp || !timestamp->is_string()) return unreadable("no string 'timestamp'");
  const auto parsed = ParseTimestamp(timestamp->get_string());
  if (!parsed) return unreadable("invalid 'timestamp'");
  out.timestamp = *parsed;
  out.state.clear();
  const boost::json::value* state = object->if_contains("state");
  if (state && state->is_string()) {
    if (!Base64Decode(state->get_string(), out.state)) return unreadable("'state' is not base64");
  } else if (state && !state->is_null()) {
    return unreadable("'state' is not a string");
  }
  return Status::Ok();
}

// One XRANGE entry: [id, [field, value, ...]].
Status ParseStreamEntry(std::string_view document_id, const Reply& entry, StoredOp& op) {
  auto unreadable = [&](std::string_view why) {
    return Status::Error(
        fmt::format("Redis load failed: an op of document '{}' is unreadable ({}).", document_id, why));
  };
  if (entry.elements.size() != 2 || entry.elements[1].type != Reply::Type::kArray) return unreadable("not an entry");
  const std::string& id = entry.elements[0].str;
  const auto& fields = entry.elements[1].elements;
  bool have_rev = false;
  bool have_ts = false;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].str;
    const std::string& value = fields[i + 1].str;
    if (name == "rev") {
      if (!ParseInt64(value, op.revision)) return unreadable(fmt::format("entry {}: rev '{}'", id, value));
      have_rev = true;
    } else if (name == "auth") {
      op.author_id = value;
    } else if (name == "ts") {
      int64_t ms = 0;
      if (!ParseInt64(value, ms)) return unreadable(fmt::format("entry {}: ts '{}'", id, value));
      op.timestamp = FromUnixMilliseconds(ms);
      have_ts = true;
    } else if (name == "payload") {
      op.payload = value;
    } else if (name == "engine") {
      op.engine_type = value;
    }
  }
  if (!have_rev) {
    // The entry id carries the revision too ({revision}-0).
    const std::string_view head = std::string_view(id).substr(0, id.find('-'));
    if (!ParseInt64(head, op.revision)) return unreadable(fmt::format("entry {} has no revision", id));
  }
  if (!have_ts) return unreadable(fmt::format("entry {} has no ts", id));
  return Status::Ok();
}

bool VersionAtLeast(std::string_view version, const int64_t (&minimum)[3]) {
  int64_t parts[3] = {0, 0, 0};
  for (int i = 0; i < 3 && !version.empty(); ++i) {
    const size_t dot = version.find('.');
    if (!ParseInt64(version.substr(0, dot), parts[i])) return false;
    version = dot == std::string_view::npos ? std::string_view() : version.substr(dot + 1);
  }
  for (int i = 0; i < 3; ++i) {
    if (parts[i] != minimum[i]) return parts[i] > minimum[i];
  }
  return true;
}

template <typename F, typename... Args>
void SafeInvoke(F& f, Args&&... args) noexcept {
  jobs::InvokeCompletion("redis", f, std::forward<Args>(args)...);
}

}  // namespace

std::string RedisSnapshotKey(std::string_view prefix, std::string_view document_id) {
  return fmt::format("{}doc:{}:snapshot", prefix, document_id);
}
std::string RedisOpsKey(std::string_view prefix, std::string_view document_id) {
  return fmt::format("{}doc:{}:ops", prefix, document_id);
}

class RedisDocumentStore::Impl {
 public:
  Impl(redis::ConnectionOptions options, RedisStoreSettings settings)
      : settings_(std::move(settings)),
        work_(asio::make_work_guard(io_)),
        client_(std::make_unique<redis::Client>(io_, std::move(options), MakeClientSettings())) {
    thread_ = std::thread([this] {
#ifdef __linux__
      pthread_setname_np(pthread_self(), "opstream-redis");
#endif
      io_.run();
    });
  }

  ~Impl() {
    Flush(std::chrono::seconds(5));
    client_->Stop();
    work_.reset();
    // The Stop above is queued on the client's strand; once it ran, nothing keeps the loop busy
    // except a resolver or timers it cancels, so the thread ends on its own.
    asio::post(io_, [this] { asio::post(io_, [this] { io_.stop(); }); });
    thread_.join();
  }

  redis::ClientSettings MakeClientSettings() const {
    redis::ClientSettings client = settings_.client;
    if (client.log_name == "redis") client.log_name = "storage.redis";
    return client;
  }

  void Initialize(Completion done) {
    Begin();
    if (!started_.exchange(true)) {
      client_->Start([this, done = std::move(done)](Status status) mutable {
        if (!status.ok()) {
          if (client_->options().abort_connect) {
            return Finish(done, Status::Error(fmt::format("Redis storage could not connect ({}): {}",
                                                          client_->options().Describe(), status.message())));
          }
          spdlog::warn(
              "storage.redis: Redis is unreachable ({}); continuing because abortConnect=false, storage calls fail "
              "until it connects",
              status.message());
          return Finish(done, Status::Ok());
        }
        CheckVersion(std::move(done));
      });
      return;
    }
    if (!client_->connected() && !client_->options().abort_connect) return Finish(done, Status::Ok());
    CheckVersion(std::move(done));
  }

  void CheckVersion(Completion done) {
    client_->Execute({"INFO", "server"}, [this, done = std::move(done)](Status status, Reply reply) mutable {
      if (!status.ok()) return Finish(done, Status::Error(fmt::format("Redis storage: {}", status.message())));
      const size_t at = reply.str.find("redis_version:");
      std::string version = "unknown";
      if (at != std::string::npos) {
        const size_t start = at + std::string_view("redis_version:").size();
        version = reply.str.substr(start, reply.str.find_first_of("\r\n", start) - start);
      }
      if (!VersionAtLeast(version, kMinimumVersion)) {
        return Finish(done,
                      Status::Error(fmt::format(
                          "Redis storage needs Redis 6.2 or newer (XTRIM MINID); the server is version {}.", version)));
      }
      spdlog::info("storage.redis: ready ({}, Redis {})", client_->options().Describe(), version);
      Finish(done, Status::Ok());
    });
  }

  void Load(std::string document_id, LoadCompletion done) {
    Begin();
    client_->Execute({"EVAL", std::string(kLoadScript), "2", RedisSnapshotKey(settings_.key_prefix, document_id),
                      RedisOpsKey(settings_.key_prefix, document_id)},
                     [this, document_id, done = std::move(done)](Status status, Reply reply) mutable {
                       LoadedDocument loaded;
                       if (status.ok()) status = ReadLoadReply(document_id, reply, loaded);
                       if (!status.ok()) {
                         loaded = {};
                         status = Status::Error(status.message().starts_with("Redis load failed")
                                                    ? status.message()
                                                    : fmt::format("Redis load failed: {}", status.message()));
                       }
                       SafeInvoke(done, std::move(status), std::move(loaded));
                       End();
                     });
  }

  static Status ReadLoadReply(std::string_view document_id, const Reply& reply, LoadedDocument& loaded) {
    if (reply.type != Reply::Type::kArray || reply.elements.size() != 2) {
      return Status::Error("Redis load failed: unexpected reply to the load script.");
    }
    if (reply.elements[0].type == Reply::Type::kString) {
      Snapshot snapshot;
      if (Status status = ParseSnapshotJson(document_id, reply.elements[0].str, snapshot); !status.ok()) {
        return status;
      }
      loaded.snapshot = std::move(snapshot);
    }
    const auto& entries = reply.elements[1].elements;
    loaded.ops.reserve(entries.size());
    for (const Reply& entry : entries) {
      StoredOp op;
      if (Status status = ParseStreamEntry(document_id, entry, op); !status.ok()) return status;
      if (loaded.snapshot && op.revision <= loaded.snapshot->revision) continue;
      loaded.ops.push_back(std::move(op));
    }
    return Status::Ok();
  }

  void Append(std::string document_id, std::vector<StoredOp> ops, Completion done) {
    Begin();
    if (Status valid = ValidateAppendBatch(document_id, ops); !valid.ok()) return Finish(done, std::move(valid));
    if (ops.empty()) return Finish(done, Status::Ok());
    if (ops.front().revision < 1) {
      return Finish(done, Status::Error(fmt::format(
                              "Redis storage cannot store revision {} of document '{}' (stream ids start at 1-0).",
                              ops.front().revision, document_id)));
    }
    std::vector<std::string> args;
    args.reserve(4 + ops.size() * 5);
    args.emplace_back("EVAL");
    args.emplace_back(kAppendScript);
    args.emplace_back("1");
    args.push_back(RedisOpsKey(settings_.key_prefix, document_id));
    for (StoredOp& op : ops) {
      args.push_back(std::to_string(op.revision));
      args.push_back(std::move(op.author_id));
      args.push_back(std::to_string(ToUnixMilliseconds(op.timestamp)));
      args.push_back(std::move(op.payload));
      args.push_back(std::move(op.engine_type));
    }
    InDoubtAppend probe{ops.front().revision, ops.back().revision, args[5], args[7], args[6]};
    client_->Execute(std::move(args), [this, document_id, probe = std::move(probe), done = std::move(done)](
                                          Status status, Reply reply) mutable {
      if (status.ok() && reply.type == Reply::Type::kArray && reply.elements.size() == 2) {
        int64_t revision = 0;
        ParseInt64(reply.elements[0].str, revision);
        const std::string& error = reply.elements[1].str;
        // Redis: "The ID specified in XADD is equal or smaller than the target stream top item".
        if (error.find("equal or smaller") != std::string::npos) {
          status = DuplicateRevisionError(document_id, revision);
        } else {
          status = Status::Error(fmt::format("Redis append failed: {}", error));
        }
      } else if (redis::IsInDoubt(status)) {
        return ResolveInDoubt(
            std::move(document_id), std::move(probe), std::move(status),
            // As long as a command may take (syncTimeout): the caller waits no longer than for any reply.
            std::chrono::steady_clock::now() + client_->options().command_timeout, std::move(done));
      } else if (!status.ok()) {
        status = Status::Error(fmt::format("Redis append failed: {}", status.message()));
      }
      Finish(done, std::move(status));
    });
  }

  // The reply of an append was lost: look at the stream (after reconnecting) to learn whether the
  // script ran, so that the caller never hears "failed" about a committed op, or "committed"
  // about a lost one. The script is atomic, so the batch's first entry tells for all of it.
  void ResolveInDoubt(std::string document_id, InDoubtAppend probe, Status original,
                      std::chrono::steady_clock::time_point deadline, Completion done) {
    auto retry_later = [this](std::string id, InDoubtAppend p, Status why, std::chrono::steady_clock::time_point until,
                              Completion callback) {
      if (std::chrono::steady_clock::now() >= until) {
        return Finish(callback, Status::Error(fmt::format(
                                    "Redis append failed: {}; whether revision {} of document '{}' was stored could "
                                    "not be checked because Redis is unreachable",
                                    why.message(), p.first_revision, id)));
      }
      auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      timer->async_wait([this, timer, id = std::move(id), p = std::move(p), why = std::move(why), until,
                         callback = std::move(callback)](const boost::system::error_code&) mutable {
        ResolveInDoubt(std::move(id), std::move(p), std::move(why), until, std::move(callback));
      });
    };
    if (!client_->connected()) {
      return retry_later(std::move(document_id), std::move(probe), std::move(original), deadline, std::move(done));
    }
    const std::string first = fmt::format("{}-0", probe.first_revision);
    client_->Execute(
        {"XRANGE", RedisOpsKey(settings_.key_prefix, document_id), first, first},
        [this, document_id, probe, original, deadline, retry_later, done = std::move(done)](Status status,
                                                                                            Reply reply) mutable {
          if (!status.ok()) {
            return retry_later(std::move(document_id), std::move(probe), std::move(original), deadline,
                               std::move(done));
          }
          StoredOp stored;
          if (reply.elements.empty()) {
            spdlog::warn("storage.redis: append to '{}' was not executed ({})", document_id, original.message());
            return Finish(done,
                          Status::Error(fmt::format("Redis append failed: {}; it was not stored, and may be retried",
                                                    original.message())));
          }
          if (ParseStreamEntry(document_id, reply.elements[0], stored).ok() && stored.author_id == probe.author_id &&
              stored.payload == probe.payload && std::to_string(ToUnixMilliseconds(stored.timestamp)) == probe.ts) {
            spdlog::info(
                "storage.redis: append to '{}' (revision {}) was committed although its reply "
                "was lost ({})",
                document_id, probe.first_revision, original.message());
            return Finish(done, Status::Ok());
          }
          Finish(done, DuplicateRevisionError(document_id, probe.first_revision));
        });
  }

  void WriteSnapshot(std::string document_id, Snapshot snapshot, Completion done) {
    Begin();
    client_->Execute({"SET", RedisSnapshotKey(settings_.key_prefix, document_id), SnapshotJson(snapshot)},
                     [this, done = std::move(done)](Status status, Reply) mutable {
                       if (!status.ok()) {
                         status = Status::Error(fmt::format("Redis snapshot write failed: {}", status.message()));
                       }
                       Finish(done, std::move(status));
                     });
  }

  void Compact(std::string document_id, int64_t up_to, Completion done) {
    Begin();
    if (up_to < 1) {  // stream ids start at 1-0: nothing is at or below
      asio::post(io_, [this, done = std::move(done)]() mutable { Finish(done, Status::Ok()); });
      return;
    }
    client_->Execute({"XTRIM", RedisOpsKey(settings_.key_prefix, document_id), "MINID", fmt::format("{}-0", up_to + 1)},
                     [this, done = std::move(done)](Status status, Reply) mutable {
                       if (!status.ok()) {
                         status = Status::Error(fmt::format("Redis compaction failed: {}", status.message()));
                       }
                       Finish(done, std::move(status));
                     });
  }

  void CheckHealth(HealthCompletion done) {
    Begin();
    struct Probe {
      HealthCompletion done;
      std::atomic<bool> answered{false};
      asio::steady_timer timer;
      explicit Probe(asio::io_context& io) : timer(io) {}
    };
    auto probe = std::make_shared<Probe>(io_);
    probe->done = std::move(done);
    auto answer = [this, probe](HealthReport report) {
      if (probe->answered.exchange(true)) return;
      probe->timer.cancel();
      SafeInvoke(probe->done, std::move(report));
      End();
    };
    if (!client_->connected()) {
      const std::string error = client_->last_error();
      asio::post(io_, [answer, error] {
        answer({HealthStatus::kUnhealthy,
                error.empty() ? "Redis storage is not connected" : "Redis storage is not connected: " + error});
      });
      return;
    }
    const auto timeout = settings_.health_timeout;
    asio::post(io_, [probe, answer, timeout] {
      probe->timer.expires_after(timeout);
      probe->timer.async_wait([answer, timeout](const boost::system::error_code& ec) {
        if (ec) return;
        answer({HealthStatus::kUnhealthy, fmt::format("Redis did not answer PING within {} ms", timeout.count())});
      });
    });
    const auto started = std::chrono::steady_clock::now();
    client_->Execute({"PING"}, [answer, started](Status status, Reply) {
      if (!status.ok()) return answer({HealthStatus::kUnhealthy, "Redis PING failed: " + status.message()});
      const auto elapsed =
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
      answer({HealthStatus::kHealthy, fmt::format("Redis reachable (PING {} us)", elapsed.count())});
    });
  }

  void Flush(std::chrono::milliseconds timeout) {
    if (std::this_thread::get_id() == thread_.get_id()) return;  // a completion cannot wait for itself
    std::unique_lock lock(mutex_);
    idle_.wait_for(lock, timeout, [this] { return outstanding_ == 0; });
  }

  redis::ClientCounters counters() const { return client_->counters(); }
  const redis::ConnectionOptions& options() const { return client_->options(); }

 private:
  void Begin() {
    std::lock_guard lock(mutex_);
    ++outstanding_;
  }
  void End() {
    std::lock_guard lock(mutex_);
    if (--outstanding_ == 0) idle_.notify_all();
  }
  void Finish(Completion& done, Status status) {
    SafeInvoke(done, std::move(status));
    End();
  }

  RedisStoreSettings settings_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<redis::Client> client_;
  std::thread thread_;
  std::atomic<bool> started_{false};
  std::mutex mutex_;
  std::condition_variable idle_;
  size_t outstanding_ = 0;
};

RedisDocumentStore::RedisDocumentStore(redis::ConnectionOptions options, RedisStoreSettings settings)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(settings))) {}
RedisDocumentStore::~RedisDocumentStore() = default;

void RedisDocumentStore::Initialize(Completion done) { impl_->Initialize(std::move(done)); }
void RedisDocumentStore::Load(std::string document_id, LoadCompletion done) {
  impl_->Load(std::move(document_id), std::move(done));
}
void RedisDocumentStore::Append(std::string document_id, std::vector<StoredOp> ops, Completion done) {
  impl_->Append(std::move(document_id), std::move(ops), std::move(done));
}
void RedisDocumentStore::WriteSnapshot(std::string document_id, Snapshot snapshot, Completion done) {
  impl_->WriteSnapshot(std::move(document_id), std::move(snapshot), std::move(done));
}
void RedisDocumentStore::Compact(std::string document_id, int64_t up_to, Completion done) {
  impl_->Compact(std::move(document_id), up_to, std::move(done));
}
void RedisDocumentStore::CheckHealth(HealthCompletion done) { impl_->CheckHealth(std::move(done)); }
void RedisDocumentStore::Flush(std::chrono::milliseconds timeout) { impl_->Flush(timeout); }
redis::ClientCounters RedisDocumentStore::counters() const { return impl_->counters(); }
const redis::ConnectionOptions& RedisDocumentStore::options() const { return impl_->options(); }

Status OpenRedisStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                      RedisStoreSettings settings) {
  redis::ConnectionOptions options;
  if (Status parsed = redis::ParseConnectionString(connection_string, options); !parsed.ok()) return parsed;
  out = std::make_unique<RedisDocumentStore>(std::move(options), std::move(settings));
  return Status::Ok();
}

// Placeholder until the Redis store implements the management calls (server.md §3.1).
void RedisDocumentStore::Enumerate(std::string, DocumentQuery, EnumerateCompletion done) {
  done(Status::Error("Enumerate is not implemented by the Redis store yet."), {});
}

void RedisDocumentStore::GetInfo(std::string, InfoCompletion done) {
  done(Status::Error("GetInfo is not implemented by the Redis store yet."), std::nullopt);
}

void RedisDocumentStore::Delete(std::string, Completion done) {
  done(Status::Error("Delete is not implemented by the Redis store yet."));
}

void RedisDocumentStore::DeleteByTenantPrefix(std::string, CountCompletion done) {
  done(Status::Error("DeleteByTenantPrefix is not implemented by the Redis store yet."), 0);
}

}  // namespace opstream::storage
