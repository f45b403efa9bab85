// AwaitCallback hands a callback's result to a coroutine on a multi-threaded executor.
#include "net/await.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <thread>
#include <vector>

namespace opstream::net {
namespace {
namespace asio = boost::asio;

// Runs `count` coroutines on a two-thread io_context (no strand: resumption may land on either
// thread) whose callbacks complete from `complete_on`; returns how many saw the right value.
template <typename Complete>
int RunAwaits(int count, Complete complete_on) {
  asio::io_context io;
  std::atomic<int> correct{0};
  std::atomic<int> finished{0};
  for (int i = 0; i < count; ++i) {
    asio::co_spawn(
        io.get_executor(),
        [&correct, &finished, &complete_on, i]() -> asio::awaitable<void> {
          const int value =
              co_await AwaitCallback<int>([&](std::function<void(int)> done) { complete_on(std::move(done), i); });
          if (value == i) correct.fetch_add(1);
          finished.fetch_add(1);
        },
        asio::detached);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) threads.emplace_back([&io] { io.run(); });
  // A lost wake-up leaves its coroutine suspended forever; give up instead of hanging the suite.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (finished.load() < count && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  io.stop();
  for (auto& thread : threads) thread.join();
  return correct.load();
}

TEST(AwaitCallback, ResumesWhenTheCallbackRunsInsideStart) {
  EXPECT_EQ(RunAwaits(2000, [](std::function<void(int)> done, int i) { done(i); }), 2000);
}

TEST(AwaitCallback, ResumesWhenTheCallbackRacesTheSuspensionFromAnotherThread) {
  asio::io_context completer;
  auto guard = asio::make_work_guard(completer);
  std::thread completer_thread([&completer] { completer.run(); });
  const int correct = RunAwaits(20000, [&completer](std::function<void(int)> done, int i) {
    asio::post(completer, [done = std::move(done), i] { done(i); });
  });
  guard.reset();
  completer_thread.join();
  EXPECT_EQ(correct, 20000);
}

}  // namespace
}  // namespace opstream::net
