#pragma once
// The lanes of a store that keeps a few database connections, each owned by a thread of its own
// (postgres, mysql, sqlserver), taking work from one shared queue. This is the part those stores
// share; what a lane does with a batch (the SQL) stays in the provider.
//
// A lane that becomes free takes everything queued, up to max_appends_per_batch appends, so the
// queued appends of any documents become one transaction (group commit). An InitializeJob runs
// alone, and so does the provider's own call job (the last alternative of the variant) when the
// pool is told so (MySQL, SQL Server: a call runs its statements itself; PostgreSQL pipelines
// them with the rest of the batch).
//
// `Lane` is constructed by the pool's `make` function with the queue, starts its thread, and runs
// `ServeLane(provider, where, queue, *this)` there; it provides `Status EnsureConnected(bool
// force)`, `Status Migrate()`, `void RunBatch(std::vector<Job>&, bool may_retry)` and
// `std::thread::id thread_id() const`.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "storage/append_rules.hpp"
#include "storage/lane_store_settings.hpp"
#include "storage/probe_watchdog.hpp"
#include "storage/store_jobs.hpp"

namespace opstream::storage::jobs {

// The jobs of a lane: the shared ones plus the provider's own call job.
template <typename CallJob>
using JobWith = std::variant<InitializeJob, LoadJob, AppendJob, SnapshotJob, CompactJob, ProbeJob, CallJob>;

// A call that runs alone on a lane and calls its own completion.
template <typename Lane>
struct LaneCall {
  std::function<void(Lane&)> run;
};

// A LaneCall that does the common part of a management, history, comment or ref call: `work`
// runs when `checked` (the caller's validation of the ids, made before they are moved into
// `work`) is ok and `lane.Connected()` is; `done` then gets the status and, unless Result is
// void, the result `work(lane, result)` filled in, reset to its empty value on a failure.
template <typename Result, typename Lane, typename Done, typename Work>
LaneCall<Lane> MakeLaneCall(std::string_view provider, Status checked, Done done, Work work) {
  return {[provider, checked = std::move(checked), done = std::move(done), work = std::move(work)](Lane& lane) mutable {
    Status status = std::move(checked);
    if (status.ok()) status = lane.Connected();
    if constexpr (std::is_void_v<Result>) {
      if (status.ok()) status = work(lane);
      InvokeCompletion(provider, done, std::move(status));
    } else {
      Result result{};
      if (status.ok()) status = work(lane, result);
      if (!status.ok()) result = Result{};
      InvokeCompletion(provider, done, std::move(status), std::move(result));
    }
  }};
}

// A lane's view of its server's reachability: when it may try to connect again (exponential
// backoff after a failed attempt, at once after a connection was lost), and the failure that calls
// report meanwhile, so that an unreachable server fails calls at once instead of stalling them.
class ReconnectBackoff {
 public:
  using Clock = std::chrono::steady_clock;

  // `display_name` names the server in messages ("MySQL"); `where` is the options' description.
  // `pool_connections` counts the successful connects of every lane of the pool.
  ReconnectBackoff(std::string_view provider, std::string_view display_name, std::string where,
                   const LaneStoreSettings& settings, const std::atomic<uint64_t>& pool_connections)
      : pool_connections_(pool_connections),
        provider_(provider),
        display_name_(display_name),
        where_(std::move(where)),
        initial_delay_(settings.reconnect_initial_delay),
        max_delay_(settings.reconnect_max_delay),
        delay_(initial_delay_) {}

  // True while an attempt would come too soon after a failed one (`force` ignores the backoff).
  // Another lane having connected since this one failed means the server is back: no waiting then.
  bool Waiting(bool force) const {
    return !force && Clock::now() < next_attempt_ && pool_connections_.load() == connects_at_failure_;
  }

  // A connect attempt failed with `failure`: logged when it is news, and the next attempt waits.
  void Failed(std::string failure) {
    if (last_error_ != failure) spdlog::warn("storage.{}: cannot connect to {}: {}", provider_, where_, failure);
    last_error_ = std::move(failure);
    connects_at_failure_ = pool_connections_.load();
    next_attempt_ = Clock::now() + delay_;
    delay_ = std::min(delay_ * 2, max_delay_);
  }

  void Connected() {
    delay_ = initial_delay_;
    last_error_.clear();
  }

  // The connection broke under way: the next call reconnects at once.
  void Lost() { next_attempt_ = Clock::time_point::min(); }

  Status Unavailable() const {
    return Status::Error(std::string(display_name_) + " is unavailable (" + where_ + "): " + last_error_);
  }

