#include "transports/signalr/record_reader.hpp"

namespace opstream::transports::signalr {

void RecordReader::Append(std::string_view bytes) {
  // Drop what was already handed out before growing, so the buffer holds at most one partial
  // record plus the new chunk.
  if (consumed_ > 0) {
    buffer_.erase(0, consumed_);
    scanned_ -= consumed_;
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

RecordReader::Result RecordReader::Next(std::string_view& record) {
  if (scanned_ < consumed_) scanned_ = consumed_;
  return framing_ == Framing::kSeparator ? NextSeparated(record) : NextLengthPrefixed(record);
}

RecordReader::Result RecordReader::NextSeparated(std::string_view& record) {
  const size_t end = buffer_.find(kRecordSeparator, scanned_);
  if (end == std::string::npos) {
    scanned_ = buffer_.size();
    return buffer_.size() - consumed_ > max_record_bytes_ ? Result::kTooLarge : Result::kNeedMore;
  }
  if (end - consumed_ > max_record_bytes_) return Result::kTooLarge;
  record = std::string_view(buffer_).substr(consumed_, end - consumed_);
  consumed_ = end + 1;
  scanned_ = consumed_;
  return Result::kRecord;
}

RecordReader::Result RecordReader::NextLengthPrefixed(std::string_view& record) {
  uint64_t length = 0;
  size_t pos = consumed_;
  for (int shift = 0;; shift += 7) {
    if (pos == buffer_.size()) return Result::kNeedMore;
    // A 5-byte varint carries 35 bits; SignalR never sends more than 2^31 - 1.
    if (shift > 28) return Result::kMalformed;
    const auto byte = static_cast<uint8_t>(buffer_[pos++]);
    length |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) break;
  }
  if (length > max_record_bytes_) return Result::kTooLarge;
  if (buffer_.size() - pos < length) return Result::kNeedMore;
  record = std::string_view(buffer_).substr(pos, length);
  consumed_ = pos + length;
  return Result::kRecord;
}

void AppendLengthPrefix(size_t length, std::string& out) {
  do {
    auto byte = static_cast<uint8_t>(length & 0x7F);
    length >>= 7;
    if (length != 0) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (length != 0);
}

}  // namespace opstream::transports::signalr
