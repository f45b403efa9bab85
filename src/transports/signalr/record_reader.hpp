#pragma once
// Splits one direction of a SignalR connection into records (wire-protocol §3.3).
//
// The transport delivers bytes in arbitrary pieces: a record may be split across WebSocket frames
// or POST bodies, and several records may share one. The handshake and every JSON hub message end
// with the record separator 0x1E; after a MessagePack handshake the hub messages are instead
// prefixed with their length as a base-128 varint. A record longer than the limit is a protocol
// error (the caller closes the connection, OP-18): the reader never buffers more than the limit plus
// one transport chunk.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace opstream::transports::signalr {

inline constexpr char kRecordSeparator = '\x1e';

enum class Framing { kSeparator, kLengthPrefixed };

class RecordReader {
 public:
  enum class Result { kRecord, kNeedMore, kTooLarge, kMalformed };

  explicit RecordReader(size_t max_record_bytes) : max_record_bytes_(max_record_bytes) {}

  void Append(std::string_view bytes);
  // The next complete record, without its separator or length prefix. `record` stays valid until
  // the next Append or SetFraming.
  Result Next(std::string_view& record);
  // Switches framing for the bytes after the last record returned (the handshake is always
  // separator-framed; MessagePack hub messages that follow it are length-prefixed).
  void SetFraming(Framing framing) { framing_ = framing; }
  size_t buffered_bytes() const noexcept { return buffer_.size() - consumed_; }

 private:
  Result NextSeparated(std::string_view& record);
  Result NextLengthPrefixed(std::string_view& record);

  const size_t max_record_bytes_;
  Framing framing_ = Framing::kSeparator;
  std::string buffer_;
  size_t consumed_ = 0;  // bytes of buffer_ already returned as records
  size_t scanned_ = 0;   // separator search resumes here (never rescans a long partial record)
};

// Base-128 varint length prefix of a MessagePack hub record (at most 5 bytes, value < 2^31).
void AppendLengthPrefix(size_t length, std::string& out);

}  // namespace opstream::transports::signalr
