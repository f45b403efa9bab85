#pragma once
// Limits and timings of the SignalR transport. The values are ASP.NET Core's defaults
// (wire-protocol §3.5) except the record limit (OP-18).
#include <chrono>
#include <cstddef>

#include "net/flush_pacer.hpp"

namespace boost::asio {
class io_context;
}

namespace opstream::transports::signalr {

struct SignalROptions {
  // OP-18: the reference's 32 KiB cuts ops above ~24 KiB; 2 MiB admits a 1 MiB op in base64
  // (1,398,104 bytes) with its envelope, so the 1 MiB validator answers instead of a Close.
  size_t max_record_bytes = 2 * 1024 * 1024;
  // A client that does not read its stream is dropped beyond this much queued output (SV-46).
  size_t max_queued_bytes = 16 * 1024 * 1024;
  // Output handed to the transport in one write (one WebSocket frame, SSE event or poll body).
  size_t max_batch_bytes = 1024 * 1024;
  // Ping after this much silence toward the client; clients drop the server after 30 s.
  std::chrono::milliseconds keep_alive_interval{std::chrono::seconds(15)};
  // A client silent this long (not even a Ping) is gone.
  std::chrono::milliseconds client_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(15)};
  // A negotiated connection no transport attached to within this time is discarded.
  std::chrono::milliseconds negotiate_timeout{std::chrono::seconds(15)};
  // A poll waits this long for data; must stay below the JS client's 100 s abort.
  std::chrono::milliseconds long_poll_timeout{std::chrono::seconds(90)};
  // A long-polling client that has no poll pending for this long is gone.
  std::chrono::milliseconds long_poll_disconnect{std::chrono::seconds(15)};
  // Where WebSocket frames are written (net::websocket::ChannelOptions::write_context); null: the
  // socket's own executor.
  boost::asio::io_context* write_context = nullptr;
  // net::websocket::ChannelOptions::flush_pacer; null: no pacing.
  net::FlushPacer* flush_pacer = nullptr;
  net::FlushPacer* fanout_pacer = nullptr;  // ChannelOptions::fanout_pacer
};

}  // namespace opstream::transports::signalr
