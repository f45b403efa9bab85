#include "net/websocket_frame.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstring>

namespace opstream::net::websocket {
namespace {

constexpr uint8_t kFinBit = 0x80;
constexpr uint8_t kReservedBits = 0x70;
constexpr uint8_t kMaskBit = 0x80;
constexpr size_t kMaxControlPayload = 125;

bool IsControl(Opcode opcode) { return (static_cast<uint8_t>(opcode) & 0x08) != 0; }

bool IsKnown(uint8_t opcode) { return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xA); }

// XORs `data` with the 4-byte key, starting at key position 0.
void Unmask(char* data, size_t size, const uint8_t key[4]) {
  uint32_t key32;
  std::memcpy(&key32, key, 4);
  const uint64_t key64 = (static_cast<uint64_t>(key32) << 32) | key32;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    word ^= key64;
    std::memcpy(data + i, &word, 8);
  }
  for (; i < size; ++i) data[i] = static_cast<char>(data[i] ^ key[i & 3]);
}

}  // namespace

struct FrameHeader {
  bool fin;
  Opcode opcode;
  size_t header_size;
  uint64_t payload_size;
  uint8_t mask[4];
};

namespace {

enum class HeaderResult { kIncomplete, kOk, kUnmasked, kReservedBits, kUnknownOpcode, kBadControl, kTooLong };

HeaderResult ParseHeader(const char* data, size_t size, FrameHeader& header) {
  if (size < 2) return HeaderResult::kIncomplete;
  const auto b0 = static_cast<uint8_t>(data[0]);
  const auto b1 = static_cast<uint8_t>(data[1]);
  if ((b0 & kReservedBits) != 0) return HeaderResult::kReservedBits;
  if (!IsKnown(b0 & 0x0F)) return HeaderResult::kUnknownOpcode;
  if ((b1 & kMaskBit) == 0) return HeaderResult::kUnmasked;
  header.fin = (b0 & kFinBit) != 0;
  header.opcode = static_cast<Opcode>(b0 & 0x0F);
  const uint8_t length7 = b1 & 0x7F;
  size_t offset = 2;
  if (length7 == 126) {
    if (size < 4) return HeaderResult::kIncomplete;
    header.payload_size = (static_cast<uint64_t>(static_cast<uint8_t>(data[2])) << 8) | static_cast<uint8_t>(data[3]);
    offset = 4;
  } else if (length7 == 127) {
    if (size < 10) return HeaderResult::kIncomplete;
    uint64_t length = 0;
    for (int i = 2; i < 10; ++i) length = (length << 8) | static_cast<uint8_t>(data[i]);
    if ((length >> 63) != 0) return HeaderResult::kTooLong;
    header.payload_size = length;
    offset = 10;
  } else {
    header.payload_size = length7;
  }
  if (IsControl(header.opcode) && (!header.fin || header.payload_size > kMaxControlPayload)) {
    return HeaderResult::kBadControl;
  }
  if (size < offset + 4) return HeaderResult::kIncomplete;
  std::memcpy(header.mask, data + offset, 4);
  header.header_size = offset + 4;
  return HeaderResult::kOk;
}

// The largest prefix of `text` of at most `limit` bytes that does not split a UTF-8 character.
std::string_view Utf8Prefix(std::string_view text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t end = limit;
  while (end > 0 && (static_cast<uint8_t>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace

void AppendFrameHeader(std::string& out, Opcode opcode, size_t payload_size) {
  out.push_back(static_cast<char>(kFinBit | static_cast<uint8_t>(opcode)));
  if (payload_size < 126) {
    out.push_back(static_cast<char>(payload_size));
  } else if (payload_size <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>((payload_size >> 8) & 0xFF));
    out.push_back(static_cast<char>(payload_size & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((payload_size >> shift) & 0xFF));
  }
}

void AppendFrame(std::string& out, Opcode opcode, std::string_view payload) {
  AppendFrameHeader(out, opcode, payload.size());
  out.append(payload);
}

void AppendCloseFrame(std::string& out, CloseCode code, std::string_view reason) {
  const auto trimmed = Utf8Prefix(reason, kMaxControlPayload - 2);
  AppendFrameHeader(out, Opcode::kClose, 2 + trimmed.size());
  const auto value = static_cast<uint16_t>(code);
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value & 0xFF));
  out.append(trimmed);
}

void MessageReader::ReleaseMemory() {
  if (partial_.empty()) std::string().swap(partial_);
  if (message_.empty()) std::string().swap(message_);
}

MessageReader::Event MessageReader::Fail(CloseCode code, std::string_view reason) {
  close_code_ = static_cast<uint16_t>(code);
  reason_ = reason;
  fatal_ = true;
  partial_.clear();
  message_.clear();
  return Event::kError;
}

MessageReader::Event MessageReader::Next(char*& input, size_t& size) {
  // Views handed out by the previous event may point into these buffers: reset them only now.
  if (message_done_) {
    message_.clear();
    message_done_ = false;
  }
  if (partial_done_) {
    partial_.clear();
    partial_done_ = false;
  }
  while (true) {
    if (fatal_) {
      input += size;
      size = 0;
      return Event::kNeedMore;
    }
    if (skip_remaining_ > 0) {
      const auto skipped = static_cast<size_t>(std::min<uint64_t>(skip_remaining_, size));
      input += skipped;
      size -= skipped;
      skip_remaining_ -= skipped;
      if (skip_remaining_ > 0) return Event::kNeedMore;
    }
    if (size == 0) return Event::kNeedMore;

    // Locate one complete frame, either directly in the input or assembled in `partial_`.
    FrameHeader header;
    char* frame;
    if (partial_.empty()) {
      const auto result = ParseHeader(input, size, header);
      if (result == HeaderResult::kIncomplete) {
        partial_.assign(input, size);
        input += size;
        size = 0;
        return Event::kNeedMore;
      }
      if (result != HeaderResult::kOk) return FailHeader(static_cast<int>(result));
      if (const auto check = CheckSize(header); check != SizeCheck::kAccept) {
        input += header.header_size;
        size -= header.header_size;
        if (check == SizeCheck::kTooBig) return Event::kError;
        continue;
      }
      const uint64_t frame_size = header.header_size + header.payload_size;
      if (frame_size > size) {
        partial_.reserve(static_cast<size_t>(frame_size));
        partial_.assign(input, size);
        input += size;
        size = 0;
        return Event::kNeedMore;
      }
      frame = input;
      input += frame_size;
      size -= static_cast<size_t>(frame_size);
    } else {
      // Complete the header first, then the payload.
      auto result = ParseHeader(partial_.data(), partial_.size(), header);
      while (result == HeaderResult::kIncomplete && size > 0) {
        partial_.push_back(*input);
        ++input;
        --size;
        result = ParseHeader(partial_.data(), partial_.size(), header);
      }
      if (result == HeaderResult::kIncomplete) return Event::kNeedMore;
      if (result != HeaderResult::kOk) return FailHeader(static_cast<int>(result));
      if (partial_.size() == header.header_size) {
        if (const auto check = CheckSize(header); check != SizeCheck::kAccept) {
          partial_.clear();
          if (check == SizeCheck::kTooBig) return Event::kError;
          continue;
        }
      }
      const uint64_t frame_size = header.header_size + header.payload_size;
      const auto wanted = static_cast<size_t>(std::min<uint64_t>(frame_size - partial_.size(), size));
      partial_.append(input, wanted);
      input += wanted;
      size -= wanted;
      if (partial_.size() < frame_size) return Event::kNeedMore;
      frame = partial_.data();
      partial_done_ = true;
    }

    char* payload = frame + header.header_size;
    const auto payload_size = static_cast<size_t>(header.payload_size);
    Unmask(payload, payload_size, header.mask);
    const auto event = OnFrame(header, std::string_view(payload, payload_size));
    if (event != Event::kNeedMore) return event;
    // The frame was absorbed (a fragment, or discarded): its buffered bytes are no longer needed.
    if (partial_done_) {
      partial_.clear();
      partial_done_ = false;
    }
  }
}

MessageReader::Event MessageReader::FailHeader(int result) {
  switch (static_cast<HeaderResult>(result)) {
    case HeaderResult::kUnmasked:
      return Fail(CloseCode::kProtocolError, "Client frames must be masked");
    case HeaderResult::kReservedBits:
      return Fail(CloseCode::kProtocolError, "Reserved bits set");
    case HeaderResult::kUnknownOpcode:
      return Fail(CloseCode::kProtocolError, "Unknown opcode");
    case HeaderResult::kBadControl:
      return Fail(CloseCode::kProtocolError, "Invalid control frame");
    default:
      return Fail(CloseCode::kTooBig, "Message too big");
  }
}

// Enforces the message size limit once a data frame's header is complete.
MessageReader::SizeCheck MessageReader::CheckSize(const FrameHeader& header) {
  if (IsControl(header.opcode)) return SizeCheck::kAccept;
  if (draining_) {
    skip_remaining_ = header.payload_size;
    return SizeCheck::kSkip;
  }
  const uint64_t buffered = in_fragmented_message_ ? message_.size() : 0;
  if (buffered + header.payload_size <= max_message_bytes_) return SizeCheck::kAccept;
  // Too big: tell the caller once, then discard data frames and keep reading control frames, so
  // that the peer's answer to our close frame is still seen (a clean close instead of a reset).
  skip_remaining_ = header.payload_size;
  draining_ = true;
  in_fragmented_message_ = false;
  message_.clear();
  close_code_ = static_cast<uint16_t>(CloseCode::kTooBig);
  reason_ = "Message too big";
  return SizeCheck::kTooBig;
}

MessageReader::Event MessageReader::OnFrame(const FrameHeader& header, std::string_view payload) {
  switch (header.opcode) {
    case Opcode::kPing:
      payload_ = payload;
      return Event::kPing;
    case Opcode::kPong:
      payload_ = payload;
      return Event::kPong;
    case Opcode::kClose: {
      if (payload.size() == 1) return Fail(CloseCode::kProtocolError, "Invalid close frame");
      close_code_ = 1005;
      reason_ = {};
      if (payload.size() >= 2) {
        close_code_ = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]));
        reason_ = payload.substr(2);
      }
      payload_ = reason_;
      return Event::kClose;
    }
    default:
      break;
  }
  if (draining_) return Event::kNeedMore;
  if (header.opcode == Opcode::kContinuation) {
    if (!in_fragmented_message_) return Fail(CloseCode::kProtocolError, "Unexpected continuation frame");
  } else if (in_fragmented_message_) {
    return Fail(CloseCode::kProtocolError, "Expected a continuation frame");
  } else {
    message_opcode_ = header.opcode;
  }

  if (header.fin && !in_fragmented_message_) {
    payload_ = payload;
  } else {
    message_.append(payload);
    in_fragmented_message_ = !header.fin;
    if (!header.fin) return Event::kNeedMore;
    payload_ = message_;
    message_done_ = true;
  }
  if (message_opcode_ == Opcode::kText && !simdjson::validate_utf8(payload_.data(), payload_.size())) {
    return Fail(CloseCode::kInvalidPayload, "Invalid UTF-8 in text message");
  }
  return Event::kMessage;
}

}  // namespace opstream::net::websocket
