#pragma once
// The `redis` provider (server.md §3.7): exactly the reference's keys, so a Redis written by the
// reference server opens here and keeps working, and vice versa.
//
//   doc:{id}:snapshot   string  {"revision":N,"timestamp":"<ISO-8601>","state":"<base64>"}
//   doc:{id}:ops        stream  entry id {revision}-0, fields rev, auth, ts (epoch ms), payload, engine
//
// Every call is one command on a pipelined connection (redis_client.hpp) driven by the store's own
// I/O thread; completions run on that thread. Busy documents therefore group-commit for free: the
// appends that arrive while a write is on the wire leave in the next single write, and Redis
// answers them in one go.
//
// Append is a Lua script: Redis refuses a stream id not greater than the last one (even after the
// entries were trimmed), so the first XADD of a batch decides; once it succeeds the rest cannot be
// refused (ascending ids), and Redis checks memory only before a script's first write, so a batch
// is all-or-nothing. A refused first id comes back as "Revision N of document 'x' already exists.".
// Load is a script too, so the snapshot and the ops after it come from one point in time.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "storage/persistent_store.hpp"
#include "storage/redis/redis_client.hpp"
#include "storage/redis/redis_connection_string.hpp"

namespace opstream::storage {

struct RedisStoreSettings {
  // CheckHealth answers Unhealthy when PING takes longer; short, because readiness probes poll.
  std::chrono::milliseconds health_timeout{std::chrono::seconds(2)};
  // Prepended to every key. Never set by the server (the reference has no key prefix, §3.7): it
  // lets parallel tests share one Redis without seeing each other's documents.
  std::string key_prefix;
  redis::ClientSettings client;
};

// The reference's key names (§3.7), with the test-only prefix.
std::string RedisSnapshotKey(std::string_view prefix, std::string_view document_id);
std::string RedisOpsKey(std::string_view prefix, std::string_view document_id);

// Also the history, comment and ref stores (redis_extra_stores.cpp): history in the reference's
// `doc:{id}:history_ops` / `:history_snapshots` keys, comments in the reference library's
// `comments:*` keys, refs in `refs:*` keys this server adds (docs/storage/redis.md).
class RedisDocumentStore final : public PersistentStore {
 public:
  RedisDocumentStore(redis::ConnectionOptions options, RedisStoreSettings settings = {});
  // Waits briefly for calls in flight, then closes the connection and stops the I/O thread.
  // Must not be called from one of the store's own completions.
  ~RedisDocumentStore() override;

  std::string_view provider() const override { return "redis"; }
  std::string_view type_name() const override { return "RedisDocumentStore"; }

  std::string_view ref_store_type_name() const override { return "RedisDocumentRefStore"; }

  // Initialize connects (connectRetry attempts of connectTimeout each) and checks the server
  // version (Redis 6.2+ for XTRIM MINID). Unreachable: an error with abortConnect=true (the
  // default), else a warning and success, and calls fail until the background reconnect succeeds
  // (§3.8). WriteHistorySnapshot's member JSON gains a "name" property when there is a name (the
  // reference ignores it). CheckHealth sends PING; Unhealthy when not connected, on an error, or
  // after health_timeout. Flush waits until every call made so far has completed; from a
  // completion it returns at once.
  OPSTREAM_PERSISTENT_STORE_OVERRIDES;

  redis::ClientCounters counters() const;
  const redis::ConnectionOptions& options() const;

 private:
  // One command on the store's connection; the callback runs on the I/O thread.
  void Run(std::vector<std::string> args, std::function<void(Status, redis::Reply)> done);
  // Keys matching any of `patterns` (SCAN, page size 250).
  void ScanKeys(std::vector<std::string> patterns, std::function<void(Status, std::vector<std::string>)> done);
  const std::string& key_prefix() const;

  class Impl;
  std::shared_ptr<Impl> impl_;
};

// Parses a StackExchange.Redis connection string (§3.5) and creates the store; Initialize
// connects. Messages never contain the password.
Status OpenRedisStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                      RedisStoreSettings settings = {});

}  // namespace opstream::storage
