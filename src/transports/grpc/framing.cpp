#include "transports/grpc/framing.hpp"

#include <fmt/format.h>
#include <zlib.h>

namespace opstream::transports::grpc {

std::optional<Status> MessageReader::Feed(std::string_view bytes, const std::function<void(std::string)>& on_message) {
  if (failed_) return failed_;
  buffer_.append(bytes);
  while (buffer_.size() - offset_ >= kPrefixBytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + offset_);
    const uint8_t flag = p[0];
    const size_t length = (size_t{p[1]} << 24) | (size_t{p[2]} << 16) | (size_t{p[3]} << 8) | size_t{p[4]};
    if (flag > 1) {
      failed_ = Status{StatusCode::kInternal, fmt::format("Invalid message flags: {}.", flag)};
      return failed_;
    }
    if (flag == 1 && !gzip_) {
      failed_ = Status{StatusCode::kUnimplemented, "Compressed message received without grpc-encoding gzip."};
      return failed_;
    }
    // Checked on the prefix, before the body arrives: an oversized message is never buffered.
    if (length > max_message_) {
      failed_ = Status{StatusCode::kResourceExhausted,
                       fmt::format("Received message larger than max ({} vs. {})", length, max_message_)};
      return failed_;
    }
    if (buffer_.size() - offset_ - kPrefixBytes < length) break;
    std::string message;
    const std::string_view body(buffer_.data() + offset_ + kPrefixBytes, length);
    if (flag == 1) {
      if (auto error = Gunzip(body, max_message_, message)) {
        failed_ = std::move(error);
        return failed_;
      }
    } else {
      message.assign(body);
    }
    offset_ += kPrefixBytes + length;
    on_message(std::move(message));
  }
  // Keep the buffer small: drop what was consumed.
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > 0) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return std::nullopt;
}

std::optional<Status> MessageReader::Finish() const {
  if (failed_) return failed_;
  if (Pending() > 0) return Status{StatusCode::kInternal, "Incomplete message at the end of the request stream."};
  return std::nullopt;
}

void AppendFrame(std::string_view message, std::string& out) {
  const auto n = static_cast<uint32_t>(message.size());
  out += '\0';
  out += static_cast<char>((n >> 24) & 0xff);
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
  out.append(message);
}

std::string PercentEncode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u <= 0x7e && u != '%') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::optional<std::chrono::nanoseconds> ParseTimeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  int64_t amount = 0;
  for (size_t i = 0; i + 1 < value.size(); ++i) {
    if (value[i] < '0' || value[i] > '9') return std::nullopt;
    amount = amount * 10 + (value[i] - '0');
  }
  using namespace std::chrono;
  switch (value.back()) {
    case 'H':
      return duration_cast<nanoseconds>(hours(amount));
    case 'M':
      return duration_cast<nanoseconds>(minutes(amount));
    case 'S':
      return duration_cast<nanoseconds>(seconds(amount));
    case 'm':
      return duration_cast<nanoseconds>(milliseconds(amount));
    case 'u':
      return duration_cast<nanoseconds>(microseconds(amount));
    case 'n':
      return nanoseconds(amount);
    default:
      return std::nullopt;
  }
}

std::optional<Status> Gunzip(std::string_view compressed, size_t max, std::string& out) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return Status{StatusCode::kInternal, "Decompression failed."};
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  char chunk[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      return Status{StatusCode::kInternal, "Decompression failed."};
    }
    out.append(chunk, sizeof chunk - z.avail_out);
    if (out.size() > max) {
      inflateEnd(&z);
      return Status{StatusCode::kResourceExhausted,
                    fmt::format("Received message larger than max ({} vs. {})", out.size(), max)};
    }
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      return Status{StatusCode::kInternal, "Decompression failed."};
    }
  }
  inflateEnd(&z);
  return std::nullopt;
}

}  // namespace opstream::transports::grpc
