#pragma once
// The tuning and the counters of a store that keeps a few connections, each on a lane (thread)
// of its own, and group-commits queued appends: postgres, mysql and sqlserver.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace opstream::storage {

struct LaneStoreSettings {
  // A probe that the worker has not answered by then reports Unhealthy; short, because readiness
  // probes poll.
  std::chrono::milliseconds health_timeout{std::chrono::seconds(2)};
  // Connections (each with its own thread), at most the connection string's maximum pool size;
  // 0: the provider's default (LaneCount).
  size_t connections = 0;
  // Upper bound on appends sharing one transaction, which bounds how long the first one waits.
  size_t max_appends_per_transaction = 1024;
  // Reconnect backoff: the first retry is immediate, then this doubles up to the maximum.
  std::chrono::milliseconds reconnect_initial_delay{100};
  std::chrono::milliseconds reconnect_max_delay{std::chrono::seconds(5)};
};

// Counters exposed for tests and metrics.
struct LaneStoreCounters {
  uint64_t append_transactions = 0;           // committed transactions that carried Append calls
  uint64_t appends_committed = 0;             // Append calls acknowledged as durable
  uint64_t connections = 0;                   // successful connects (1 + reconnects)
  uint64_t prepared_append_transactions = 0;  // postgres: append transactions run as a prepared statement
};

// How many lanes a store runs: `configured` (0 = `provider_default`), at most `max_pool_size`.
inline size_t LaneCount(size_t configured, size_t provider_default, int max_pool_size) {
  const size_t wanted = configured != 0 ? configured : provider_default;
  return std::max<size_t>(1, std::min<size_t>(wanted, static_cast<size_t>(std::max(1, max_pool_size))));
}

}  // namespace opstream::storage
