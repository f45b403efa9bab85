#pragma once
// Bridges the session layer's callbacks into coroutines: the callback may run on any thread; the
// coroutine resumes on its own executor.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>

namespace opstream::net {

// Completion token for coroutines that inspect errors instead of catching exceptions.
inline constexpr auto kUseTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// `start` receives a `std::function<void(T)>` and must call it exactly once, from any thread.
template <typename T, typename Start>
boost::asio::awaitable<T> AwaitCallback(Start start) {
  // The result is handed over through the coroutine's own executor; a timer that never expires
  // on its own is the wake-up signal.
  struct Rendezvous {
    explicit Rendezvous(const boost::asio::any_io_executor& executor)
        : signal(executor, boost::asio::steady_timer::time_point::max()) {}
    boost::asio::steady_timer signal;
    std::optional<T> value;
  };
  auto rendezvous = std::make_shared<Rendezvous>(co_await boost::asio::this_coro::executor);
  start(std::function<void(T)>([rendezvous](T value) {
    boost::asio::post(rendezvous->signal.get_executor(), [rendezvous, value = std::move(value)]() mutable {
      rendezvous->value = std::move(value);
      rendezvous->signal.cancel();
    });
  }));
  while (!rendezvous->value) co_await rendezvous->signal.async_wait(kUseTuple);
  co_return std::move(*rendezvous->value);
}

}  // namespace opstream::net
