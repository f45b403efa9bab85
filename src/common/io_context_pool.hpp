#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace opstream {

// One event loop per worker thread. A connection and a document each stay on the loop they were
// given, so the state of a busy document is touched by one core instead of moving between the
// cores with every handler (with one loop shared by all workers, 32 clients on one document cost
// 29.7 against 24.5 µs of server CPU per op; docs/decisions/0002-event-loop-per-thread.md).
// Loops hand work to each other with asio::post.
class IoContextPool {
 public:
  explicit IoContextPool(size_t size) {
    if (size == 0) size = 1;
    contexts_.reserve(size);
    for (size_t i = 0; i < size; ++i) {
      contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
      guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
    }
  }

  ~IoContextPool() {
    Stop();
    Join();
  }
  IoContextPool(const IoContextPool&) = delete;
  IoContextPool& operator=(const IoContextPool&) = delete;

  size_t size() const { return contexts_.size(); }
  boost::asio::io_context& at(size_t index) { return *contexts_.at(index); }
  // The loop of process-wide services (signals, timers, the backplane connections).
  boost::asio::io_context& primary() { return *contexts_.front(); }
  // Loops in turn, for new connections.
  boost::asio::io_context& Next() {
    return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
  }
  // The loop of the calling thread when it is one of ours, else the next one: a document opened
  // by a connection lives where that connection is read, so its ops need no hand-over between
  // threads.
  boost::asio::io_context& Local() {
    for (auto& context : contexts_) {
      if (context.get() == running_) return *context;
    }
    return Next();
  }
  // The loop the calling thread runs, if it runs one of a pool.
  static boost::asio::io_context* CurrentLoop() { return running_; }

  // Runs every loop on a thread of its own.
  void Start() {
    for (auto& context : contexts_) {
      threads_.emplace_back([&io = *context] {
        running_ = &io;
        io.run();
        running_ = nullptr;
      });
    }
  }
  void Stop() {
    for (auto& context : contexts_) context->stop();
  }
  void Join() {
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
  static inline thread_local boost::asio::io_context* running_ = nullptr;
};

}  // namespace opstream
