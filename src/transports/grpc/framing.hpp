#pragma once
// gRPC over HTTP/2 message framing (wire-protocol §5.1): 5-byte length prefixes, status codes,
// percent-encoded grpc-message, grpc-timeout. No I/O here; the calls feed DATA chunks in.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace opstream::transports::grpc {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
};

struct Status {
  StatusCode code = StatusCode::kOk;
  std::string message;
};

inline constexpr size_t kMaxReceiveMessageBytes = 4 * 1024 * 1024;
inline constexpr size_t kPrefixBytes = 5;

// Splits a request body into messages, whatever the DATA frame boundaries: a prefix or a message
// may be split anywhere. After an error the reader stays failed.
class MessageReader {
 public:
  explicit MessageReader(bool gzip = false, size_t max_message = kMaxReceiveMessageBytes)
      : gzip_(gzip), max_message_(max_message) {}

  // Hands every complete message to `on_message`, in order. Returns the failure, if any.
  std::optional<Status> Feed(std::string_view bytes, const std::function<void(std::string)>& on_message);
  // The body ended: a message cut short is an error.
  std::optional<Status> Finish() const;
  size_t Pending() const { return buffer_.size() - offset_; }

 private:
  const bool gzip_;
  const size_t max_message_;
  std::string buffer_;
  size_t offset_ = 0;
  std::optional<Status> failed_;
};

// Appends the 5-byte prefix (uncompressed) and the message.
void AppendFrame(std::string_view message, std::string& out);
// grpc-message value: percent-encodes everything outside printable ASCII and '%'.
std::string PercentEncode(std::string_view text);
std::string PercentDecode(std::string_view text);
// grpc-timeout "<1-8 digits><unit>", unit one of H M S m u n. Nullopt when malformed.
std::optional<std::chrono::nanoseconds> ParseTimeout(std::string_view value);
// Inflates a gzip member; fails when the result would exceed `max`.
std::optional<Status> Gunzip(std::string_view compressed, size_t max, std::string& out);

}  // namespace opstream::transports::grpc
