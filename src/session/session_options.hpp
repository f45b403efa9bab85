#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace opstream::session {

struct SessionOptions {
  // Close an unused document this long after its last peer left (server.md §2.9).
  std::chrono::milliseconds idle_close_delay{std::chrono::minutes(5)};
  // Hybrid snapshot policy, counted per document (server.md SV-4).
  int64_t snapshot_every_ops = 100;
  std::chrono::milliseconds snapshot_interval{std::chrono::minutes(5)};
  // Ops kept in memory (and in the store) beyond what connected peers may still rebase on (SV-5).
  int64_t op_log_tail = 100;
  // Hard cap of the in-memory op log; a peer lagging further behind must rejoin.
  int64_t op_log_max = 10000;
  std::chrono::milliseconds awareness_ttl{std::chrono::seconds(30)};
  // A request forwarded to the owner node fails after this long (server.md §4.3, SV-9).
  std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};
};

}  // namespace opstream::session
