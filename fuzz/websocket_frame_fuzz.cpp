// Fuzz target for the WebSocket frame reader (RFC 6455): bytes straight from the socket, in
// arbitrary read sizes.
//
// Input: byte 0 picks the message size limit, byte 1 seeds the read sizes; the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "net/websocket_frame.hpp"

namespace ws = opstream::net::websocket;
using opstream::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t limit = size_t{16} << (data[0] % 12);  // 16 B .. 32 KiB
  uint32_t read_seed = data[1] | 1u;
  // The reader unmasks in place: it needs a writable copy, as the socket buffer is.
  std::vector<char> stream(data + 2, data + size);
  ws::MessageReader reader(limit);
  // Frames are at most 14 header bytes plus a payload within the limit (125 for control frames);
  // a fragmented message adds its buffered fragments, which are within the limit too.
  const size_t bound = limit + 14 + 125 + limit;
  size_t offset = 0;
  bool stopped = false;
  while (offset < stream.size() && !stopped) {
    // Read sizes: 1 to 64 bytes, or everything that is left.
    read_seed = read_seed * 1103515245u + 12345u;
    size_t chunk = (read_seed >> 16) % 65 == 64 ? stream.size() - offset : 1 + (read_seed >> 16) % 64;
    chunk = std::min(chunk, stream.size() - offset);
    char* input = stream.data() + offset;
    size_t remaining = chunk;
    while (true) {
      const size_t before = remaining;
      const auto event = reader.Next(input, remaining);
      Check(remaining <= before, "reader grew its input");
      Check(reader.buffered_bytes() <= bound, "reader buffers more than a frame plus a message");
      if (event == ws::MessageReader::Event::kNeedMore) {
        Check(remaining == 0, "kNeedMore before all input was consumed");
        break;
      }
      if (event == ws::MessageReader::Event::kMessage) {
        Check(reader.payload().size() <= limit, "message over the size limit delivered");
      } else if (event == ws::MessageReader::Event::kPing || event == ws::MessageReader::Event::kPong) {
        Check(reader.payload().size() <= 125, "control frame payload over 125 bytes");
      } else if (event == ws::MessageReader::Event::kError) {
        Check(reader.close_code() >= 1000 && !reader.reason().empty(), "error without a close code or reason");
        if (reader.fatal()) {
          stopped = true;
          break;
        }
      }
    }
    offset += chunk;
    if (read_seed % 7 == 0) reader.ReleaseMemory();
  }
  return 0;
}
