#pragma once
// The Redis server of the test run and a blocking client for looking at it from outside the store.
//
// scripts/test-services.sh starts a throwaway redis-server and exports OPSTREAM_TEST_REDIS_URL
// (`host:port`); without it the Redis tests fail with a message saying so, they never skip.
// Every test works under its own key prefix, so ctest -j runs can share the server.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/redis/redis_client.hpp"
#include "storage/redis/redis_connection_string.hpp"
#include "storage/store_test_support.hpp"

namespace opstream::storage::testing {

// `host:port` of the test server, or empty after recording a test failure.
inline std::string TestRedisUrl() {
  const char* url = std::getenv("OPSTREAM_TEST_REDIS_URL");
  if (url == nullptr || *url == '\0') {
    ADD_FAILURE() << "OPSTREAM_TEST_REDIS_URL is not set: the Redis tests need a server. Run them through "
                     "scripts/test.sh, or `source scripts/test-services.sh; start_test_services` first.";
    return {};
  }
  return url;
}

// A key prefix no other test (in this or a parallel process) uses.
inline std::string UniqueKeyPrefix() {
  static std::atomic<int> counter{0};
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  return "opstream-test:" + std::to_string(::getpid()) + ":" + std::to_string(++counter) + ":" +
         (test ? std::string(test->name()) : std::string("none")) + ":";
}

// A client on its own I/O thread with blocking calls.
class SyncRedis {
 public:
  explicit SyncRedis(const std::string& connection_string, redis::ClientSettings settings = {}) {
    redis::ConnectionOptions options;
    const Status parsed = redis::ParseConnectionString(connection_string, options);
    EXPECT_TRUE(parsed.ok()) << parsed.message();
    client_ = std::make_unique<redis::Client>(io_, options, settings);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~SyncRedis() {
    client_->Stop();
    work_.reset();
    client_.reset();
    thread_.join();
  }

  Status Start() {
    auto promise = std::make_shared<std::promise<Status>>();
    auto future = promise->get_future();
    client_->Start([promise](Status status) { promise->set_value(std::move(status)); });
    return Wait(future);
  }

  std::pair<Status, redis::Reply> Call(std::vector<std::string> args) {
    auto promise = std::make_shared<std::promise<std::pair<Status, redis::Reply>>>();
    auto future = promise->get_future();
    client_->Execute(std::move(args), [promise](Status status, redis::Reply reply) {
      promise->set_value({std::move(status), std::move(reply)});
    });
    return Wait(future);
  }

  // The reply of a command expected to succeed.
  redis::Reply Ok(std::vector<std::string> args) {
    const std::string name = args.empty() ? "" : args.front();
    auto [status, reply] = Call(std::move(args));
    EXPECT_TRUE(status.ok()) << name << ": " << status.message();
    return reply;
  }

  redis::Client& client() { return *client_; }

  // Kills the connections whose CLIENT SETNAME is `name` (only those: parallel tests share the
  // server). Returns how many were killed.
  int KillClientsNamed(const std::string& name) {
    const redis::Reply list = Ok({"CLIENT", "LIST"});
    int killed = 0;
    size_t start = 0;
    while (start < list.str.size()) {
      const size_t end = std::min(list.str.find('\n', start), list.str.size());
      const std::string line = list.str.substr(start, end - start);
      start = end + 1;
      if (line.find(" name=" + name + " ") == std::string::npos) continue;
      const size_t id_at = line.find("id=");
      const std::string id = line.substr(id_at + 3, line.find(' ', id_at) - id_at - 3);
      killed += static_cast<int>(Ok({"CLIENT", "KILL", "ID", id}).integer);
    }
    return killed;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<redis::Client> client_;
  std::thread thread_;
};

}  // namespace opstream::storage::testing
