#pragma once
// What the database-backed stores share: the requests their worker threads queue, the
// exception-safe way to call a completion, and a health probe answered exactly once.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "storage/document_store.hpp"

namespace opstream::storage::jobs {

// Calls a completion (or any callback from the caller's code) so that an exception it throws
// never reaches the store's worker loop or connection. An empty callback is skipped.
template <typename Callback, typename... Args>
void InvokeCompletion(std::string_view provider, Callback& callback, Args&&... args) noexcept {
  if (!callback) return;
  try {
    callback(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    spdlog::error("storage.{}: a completion threw: {}", provider, e.what());
  } catch (...) {
    spdlog::error("storage.{}: a completion threw a non-standard exception", provider);
  }
}

struct InitializeJob {
  DocumentStore::Completion done;
};
struct LoadJob {
  std::string document_id;
  DocumentStore::LoadCompletion done;
};
struct AppendJob {
  std::string document_id;
  std::vector<StoredOp> ops;
  DocumentStore::Completion done;
};
struct SnapshotJob {
  std::string document_id;
  Snapshot snapshot;
  DocumentStore::Completion done;
};
struct CompactJob {
  std::string document_id;
  int64_t up_to;
  DocumentStore::Completion done;
};

// A health probe answered exactly once, by whichever comes first: the worker running its query,
// or the watchdog at the deadline.
class HealthProbe {
 public:
  using Clock = std::chrono::steady_clock;
  HealthProbe(std::string_view provider, DocumentStore::HealthCompletion done, Clock::time_point deadline)
      : provider_(provider), done_(std::move(done)), deadline_(deadline) {}

  void Answer(HealthReport report) {
    if (!answered_.exchange(true)) InvokeCompletion(provider_, done_, std::move(report));
  }
  bool answered() const { return answered_.load(); }
  Clock::time_point deadline() const { return deadline_; }

 private:
  std::string_view provider_;
  DocumentStore::HealthCompletion done_;
  Clock::time_point deadline_;
  std::atomic<bool> answered_{false};
};

struct ProbeJob {
  std::shared_ptr<HealthProbe> probe;
};

using Job = std::variant<InitializeJob, LoadJob, AppendJob, SnapshotJob, CompactJob, ProbeJob>;

}  // namespace opstream::storage::jobs
