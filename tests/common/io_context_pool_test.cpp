// The worker loops: each runs on a thread of its own, new connections take them in turn, and a
// document opened from a loop's thread stays on that loop.
#include "common/io_context_pool.hpp"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <future>
#include <set>
#include <thread>

namespace opstream {
namespace {
namespace asio = boost::asio;

// Runs `work` on `loop` and returns what it returned.
template <typename Work>
auto RunOn(asio::io_context& loop, Work work) {
  std::promise<decltype(work())> result;
  asio::post(loop, [&] { result.set_value(work()); });
  return result.get_future().get();
}

class IoContextPoolTest : public ::testing::Test {
 protected:
  void TearDown() override {
    pool.Stop();
    pool.Join();
  }
  IoContextPool pool{3};
};

TEST_F(IoContextPoolTest, NextTakesEveryLoopInTurn) {
  std::set<asio::io_context*> seen;
  for (size_t i = 0; i < pool.size(); ++i) seen.insert(&pool.Next());
  EXPECT_EQ(seen.size(), 3u);
  asio::io_context* const first = &pool.Next();
  pool.Next();
  pool.Next();
  EXPECT_EQ(&pool.Next(), first) << "the fourth call starts the round again";
}

TEST_F(IoContextPoolTest, EachLoopRunsOnAThreadOfItsOwn) {
  pool.Start();
  std::set<std::thread::id> threads;
  for (size_t i = 0; i < pool.size(); ++i) {
    threads.insert(RunOn(pool.at(i), [] { return std::this_thread::get_id(); }));
  }
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST_F(IoContextPoolTest, LocalIsTheCallersLoopOnAWorkerThread) {
  pool.Start();
  for (size_t i = 0; i < pool.size(); ++i) {
    asio::io_context* const loop = &pool.at(i);
    EXPECT_EQ(RunOn(*loop, [&] { return &pool.Local(); }), loop);
    EXPECT_EQ(RunOn(*loop, [] { return IoContextPool::CurrentLoop(); }), loop);
  }
}

TEST_F(IoContextPoolTest, LocalOffTheWorkersTakesTheLoopsInTurn) {
  EXPECT_EQ(IoContextPool::CurrentLoop(), nullptr);
  std::set<asio::io_context*> seen;
  for (size_t i = 0; i < pool.size(); ++i) seen.insert(&pool.Local());
  EXPECT_EQ(seen.size(), 3u);
}

TEST(IoContextPoolOwnership, LocalOfAnotherPoolsThreadIsOneOfItsOwnLoops) {
  IoContextPool first(2);
  IoContextPool second(2);
  first.Start();
  asio::io_context* const chosen = RunOn(first.at(0), [&] { return &second.Local(); });
  EXPECT_TRUE(chosen == &second.at(0) || chosen == &second.at(1));
  first.Stop();
  first.Join();
}

TEST(IoContextPoolSize, ZeroMeansOneLoop) {
  IoContextPool pool(0);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(&pool.primary(), &pool.at(0));
}

}  // namespace
}  // namespace opstream
