#pragma once
// Calling code the caller handed in (a completion, a push handler) from a loop that must survive it.
#include <spdlog/spdlog.h>

#include <exception>
#include <string_view>
#include <utility>

namespace opstream::storage::jobs {

// Calls a callback from the caller's code so that an exception it throws never reaches the
// worker loop or connection that calls it (it is logged as `{log_prefix}{log_name}: ...`). An
// empty callback is skipped.
template <typename Callback, typename... Args>
void InvokeGuarded(std::string_view log_prefix, std::string_view log_name, Callback& callback,
                   Args&&... args) noexcept {
  if (!callback) return;
  try {
    callback(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    spdlog::error("{}{}: a callback threw: {}", log_prefix, log_name, e.what());
  } catch (...) {
    spdlog::error("{}{}: a callback threw a non-standard exception", log_prefix, log_name);
  }
}

}  // namespace opstream::storage::jobs