 private:
  const std::atomic<uint64_t>& pool_connections_;
  uint64_t connects_at_failure_ = 0;
  std::string_view provider_;
  std::string_view display_name_;
  const std::string where_;
  const std::chrono::milliseconds initial_delay_;
  const std::chrono::milliseconds max_delay_;
  std::chrono::milliseconds delay_;
  Clock::time_point next_attempt_ = Clock::time_point::min();
  std::string last_error_;
};

// Counted by the lanes, read by tests and metrics.
struct LaneCounters {
  std::atomic<uint64_t> append_transactions{0};
  std::atomic<uint64_t> appends_committed{0};
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> prepared_append_transactions{0};
};

// The appends of a batch on a lane whose driver runs one statement at a time (MySQL, SQL Server):
// every valid append in one transaction (group commit); when the server refuses the group (a
// duplicate revision, typically), one transaction per append finds the offending ones and commits
// the rest. Results go to `results[i]` for each AppendJob at `batch[i]`. `lane` provides
// `Status ValidId(std::string_view)`, `Status EnsureConnected(bool fresh)`, `bool Disconnected()`,
// `Outcome InsertInTransaction(const std::vector<const AppendJob*>&)`, `bool MayRetryAppends(const
// Outcome&)` (the group failed before anything could commit, on a connection found dead) and
// `Status Refusal(const AppendJob&, const Outcome&)`.
template <typename Lane, typename Job>
void RunGroupedAppends(std::string_view provider, Lane& lane, std::vector<Job>& batch, std::vector<Status>& results,
                       bool may_retry, LaneCounters& counters) {
  std::vector<size_t> group;
  std::vector<const AppendJob*> appends;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto* append = std::get_if<AppendJob>(&batch[i]);
    if (append == nullptr) continue;
    Status valid = lane.ValidId(append->document_id);
    if (valid.ok()) valid = ValidateAppendBatch(append->document_id, append->ops);
    if (!valid.ok() || append->ops.empty()) {
      results[i] = valid;
      continue;
    }
    group.push_back(i);
    appends.push_back(append);
  }
  if (group.empty()) return;
  if (Status connected = lane.EnsureConnected(false); !connected.ok()) {
    for (size_t i : group) results[i] = connected;
    return;
  }
  auto o = lane.InsertInTransaction(appends);
  // A connection that died while idle: an uncommitted transaction goes with its session, so a
  // fresh connection may try the group once more.
  if (!o.ok() && may_retry && lane.MayRetryAppends(o)) {
    if (lane.EnsureConnected(true).ok()) o = lane.InsertInTransaction(appends);
  }
  if (o.ok()) {
    for (size_t i : group) results[i] = Status::Ok();
    counters.append_transactions.fetch_add(1);
    counters.appends_committed.fetch_add(group.size());
    return;
  }
  if (lane.Disconnected() || group.size() == 1) {
    for (size_t g = 0; g < group.size(); ++g) results[group[g]] = lane.Refusal(*appends[g], o);
    return;
  }
  spdlog::debug("storage.{}: a group of {} appends was refused ({}); retrying them one by one", provider, group.size(),
                o.status.message());
  for (size_t g = 0; g < group.size(); ++g) {
    const auto single = lane.InsertInTransaction({appends[g]});
    if (single.ok()) {
      results[group[g]] = Status::Ok();
      counters.append_transactions.fetch_add(1);
      counters.appends_committed.fetch_add(1);
    } else {
      results[group[g]] = lane.Refusal(*appends[g], single);
    }
  }
}

template <typename Job>
class LaneQueue {
 public:
  LaneQueue(size_t max_appends_per_batch, bool calls_run_alone)
      : max_appends_(std::max<size_t>(1, max_appends_per_batch)), calls_run_alone_(calls_run_alone) {}

  void Push(Job job, bool front = false) {
    {
      std::lock_guard lock(mutex_);
      if (front) {
        queue_.push_front(std::move(job));
      } else {
        queue_.push_back(std::move(job));
      }
    }
    work_cv_.notify_one();
  }

  // Waits for work and takes the next batch; false once stopping and the queue is drained.
  bool Take(std::vector<Job>& batch) {
    batch.clear();
    std::unique_lock lock(mutex_);
    work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return false;
    ++busy_;
    size_t appends = 0;
    while (!queue_.empty()) {
      const bool alone = std::holds_alternative<InitializeJob>(queue_.front()) ||
                         (calls_run_alone_ && queue_.front().index() == std::variant_size_v<Job> - 1);
      if (alone && !batch.empty()) break;
      if (std::holds_alternative<AppendJob>(queue_.front()) && ++appends > max_appends_) break;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
      if (alone) break;
    }
    return true;
  }

  // A lane finished the batch it took (completions included).
  void Finished() {
    std::lock_guard lock(mutex_);
    --busy_;
    if (queue_.empty() && busy_ == 0) idle_cv_.notify_all();
  }

  // Lanes finish what is queued, then their ServeLane returns.
  void Stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_all();
  }

  void WaitIdle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    idle_cv_.wait_for(lock, timeout, [this] { return queue_.empty() && busy_ == 0; });
  }

  LaneCounters& counters() { return counters_; }

 private:
  const size_t max_appends_;
  const bool calls_run_alone_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<Job> queue_;
  int busy_ = 0;
  bool stopping_ = false;
  LaneCounters counters_;
};

