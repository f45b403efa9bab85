#pragma once
// Bridges the session layer's callbacks into coroutines: the callback may run on any thread; the
// coroutine resumes on its own executor.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <utility>

namespace opstream::net {

// Completion token for coroutines that inspect errors instead of catching exceptions.
inline constexpr auto kUseTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// `start` receives a `std::function<void(T)>` and must call it exactly once, from any thread.
//
// The coroutine is suspended by Asio's own initiation protocol, so a callback that runs before,
// during or after suspension, on any thread, always resumes it exactly once. (A hand-rolled
// "check a flag, then wait on a timer" hand-over loses the wake-up when the coroutine's executor
// is multi-threaded and the callback lands between the check and the wait.)
template <typename T, typename Start>
boost::asio::awaitable<T> AwaitCallback(Start start) {
  co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(T)>(
      [&start](auto handler) {
        // std::function needs a copyable target; the awaitable handler is move-only.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start(std::function<void(T)>([shared](T value) {
          const auto executor = boost::asio::get_associated_executor(*shared);
          boost::asio::post(executor,
                            [shared, value = std::move(value)]() mutable { std::move (*shared)(std::move(value)); });
        }));
      },
      boost::asio::use_awaitable);
}

}  // namespace opstream::net
