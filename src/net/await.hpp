#pragma once
// Bridges the session layer's callbacks into coroutines: the callback may run on any thread; the
// coroutine resumes on its own executor.
#include <boost/asio/async_result.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>

namespace opstream::net {

// Completion token for coroutines that inspect errors instead of catching exceptions.
inline constexpr auto kUseTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// `start` receives a `std::function<void(T)>` and must call it exactly once.
template <typename T, typename Start>
boost::asio::awaitable<T> AwaitCallback(Start start) {
  auto executor = co_await boost::asio::this_coro::executor;
  co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(T)>(
      [executor, &start](auto handler) mutable {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start(std::function<void(T)>([shared, executor](T value) {
          boost::asio::post(executor, [shared, value = std::move(value)]() mutable { (*shared)(std::move(value)); });
        }));
      },
      boost::asio::use_awaitable);
}

}  // namespace opstream::net
