// RFC 6455 framing: server frame headers and the incremental client frame reader.
#include "net/websocket_frame.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace opstream::net::websocket {
namespace {

// A client frame as a browser would send it: masked with `key`.
std::string ClientFrame(Opcode opcode, std::string_view payload, bool fin = true, uint32_t key = 0x37FA213D) {
  std::string frame;
  frame.push_back(static_cast<char>((fin ? 0x80 : 0x00) | static_cast<uint8_t>(opcode)));
  const size_t n = payload.size();
  if (n < 126) {
    frame.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(n >> 8));
    frame.push_back(static_cast<char>(n & 0xFF));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8) frame.push_back(static_cast<char>((n >> shift) & 0xFF));
  }
  const uint8_t mask[4] = {static_cast<uint8_t>(key >> 24), static_cast<uint8_t>(key >> 16),
                           static_cast<uint8_t>(key >> 8), static_cast<uint8_t>(key)};
  frame.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < n; ++i) frame.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return frame;
}

struct Seen {
  MessageReader::Event event;
  std::string payload;
  bool text = false;
  uint16_t code = 0;
};

// Feeds `bytes` in chunks of the given sizes (cycled) and records every event.
std::vector<Seen> Feed(MessageReader& reader, std::string bytes, const std::vector<size_t>& chunks = {SIZE_MAX}) {
  std::vector<Seen> seen;
  size_t offset = 0;
  size_t chunk_index = 0;
  while (offset < bytes.size()) {
    const size_t n = std::min(chunks[chunk_index++ % chunks.size()], bytes.size() - offset);
    std::string chunk = bytes.substr(offset, n);  // a fresh buffer, like a new read
    offset += n;
    char* data = chunk.data();
    size_t size = chunk.size();
    while (true) {
      const auto event = reader.Next(data, size);
      if (event == MessageReader::Event::kNeedMore) break;
      seen.push_back({event, std::string(reader.payload()), reader.is_text(), reader.close_code()});
    }
  }
  return seen;
}

TEST(WebSocketFrame, ServerHeaderLengthForms) {
  for (size_t n : {0u, 125u, 126u, 65535u, 65536u}) {
    std::string frame;
    AppendFrame(frame, Opcode::kText, std::string(n, 'a'));
    const size_t header = n < 126 ? 2 : (n <= 65535 ? 4 : 10);
    ASSERT_EQ(frame.size(), header + n) << n;
    EXPECT_EQ(static_cast<uint8_t>(frame[0]), 0x81);
    EXPECT_EQ(static_cast<uint8_t>(frame[1]) & 0x80, 0) << "server frames are unmasked";
  }
}

TEST(WebSocketFrame, CloseFrameCarriesCodeAndTrimmedReason) {
  std::string frame;
  AppendCloseFrame(frame, CloseCode::kTooBig, std::string(200, 'x'));
  ASSERT_EQ(static_cast<uint8_t>(frame[0]), 0x88);
  ASSERT_EQ(static_cast<uint8_t>(frame[1]), 125);  // control frames carry at most 125 bytes
  EXPECT_EQ((static_cast<uint8_t>(frame[2]) << 8) | static_cast<uint8_t>(frame[3]), 1009);

  std::string utf8;
  for (int i = 0; i < 70; ++i) utf8 += "\xC3\xA9";  // 140 bytes of 2-byte characters
  frame.clear();
  AppendCloseFrame(frame, CloseCode::kNormal, utf8);
  EXPECT_EQ((frame.size() - 4) % 2, 0u) << "a character is never split";
}

TEST(WebSocketFrame, ReadsMaskedMessagesWholeAndByteByByte) {
  const std::string bytes = ClientFrame(Opcode::kText, "hello") + ClientFrame(Opcode::kBinary, std::string(70000, 'z'));
  for (const std::vector<size_t>& chunks : {std::vector<size_t>{SIZE_MAX}, {1}, {3, 7, 1000}}) {
    MessageReader reader(1 << 20);
    const auto seen = Feed(reader, bytes, chunks);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].event, MessageReader::Event::kMessage);
    EXPECT_EQ(seen[0].payload, "hello");
    EXPECT_TRUE(seen[0].text);
    EXPECT_EQ(seen[1].payload, std::string(70000, 'z'));
    EXPECT_FALSE(seen[1].text);
    EXPECT_EQ(reader.buffered_bytes(), 0u);
  }
}

TEST(WebSocketFrame, ReassemblesFragmentsWithInterleavedPing) {
  const std::string bytes = ClientFrame(Opcode::kText, "ab", false) + ClientFrame(Opcode::kPing, "p") +
                            ClientFrame(Opcode::kContinuation, "cd", false) +
                            ClientFrame(Opcode::kContinuation, "ef", true);
  MessageReader reader(100);
  const auto seen = Feed(reader, bytes, {5});
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].event, MessageReader::Event::kPing);
  EXPECT_EQ(seen[0].payload, "p");
  EXPECT_EQ(seen[1].event, MessageReader::Event::kMessage);
  EXPECT_EQ(seen[1].payload, "abcdef");
}

