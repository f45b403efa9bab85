#pragma once
// A success-or-message result used across layer boundaries. Errors are plain texts because
// the protocol forwards them verbatim to clients (wire-protocol §2.11).
#include <string>
#include <utility>

namespace opstream {

class Status {
 public:
  Status() = default;
  static Status Ok() { return {}; }
  static Status Error(std::string message) {
    Status s;
    s.failed_ = true;
    s.message_ = std::move(message);
    return s;
  }

  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  const std::string& message() const noexcept { return message_; }

 private:
  bool failed_ = false;
  std::string message_;
};

}  // namespace opstream
