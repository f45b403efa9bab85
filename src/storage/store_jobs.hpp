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
#include "storage/guarded_invoke.hpp"

namespace opstream::storage::jobs {

// A store's completion, guarded as above and logged under `storage.{provider}`.
template <typename Callback, typename... Args>
void InvokeCompletion(std::string_view provider, Callback& callback, Args&&... args) noexcept {
  InvokeGuarded("storage.", provider, callback, std::forward<Args>(args)...);
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

// `job` as a provider's own job variant, which holds every alternative of Job and more.
template <typename ProviderJob>
ProviderJob Widen(Job job) {
  return std::visit([](auto&& alternative) -> ProviderJob { return std::move(alternative); }, std::move(job));
}

// The end of a batch on a lane that drives a blocking client library (MySQL, SQL Server): the
// appends have run (their results are in `results`); every other job runs here one at a time,
// then every job of the batch is answered. `lane` provides `Status EnsureConnected(bool fresh)`,
// `Status RunOther(job, LoadedDocument&)` and `bool Disconnected()`. Loads, snapshot upserts,
// compactions and probes are idempotent, so a connection found dead (it went away while idle)
// gets one fresh attempt per batch. Jobs without a `done` of their own (a store's own call
// jobs, which always run alone) are left to the caller.
template <typename Lane, typename LaneJob>
void RunOthersAndAnswer(std::string_view provider, Lane& lane, std::vector<LaneJob>& batch,
                        std::vector<Status>& results, bool may_retry, std::string_view reachable_text) {
  std::vector<LoadedDocument> loaded(batch.size());
  bool retried = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (std::holds_alternative<AppendJob>(batch[i])) continue;
    if (Status connected = lane.EnsureConnected(false); !connected.ok()) {
      results[i] = std::move(connected);
      continue;
    }
    results[i] = lane.RunOther(batch[i], loaded[i]);
    if (!results[i].ok() && lane.Disconnected() && may_retry && !retried) {
      retried = true;
      if (lane.EnsureConnected(true).ok()) {
        loaded[i] = {};
        results[i] = lane.RunOther(batch[i], loaded[i]);
      }
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    std::visit(
        [&](auto& job) {
          using T = std::decay_t<decltype(job)>;
          if constexpr (std::is_same_v<T, LoadJob>) {
            if (!results[i].ok()) loaded[i] = {};
            InvokeCompletion(provider, job.done, std::move(results[i]), std::move(loaded[i]));
          } else if constexpr (std::is_same_v<T, ProbeJob>) {
            job.probe->Answer(results[i].ok() ? HealthReport{HealthStatus::kHealthy, std::string(reachable_text)}
                                              : HealthReport{HealthStatus::kUnhealthy, results[i].message()});
          } else if constexpr (requires { job.done(std::move(results[i])); }) {
            InvokeCompletion(provider, job.done, std::move(results[i]));
          }
        },
        batch[i]);
  }
}

}  // namespace opstream::storage::jobs
