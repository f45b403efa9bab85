// Writes the seed corpora of the fuzz targets: engine ops and snapshots from the shared engine
// vectors, and hand-built transport messages (WebSocket frames, envelopes, SignalR records).
//   opstream_fuzz_seeds ENGINE_VECTORS_JSON OUTPUT_DIR   → OUTPUT_DIR/<target>/<name>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/base64.hpp"
#include "transports/signalr/msgpack_codec.hpp"
#include "transports/signalr/record_reader.hpp"

namespace fs = std::filesystem;
namespace mp = opstream::transports::signalr::msgpack;

namespace {

fs::path g_out;

void Write(const std::string& target, const std::string& name, std::string_view bytes) {
  const auto dir = g_out / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string Mode(char mode, std::string_view rest) { return std::string(1, mode) + std::string(rest); }

// A client frame: masked, as RFC 6455 requires from clients.
std::string ClientFrame(uint8_t first_byte, std::string_view payload, uint32_t mask = 0x12345678) {
  std::string frame(1, static_cast<char>(first_byte));
  if (payload.size() < 126) {
    frame.push_back(static_cast<char>(0x80 | payload.size()));
  } else if (payload.size() < 65536) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(payload.size() >> 8));
    frame.push_back(static_cast<char>(payload.size() & 0xFF));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8) frame.push_back(static_cast<char>((payload.size() >> shift) & 0xFF));
  }
  const char key[4] = {static_cast<char>(mask >> 24), static_cast<char>(mask >> 16), static_cast<char>(mask >> 8),
                       static_cast<char>(mask)};
  frame.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i) frame.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  return frame;
}

std::string OpEnvelope(std::string_view op_json) {
  return R"({"messageType":2,"correlationId":"c2","opRequest":{"documentId":"doc-1","payload":")" +
         opstream::Base64Encode(op_json) + R"(","baseRevision":3}})";
}

