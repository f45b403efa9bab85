#include "storage/probe_watchdog.hpp"

#include <algorithm>

namespace opstream::storage::jobs {

ProbeWatchdog::ProbeWatchdog(std::string timeout_description)
    : timeout_description_(std::move(timeout_description)), thread_([this] { Run(); }) {}

ProbeWatchdog::~ProbeWatchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::shared_ptr<HealthProbe> ProbeWatchdog::Watch(std::string_view provider, DocumentStore::HealthCompletion done,
                                                  std::chrono::milliseconds timeout) {
  auto probe = std::make_shared<HealthProbe>(provider, std::move(done), HealthProbe::Clock::now() + timeout);
  {
    std::lock_guard lock(mutex_);
    probes_.push_back(probe);
  }
  cv_.notify_one();
  return probe;
}

void ProbeWatchdog::Run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::erase_if(probes_, [](const auto& probe) { return probe->answered(); });
    if (probes_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto now = HealthProbe::Clock::now();
    auto earliest = HealthProbe::Clock::time_point::max();
    std::vector<std::shared_ptr<HealthProbe>> expired;
    for (const auto& probe : probes_) {
      if (probe->deadline() <= now) {
        expired.push_back(probe);
      } else {
        earliest = std::min(earliest, probe->deadline());
      }
    }
    if (expired.empty()) {
      cv_.wait_until(lock, earliest);
      continue;
    }
    std::erase_if(probes_, [now](const auto& probe) { return probe->deadline() <= now; });
    // Answered without the lock: a completion may call back into the store.
    lock.unlock();
    for (const auto& probe : expired) probe->Answer({HealthStatus::kUnhealthy, timeout_description_});
    lock.lock();
  }
}

}  // namespace opstream::storage::jobs
