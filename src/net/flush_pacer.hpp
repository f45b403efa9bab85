#pragma once
// Paces the flushes of busy connections so that a burst of broadcasts leaves in fewer, larger
// writes.
//
// Each write to a loopback or LAN socket costs a system call plus the kernel's per-segment work,
// which at high fan-out is most of the server's CPU (one document with 32 writers: about 60% of
// server time is in sendmsg and the TCP path behind it). A connection that was written to less
// than `interval` ago hands its next flush to the pacer instead of flushing at once; the pacer
// runs all deferred flushes together, at most `interval` after they were deferred. A quiet
// connection is never delayed: its first frame after a pause is written at once, so an isolated
// edit sees no added latency, and a busy one at most `interval`.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <vector>

#include "common/io_context_pool.hpp"

namespace opstream::net {

class FlushPacer {
 public:
  class Flushable {
   public:
    virtual void FlushDeferred() = 0;

   protected:
    ~Flushable() = default;
  };
  // A deferred flush; `keep_alive` keeps `target` alive until it has run.
  struct Deferred {
    std::shared_ptr<void> keep_alive;
    Flushable* target = nullptr;
  };

  FlushPacer(boost::asio::io_context& context, std::chrono::microseconds interval);
  // One round per loop: a flush deferred on a loop's thread runs on that loop, where its
  // connection's document work already is.
  FlushPacer(IoContextPool& loops, std::chrono::microseconds interval);
  ~FlushPacer();
  FlushPacer(const FlushPacer&) = delete;
  FlushPacer& operator=(const FlushPacer&) = delete;

  std::chrono::microseconds interval() const { return interval_; }
  // Thread-safe. The flush runs on the pacer's context (the caller's loop) within `interval`.
  void Defer(Deferred deferred);

 private:
  struct State;
  static void RunRound(State& state);
  const std::shared_ptr<State>& StateForCaller() const;

  const std::chrono::microseconds interval_;
  std::vector<std::shared_ptr<State>> states_;  // one per loop; the first also takes other threads' flushes
};

}  // namespace opstream::net
