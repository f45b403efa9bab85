#include "net/flush_pacer.hpp"

#include <boost/asio/steady_timer.hpp>
#include <mutex>
#include <vector>

namespace opstream::net {

struct FlushPacer::State {
  explicit State(boost::asio::io_context& context) : loop(&context), timer(context) {}

  const boost::asio::io_context* loop;
  boost::asio::steady_timer timer;
  std::mutex mutex;
  std::vector<Deferred> pending;
  std::vector<Deferred> spare;  // a finished round's vector, so that rounds reuse capacity
  bool armed = false;
};

FlushPacer::FlushPacer(boost::asio::io_context& context, std::chrono::microseconds interval) : interval_(interval) {
  states_.push_back(std::make_shared<State>(context));
}

FlushPacer::FlushPacer(IoContextPool& loops, std::chrono::microseconds interval) : interval_(interval) {
  for (size_t i = 0; i < loops.size(); ++i) states_.push_back(std::make_shared<State>(loops.at(i)));
}

FlushPacer::~FlushPacer() {
  // Pending rounds still run (early, as their waits are cancelled): no deferred flush is lost.
  for (auto& state : states_) {
    std::lock_guard lock(state->mutex);
    state->timer.cancel();
  }
}

const std::shared_ptr<FlushPacer::State>& FlushPacer::StateForCaller() const {
  const boost::asio::io_context* loop = IoContextPool::CurrentLoop();
  for (const auto& state : states_) {
    if (state->loop == loop) return state;
  }
  return states_.front();
}

void FlushPacer::Defer(Deferred deferred) {
  const auto& owner = StateForCaller();
  State& state = *owner;
  std::lock_guard lock(state.mutex);
  state.pending.push_back(std::move(deferred));
  if (state.armed) return;
  state.armed = true;
  // One timer for every deferred flush: a round costs one wake-up however many connections it
  // writes. The round holds the state, so it may outlive the pacer.
  state.timer.expires_after(interval_);
  state.timer.async_wait([owner](const boost::system::error_code&) { RunRound(*owner); });
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
