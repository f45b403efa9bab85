// Fuzz target for the SignalR record reader: one direction of a connection in arbitrary pieces,
// separator-framed (handshake, JSON) and then possibly length-prefixed (MessagePack).
//
// Input: byte 0 picks the record size limit and when framing switches, byte 1 seeds the chunk
// sizes; the rest is the byte stream.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "transports/signalr/record_reader.hpp"

namespace sr = opstream::transports::signalr;
using opstream::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t limit = size_t{8} << (data[0] % 10);  // 8 B .. 4 KiB
  // After this many records the framing becomes length-prefixed (as after a MessagePack handshake).
  const unsigned switch_after = (data[0] >> 4) % 4;  // 3 = never
  uint32_t chunk_seed = data[1] | 1u;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  sr::RecordReader reader(limit);
  unsigned records = 0;
  size_t offset = 0;
  while (offset < stream.size()) {
    chunk_seed = chunk_seed * 1103515245u + 12345u;
    const size_t chunk = std::min<size_t>(1 + (chunk_seed >> 16) % 200, stream.size() - offset);
    reader.Append(stream.substr(offset, chunk));
    offset += chunk;
    // A partial record within the limit (plus a 5-byte length prefix) and one chunk.
    Check(reader.buffered_bytes() <= limit + 5 + chunk, "reader buffers more than the limit plus a chunk");
    while (true) {
      std::string_view record;
      const auto result = reader.Next(record);
      if (result == sr::RecordReader::Result::kRecord) {
        Check(record.size() <= limit, "record over the limit returned");
        if (++records == switch_after) reader.SetFraming(sr::Framing::kLengthPrefixed);
        continue;
      }
      if (result == sr::RecordReader::Result::kNeedMore) break;
      return 0;  // kTooLarge or kMalformed: the connection is closed
    }
  }
  return 0;
}
