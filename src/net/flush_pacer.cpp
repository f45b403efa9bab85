#include "net/flush_pacer.hpp"

#include <boost/asio/steady_timer.hpp>
#include <mutex>
#include <vector>

namespace opstream::net {

struct FlushPacer::State {
  explicit State(boost::asio::io_context& context) : timer(context) {}

  boost::asio::steady_timer timer;
  std::mutex mutex;
  std::vector<Deferred> pending;
  std::vector<Deferred> spare;  // a finished round's vector, so that rounds reuse capacity
  bool armed = false;
};

FlushPacer::FlushPacer(boost::asio::io_context& context, std::chrono::microseconds interval)
    : interval_(interval), state_(std::make_shared<State>(context)) {}

FlushPacer::~FlushPacer() {
  // The pending round still runs (early, as the wait is cancelled): no deferred flush is lost.
  std::lock_guard lock(state_->mutex);
  state_->timer.cancel();
}

void FlushPacer::Defer(Deferred deferred) {
  std::lock_guard lock(state_->mutex);
  state_->pending.push_back(std::move(deferred));
  if (state_->armed) return;
  state_->armed = true;
  // One timer for every deferred flush: a round costs one wake-up however many connections it
  // writes. The round holds the state, so it may outlive the pacer.
  state_->timer.expires_after(interval_);
  state_->timer.async_wait([state = state_](const boost::system::error_code&) { RunRound(*state); });
}

void FlushPacer::RunRound(State& state) {
  std::vector<Deferred> round;
  {
    std::lock_guard lock(state.mutex);
    state.armed = false;
    round.swap(state.pending);
    state.pending.swap(state.spare);
  }
  // A flush that writes may defer again; that lands in `pending`, for the next round (which may
  // run on another thread of the context while this one is still writing).
  for (auto& deferred : round) deferred.target->FlushDeferred();
  round.clear();
  std::lock_guard lock(state.mutex);
  if (state.spare.capacity() < round.capacity()) state.spare.swap(round);
}

}  // namespace opstream::net
