#pragma once
// Redis backplanes on a shared io_context for tests, with blocking helpers.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backplane/redis/redis_backplane.hpp"
#include "storage/redis_test_support.hpp"

namespace opstream::backplane::testing {

using storage::testing::TestRedisUrl;

// Waits for a future for at most `timeout`; a test failure when it does not arrive.
template <typename T>
bool WaitFor(std::future<T>& future, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const bool ready = future.wait_for(timeout) == std::future_status::ready;
  EXPECT_TRUE(ready) << "timed out waiting";
  return ready;
}

// Polls `condition` until it holds or `timeout` passes.
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

// An io_context run by two threads (like the server's workers) until destruction.
class IoThreads {
 public:
  IoThreads() {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~IoThreads() { Stop(); }
  void Stop() {
    if (threads_.empty()) return;
    work_.reset();
    io_.stop();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::vector<std::thread> threads_;
};

inline std::unique_ptr<RedisBackplane> StartBackplane(boost::asio::io_context& io, const std::string& url,
                                                      RedisBackplaneSettings settings = {}) {
  redis::ConnectionOptions options;
  const Status parsed = redis::ParseConnectionString(url, options);
  EXPECT_TRUE(parsed.ok()) << parsed.message();
  auto backplane = std::make_unique<RedisBackplane>(io, options, std::move(settings));
  std::promise<Status> started;
  auto future = started.get_future();
  backplane->Start([&started](Status status) { started.set_value(std::move(status)); });
  if (WaitFor(future)) {
    const Status status = future.get();
    EXPECT_TRUE(status.ok()) << status.message();
  }
  return backplane;
}

}  // namespace opstream::backplane::testing
