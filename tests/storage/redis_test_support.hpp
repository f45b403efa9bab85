#pragma once
// The Redis server of the test run and a blocking client for looking at it from outside the store.
//
// scripts/test-services.sh starts a throwaway redis-server and exports OPSTREAM_TEST_REDIS_URL
// (`host:port`); without it the Redis tests fail with a message saying so, they never skip.
// Every test works under its own key prefix, so ctest -j runs can share the server.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
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
inline std::string TestRedisUrl() { return TestServiceUrl("OPSTREAM_TEST_REDIS_URL", "Redis"); }

// A key prefix no other test (in this or a parallel process) uses.
inline std::string UniqueKeyPrefix() {
  static std::atomic<int> counter{0};
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  return "opstream-test:" + std::to_string(::getpid()) + ":" + std::to_string(++counter) + ":" +
         (test ? std::string(test->name()) : std::string("none")) + ":";
}

// A redis-server of the test's own (a replica, or one the test freezes with SIGSTOP), so that
// what it does to that server cannot disturb tests running in parallel on the shared one.
// Stopped by its PID.
class PrivateRedisServer {
 public:
  explicit PrivateRedisServer(const std::string& extra_arguments = {}) : port_(FreePort()) {
    const std::string command = "redis-server --bind 127.0.0.1 --port " + std::to_string(port_) +
                                " --save '' --appendonly no --daemonize yes --pidfile " + dir_.File("pid") +
                                " --logfile " + dir_.File("log") + " --dir " + dir_.path().string() + " " +
                                extra_arguments;
    if (std::system(command.c_str()) != 0) return;
    // Daemonized: the PID file appears once it runs, then it answers.
    for (int i = 0; i < 200 && pid_ <= 0; ++i) {
      std::ifstream pid_file(dir_.File("pid"));
      if (!(pid_file >> pid_)) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid_ <= 0) return;
    for (int i = 0; i < 200 && !started_; ++i) {
      const std::string ping = "redis-cli -p " + std::to_string(port_) + " ping >/dev/null 2>&1";
      started_ = std::system(ping.c_str()) == 0;
      if (!started_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~PrivateRedisServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGTERM);
    }
  }
  PrivateRedisServer(const PrivateRedisServer&) = delete;
  PrivateRedisServer& operator=(const PrivateRedisServer&) = delete;

  bool started() const { return started_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  // Freezes / resumes the server: connections stay open, nothing is answered meanwhile.
  void Freeze() { ::kill(pid_, SIGSTOP); }
  void Resume() { ::kill(pid_, SIGCONT); }

 private:
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = 0;
  bool started_ = false;
};

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
