#pragma once
// The tuning and the counters of a store that keeps a few connections, each on a lane (thread)
// of its own, and group-commits queued appends: postgres, mysql and sqlserver.
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace opstream::storage {

struct LaneStoreSettings {
  // A probe that the worker has not answered by then reports Unhealthy; short, because readiness
  // probes poll.
  std::chrono::milliseconds health_timeout{std::chrono::seconds(2)};
  // Connections (each with its own thread), at most the connection string's maximum pool size.
  size_t connections = 4;
  // Upper bound on appends sharing one transaction, which bounds how long the first one waits.
  size_t max_appends_per_transaction = 1024;
  // Reconnect backoff: the first retry is immediate, then this doubles up to the maximum.
  std::chrono::milliseconds reconnect_initial_delay{100};
  std::chrono::milliseconds reconnect_max_delay{std::chrono::seconds(5)};
};

// Counters exposed for tests and metrics.
struct LaneStoreCounters {
  uint64_t append_transactions = 0;  // committed transactions that carried Append calls
  uint64_t appends_committed = 0;    // Append calls acknowledged as durable
  uint64_t connections = 0;          // successful connects (1 + reconnects)
};

}  // namespace opstream::storage
