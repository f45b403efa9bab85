#pragma once
// Answers health probes that their store's worker has not answered by their deadline, so a
// readiness check never waits longer than its timeout however stuck the database is.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "storage/store_jobs.hpp"

namespace opstream::storage::jobs {

class ProbeWatchdog {
 public:
  // `timeout_description` is the Unhealthy report's text, e.g. "MySQL did not answer within 2000 ms".
  explicit ProbeWatchdog(std::string timeout_description);
  // Stops the thread; probes still pending are left for their worker to answer.
  ~ProbeWatchdog();
  ProbeWatchdog(const ProbeWatchdog&) = delete;
  ProbeWatchdog& operator=(const ProbeWatchdog&) = delete;

  // A probe that this watchdog answers at `now + timeout` unless the worker answered it first.
  std::shared_ptr<HealthProbe> Watch(std::string_view provider, DocumentStore::HealthCompletion done,
                                     std::chrono::milliseconds timeout);

 private:
  void Run();

  const std::string timeout_description_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<HealthProbe>> probes_;
  bool stopping_ = false;
  std::thread thread_;  // last: everything above exists before it starts
};

}  // namespace opstream::storage::jobs