// One MessagePack invocation record (without its length prefix).
std::string PackInvocation(std::string_view target, const std::vector<std::string>& json_arguments) {
  std::string out;
  mp::AppendArrayHeader(out, 5);
  mp::AppendInt(out, 1);
  mp::AppendMapHeader(out, 0);
  mp::AppendString(out, "7");
  mp::AppendString(out, target);
  mp::AppendArrayHeader(out, static_cast<uint32_t>(json_arguments.size()));
  for (const auto& argument : json_arguments) {
    if (!mp::AppendJson(out, argument)) std::fprintf(stderr, "seeds: bad JSON %s\n", argument.c_str());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ENGINE_VECTORS_JSON OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  g_out = argv[2];
  std::ifstream in(argv[1], std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  boost::system::error_code ec;
  const auto vectors = boost::json::parse(text, ec);
  if (ec || !vectors.is_object() || !vectors.as_object().contains("cases")) {
    std::fprintf(stderr, "seeds: cannot read %s\n", argv[1]);
    return 1;
  }

  // ---- engines: mode byte 0 = op, 1 = snapshot, 2 = snapshot \0 op (see engine_fuzz.cpp) ----
  const std::map<std::string, std::string> engines = {{"text", "engine_text"},   {"rich-text", "engine_rich_text"},
                                                      {"json", "engine_json"},   {"form", "engine_form"},
                                                      {"table", "engine_table"}, {"tree", "engine_tree"}};
  std::vector<std::string> sample_ops;  // for the transport seeds
  size_t written = 0;
  for (const auto& item : vectors.as_object().at("cases").as_array()) {
    const auto& c = item.as_object();
    const auto engine = engines.find(std::string(c.at("engine").as_string()));
    if (engine == engines.end()) continue;
    const std::string id(c.at("id").as_string());
    const auto& target = engine->second;
    std::vector<std::string> ops;
    for (const char* field : {"op", "a", "b", "left", "right"}) {
      if (const auto* op = c.if_contains(field); op != nullptr && op->is_object()) {
        ops.push_back(boost::json::serialize(*op));
        Write(target, id + "-" + field, Mode('\0', ops.back()));
        ++written;
      }
    }
    if (const auto* list = c.if_contains("ops"); list != nullptr && list->is_array()) {
      int k = 0;
      for (const auto& op : list->as_array()) {
        ops.push_back(boost::json::serialize(op));
        Write(target, id + "-ops" + std::to_string(k++), Mode('\0', ops.back()));
        ++written;
      }
    }
    for (const char* field : {"doc", "expected"}) {
      const auto* state = c.if_contains(field);
      if (state == nullptr || !state->is_object() || state->as_object().contains("rejected")) continue;
      const auto snapshot = boost::json::serialize(*state);
      Write(target, id + "-" + field, Mode('\1', snapshot));
      ++written;
      if (std::string_view(field) == "doc") {
        int k = 0;
        for (const auto& op : ops) {
          Write(target, id + "-apply" + std::to_string(k++), Mode('\2', snapshot + std::string(1, '\0') + op));
          ++written;
        }
      }
    }
    if (sample_ops.size() < 12 && !ops.empty()) sample_ops.push_back(ops.front());
  }
  if (written == 0) {
    std::fprintf(stderr, "seeds: no engine cases in %s\n", argv[1]);
    return 1;
  }
  const std::string awareness = R"({"cursor":{"index":3,"length":0},"user":"ann \u00e9","active":true,"n":-1.5e3})";

  // ---- raw WebSocket envelopes ----
  const std::string join =
      R"({"messageType":0,"correlationId":"c1","joinRequest":{"documentId":"doc-1","documentType":"text","clientProtoVersion":1}})";
  const std::string aware =
      R"({"messageType":"AwarenessRequest","awarenessRequest":{"documentId":"doc-1","dataJson":")" +
      std::string(R"({\"cursor\":5})") + R"("}})";
  Write("websocket_envelope", "join", join);
  Write(
      "websocket_envelope", "join-lenient",
      R"({"MESSAGETYPE":"joinrequest","JoinRequest":{"DocumentId":"d","documentType":"json","clientProtoVersion":2}})");
  Write("websocket_envelope", "awareness", aware);
  Write("websocket_envelope", "comment", R"({"messageType":9,"correlationId":null})");
  Write("websocket_envelope", "null", "null");
  Write("websocket_envelope", "bad-base64",
        R"({"messageType":2,"opRequest":{"documentId":"d","payload":"@@","baseRevision":1}})");
  for (size_t i = 0; i < sample_ops.size(); ++i)
    Write("websocket_envelope", "op" + std::to_string(i), OpEnvelope(sample_ops[i]));

  // ---- WebSocket frames: byte 0 = size limit selector, byte 1 = read size seed ----
  const std::string header("\x06\x2b", 2);  // 1 KiB limit
  Write("websocket_frame", "text", header + ClientFrame(0x81, join));
  Write(
      "websocket_frame", "fragmented",
      header + ClientFrame(0x01, join.substr(0, 20)) + ClientFrame(0x89, "ping") + ClientFrame(0x80, join.substr(20)));
  Write("websocket_frame", "binary-126", header + ClientFrame(0x82, std::string(300, 'x')));
  Write("websocket_frame", "too-big",
        std::string("\x00\x05", 2) + ClientFrame(0x81, std::string(200, 'y')) +
            ClientFrame(0x88, std::string("\x03\xe8"
                                          "bye",
                                          5)));
  Write("websocket_frame", "close", header + ClientFrame(0x8A, "pong") + ClientFrame(0x88, std::string("\x03\xe9", 2)));
  Write("websocket_frame", "unmasked", header + std::string("\x81\x02hi", 4));
  Write("websocket_frame", "len-127",
        std::string("\x0b\x07", 2) + ClientFrame(0x81, std::string(70000, 'z')).substr(0, 40));
  for (size_t i = 0; i < sample_ops.size() && i < 4; ++i) {
    Write("websocket_frame", "op" + std::to_string(i), header + ClientFrame(0x81, OpEnvelope(sample_ops[i])));
  }

  // ---- SignalR: handshakes and hub messages ----
  const std::string json_handshake = R"({"protocol":"json","version":1})";
  const std::string mp_handshake = R"({"protocol":"messagepack","version":1})";
  std::vector<std::string> json_records = {
      json_handshake,
      mp_handshake,
      R"({"type":1,"invocationId":"1","target":"JoinDocument","arguments":["doc-1","text",1]})",
      R"({"arguments":["doc-1",)" + awareness + R"(],"target":"UpdateAwareness","type":1})",
      R"({"type":6})",
      R"({"type":5,"invocationId":"1"})",
      R"({"type":7,"error":"bye","allowReconnect":true})",
      R"({"type":4,"invocationId":"2","target":"S\u0065ndOp","arguments":[],"headers":{"a":"b"}})",
  };
  for (size_t i = 0; i < sample_ops.size() && i < 6; ++i) {
    json_records.push_back(R"({"type":1,"invocationId":"9","target":"SendOp","arguments":["doc-1",")" +
                           opstream::Base64Encode(sample_ops[i]) + R"(",4]})");
  }
  std::string json_stream;
  for (size_t i = 0; i < json_records.size(); ++i) {
    Write("signalr_json_hub", "record" + std::to_string(i), json_records[i]);
    if (i != 1) json_stream += json_records[i] + opstream::transports::signalr::kRecordSeparator;
  }

  std::vector<std::string> mp_records = {
      PackInvocation("JoinDocument", {R"("doc-1")", R"("text")", "1"}),
      PackInvocation("UpdateAwareness", {R"("doc-1")", awareness}),
      PackInvocation("CreateComment", {R"("doc-1")", "null", R"([1,2.5,{"k":[true,false]}])"}),
  };
  {
    std::string ping;
    mp::AppendArrayHeader(ping, 1);
    mp::AppendInt(ping, 6);
    mp_records.push_back(ping);
    std::string close;
    mp::AppendArrayHeader(close, 3);
    mp::AppendInt(close, 7);
    mp::AppendString(close, "bye");
    mp::AppendBool(close, true);
    mp_records.push_back(close);
    std::string send;
    mp::AppendArrayHeader(send, 5);
    mp::AppendInt(send, 1);
    mp::AppendMapHeader(send, 0);
    mp::AppendNil(send);
    mp::AppendString(send, "SendOp");
    mp::AppendArrayHeader(send, 3);
    mp::AppendString(send, "doc-1");
    mp::AppendBinary(send, sample_ops.empty() ? "{}" : sample_ops.front());
    mp::AppendInt(send, 1LL << 40);
    mp_records.push_back(send);
  }
  std::string mp_stream = mp_handshake + opstream::transports::signalr::kRecordSeparator;
  for (size_t i = 0; i < mp_records.size(); ++i) {
    Write("signalr_msgpack_hub", "record" + std::to_string(i), Mode('\0', mp_records[i]));
    opstream::transports::signalr::AppendLengthPrefix(mp_records[i].size(), mp_stream);
    mp_stream += mp_records[i];
  }
  const std::vector<std::string> values = {awareness, R"([1,-2,3.25,"x",null,true,{}])", "18446744073709551615",
                                           R"("\ud83d\ude00 \u0000")", "-9223372036854775808"};
  for (size_t i = 0; i < values.size(); ++i) {
    std::string packed;
    if (mp::AppendJson(packed, values[i]))
      Write("signalr_msgpack_hub", "value" + std::to_string(i), Mode('\1', packed));
  }
  for (size_t i = 0; i < sample_ops.size() && i < 6; ++i) {
    std::string packed;
    if (mp::AppendJson(packed, sample_ops[i]))
      Write("signalr_msgpack_hub", "op" + std::to_string(i), Mode('\1', packed));
  }

  // ---- SignalR record streams: byte 0 = limit and framing switch, byte 1 = chunk seed ----
  Write("signalr_records", "json", std::string("\x39\x11", 2) + json_stream);         // 4 KiB, never switch
  Write("signalr_records", "messagepack", std::string("\x19\x23", 2) + mp_stream);    // switch after the handshake
  Write("signalr_records", "small-limit", std::string("\x32\x05", 2) + json_stream);  // 32 B: too large
  std::printf("seeds: %zu engine seeds written to %s\n", written, argv[2]);
  return 0;
}
