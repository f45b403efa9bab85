#pragma once
// Polls a condition that another thread makes true.
#include <chrono>
#include <thread>

namespace opstream::test_support {

// True once `predicate` holds; false if it still does not after `limit`.
template <typename Predicate>
bool Eventually(Predicate predicate, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace opstream::test_support