template <typename T, typename Variant>
struct IsAlternative : std::false_type {};
template <typename T, typename... Types>
struct IsAlternative<T, std::variant<Types...>> : std::disjunction<std::is_same<T, Types>...> {};

// The loop of a lane's thread: every batch it takes, until the queue is stopped and drained.
// Initialization (connect, migrate) and a LaneCall, which each run alone, are handled here; the
// rest goes to the lane's RunBatch. `where` describes the server for the log.
template <typename Job, typename Lane>
void ServeLane(std::string_view provider, const std::string& where, LaneQueue<Job>& queue, Lane& lane) {
  std::vector<Job> batch;
  while (queue.Take(batch)) {
    if (auto* initialize = std::get_if<InitializeJob>(&batch.front())) {
      Status status = lane.EnsureConnected(true);
      if (status.ok()) status = lane.Migrate();
      if (status.ok()) spdlog::info("storage.{}: database ready {}", provider, where);
      InvokeCompletion(provider, initialize->done, std::move(status));
    } else if constexpr (IsAlternative<LaneCall<Lane>, Job>::value) {
      if (auto* call = std::get_if<LaneCall<Lane>>(&batch.front())) {
        call->run(lane);
      } else {
        lane.RunBatch(batch, true);
      }
    } else {
      lane.RunBatch(batch, true);
    }
    queue.Finished();
  }
}

// What a pool is made with (besides its lanes).
struct LanePoolOptions {
  std::string_view provider;      // for log lines, e.g. "mysql"
  std::string_view display_name;  // for the probe's timeout text, e.g. "MySQL"
  size_t lanes = 1;
  size_t max_appends_per_batch = 1024;
  bool calls_run_alone = false;
  std::chrono::milliseconds health_timeout{std::chrono::seconds(2)};
};

// The pool options of a store with LaneStoreSettings: `default_lanes` unless the settings name a
// count, at most the connection string's `max_pool_size`.
inline LanePoolOptions PoolOptions(std::string_view provider, std::string_view display_name,
                                   const LaneStoreSettings& settings, size_t default_lanes, int max_pool_size,
                                   bool calls_run_alone) {
  return {.provider = provider,
          .display_name = display_name,
          .lanes = LaneCount(settings.connections, default_lanes, max_pool_size),
          .max_appends_per_batch = settings.max_appends_per_transaction,
          .calls_run_alone = calls_run_alone,
          .health_timeout = settings.health_timeout};
}

// The queue and its lanes, as a store owns them. Destroying it lets the lanes finish every queued
// job, then joins them.
template <typename Lane, typename Job>
class LanePool {
 public:
  // `make(queue)` creates one lane sharing `queue` (the lane starts its thread).
  template <typename MakeLane>
  LanePool(const LanePoolOptions& options, MakeLane&& make)
      : provider_(options.provider),
        health_timeout_(options.health_timeout),
        queue_(options.max_appends_per_batch, options.calls_run_alone),
        watchdog_(std::string(options.display_name) + " did not answer within " +
                  std::to_string(options.health_timeout.count()) + " ms") {
    for (size_t i = 0; i < std::max<size_t>(1, options.lanes); ++i) lanes_.push_back(make(queue_));
  }

  ~LanePool() {
    queue_.Stop();
    lanes_.clear();  // joins every lane after the queue is drained
  }

  LanePool(const LanePool&) = delete;
  LanePool& operator=(const LanePool&) = delete;

  void Enqueue(Job job) { queue_.Push(std::move(job)); }
  // Queues a management, history, comment or ref call (MakeLaneCall).
  template <typename Result, typename Done, typename Work>
  void Call(Status checked, Done done, Work work) {
    Enqueue(MakeLaneCall<Result, Lane>(provider_, std::move(checked), std::move(done), std::move(work)));
  }

  void EnqueueProbe(DocumentStore::HealthCompletion done) {
    auto probe = watchdog_.Watch(provider_, std::move(done), health_timeout_);
    // At the front: the probe measures whether the database answers, not how long the queue is.
    queue_.Push(ProbeJob{std::move(probe)}, true);
  }

  // Waits until the queue is drained. Called from a completion (on a lane) it returns at once:
  // waiting for itself would never end.
  void Flush(std::chrono::milliseconds timeout) {
    for (const auto& lane : lanes_) {
      if (std::this_thread::get_id() == lane->thread_id()) return;
    }
    queue_.WaitIdle(timeout);
  }

  template <typename Counters>
  Counters counters() {
    LaneCounters& c = queue_.counters();
    return {c.append_transactions.load(), c.appends_committed.load(), c.connections.load(),
            c.prepared_append_transactions.load()};
  }

 private:
  std::string_view provider_;
  std::chrono::milliseconds health_timeout_;
  LaneQueue<Job> queue_;
  ProbeWatchdog watchdog_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // last: destroyed (joined) first
};

}  // namespace opstream::storage::jobs