TEST(WebSocketFrame, CloseFrameCodeAndReason) {
  MessageReader reader(100);
  auto seen = Feed(reader, ClientFrame(Opcode::kClose, std::string("\x03\xE8") + "bye"));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].event, MessageReader::Event::kClose);
  EXPECT_EQ(seen[0].code, 1000);
  EXPECT_EQ(seen[0].payload, "bye");

  MessageReader empty(100);
  seen = Feed(empty, ClientFrame(Opcode::kClose, ""));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].code, 1005) << "no status code present";
}

TEST(WebSocketFrame, ProtocolViolationsAreFatal) {
  struct Case {
    const char* name;
    std::string bytes;
    uint16_t code;
  };
  std::string unmasked;
  AppendFrame(unmasked, Opcode::kText, "hi");
  std::string reserved = ClientFrame(Opcode::kText, "hi");
  reserved[0] = static_cast<char>(reserved[0] | 0x40);
  std::string unknown = ClientFrame(Opcode::kText, "hi");
  unknown[0] = static_cast<char>(0x83);
  const std::vector<Case> cases = {
      {"unmasked", unmasked, 1002},
      {"reserved bits", reserved, 1002},
      {"unknown opcode", unknown, 1002},
      {"fragmented ping", ClientFrame(Opcode::kPing, "x", false), 1002},
      {"long ping", ClientFrame(Opcode::kPing, std::string(126, 'x')), 1002},
      {"stray continuation", ClientFrame(Opcode::kContinuation, "x"), 1002},
      {"new message inside a fragmented one", ClientFrame(Opcode::kText, "a", false) + ClientFrame(Opcode::kText, "b"),
       1002},
      {"invalid UTF-8 text", ClientFrame(Opcode::kText, "\xC3\x28"), 1007},
      {"one-byte close payload", ClientFrame(Opcode::kClose, "x"), 1002},
  };
  for (const auto& c : cases) {
    MessageReader reader(100);
    const auto seen = Feed(reader, c.bytes + ClientFrame(Opcode::kText, "after"));
    ASSERT_EQ(seen.size(), 1u) << c.name << ": nothing is read after a violation";
    EXPECT_EQ(seen[0].event, MessageReader::Event::kError) << c.name;
    EXPECT_EQ(seen[0].code, c.code) << c.name;
    EXPECT_TRUE(reader.fatal()) << c.name;
  }
}

TEST(WebSocketFrame, TooBigMessageIsSkippedButTheCloseFrameIsStillSeen) {
  for (const std::vector<size_t>& chunks : {std::vector<size_t>{SIZE_MAX}, {7}}) {
    MessageReader reader(1000);
    const std::string bytes = ClientFrame(Opcode::kText, std::string(5000, 'x')) + ClientFrame(Opcode::kText, "late") +
                              ClientFrame(Opcode::kClose, "\x03\xE8");
    const auto seen = Feed(reader, bytes, chunks);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].event, MessageReader::Event::kError);
    EXPECT_EQ(seen[0].code, 1009);
    EXPECT_FALSE(reader.fatal());
    EXPECT_EQ(seen[1].event, MessageReader::Event::kClose) << "data after the limit is discarded";
  }
  // The limit applies to the whole message, not to each fragment.
  MessageReader fragmented(10);
  const auto seen = Feed(
      fragmented, ClientFrame(Opcode::kText, "123456", false) + ClientFrame(Opcode::kContinuation, "789012", true));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].code, 1009);
}

// Any split of a valid frame sequence yields the same messages as reading it whole.
RC_GTEST_PROP(WebSocketFrameProperty, ChunkingDoesNotChangeMessages, ()) {
  const auto messages = *rc::gen::container<std::vector<std::string>>(rc::gen::string<std::string>());
  const auto key = *rc::gen::arbitrary<uint32_t>();
  std::string bytes;
  for (const auto& m : messages) {
    // Split some messages into fragments.
    if (m.size() > 2 && key % 2 == 0) {
      bytes += ClientFrame(Opcode::kBinary, m.substr(0, m.size() / 2), false, key);
      bytes += ClientFrame(Opcode::kContinuation, m.substr(m.size() / 2), true, key);
    } else {
      bytes += ClientFrame(Opcode::kBinary, m, true, key);
    }
  }
  const auto chunks = *rc::gen::nonEmpty(rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(1, 64)));
  MessageReader reader(1 << 20);
  const auto seen = Feed(reader, bytes, chunks);
  RC_ASSERT(seen.size() == messages.size());
  for (size_t i = 0; i < messages.size(); ++i) RC_ASSERT(seen[i].payload == messages[i]);
}

}  // namespace
}  // namespace opstream::net::websocket
