// The MessagePack hub protocol and its codec: values of every MessagePack type, the records the
// JS client `@microsoft/signalr-protocol-msgpack` sends, malformed input, and the server's records.
#include <gtest/gtest.h>

#include <string>

#include "transports/signalr/hub_binder.hpp"
#include "transports/signalr/hub_protocol.hpp"
#include "transports/signalr/msgpack_codec.hpp"

namespace opstream::transports::signalr {
namespace {

namespace mp = msgpack;

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

HubValue ReadOne(const std::string& bytes) {
  mp::Reader reader(bytes);
  HubValue value;
  EXPECT_TRUE(reader.ReadValue(value));
  EXPECT_TRUE(reader.AtEnd());
  return value;
}

TEST(MsgPackCodec, IntegersRoundTripInEveryWidth) {
  for (int64_t v : {int64_t{0},      int64_t{127},    int64_t{128},        int64_t{255},           int64_t{256},
                    int64_t{65535},  int64_t{65536},  int64_t{4294967295}, int64_t{4294967296},    INT64_MAX,
                    int64_t{-1},     int64_t{-32},    int64_t{-33},        int64_t{-128},          int64_t{-129},
                    int64_t{-32768}, int64_t{-32769}, int64_t{INT32_MIN},  int64_t{INT32_MIN} - 1, INT64_MIN}) {
    std::string bytes;
    mp::AppendInt(bytes, v);
    const auto value = ReadOne(bytes);
    EXPECT_EQ(value.kind, HubValue::Kind::kInteger) << v;
    EXPECT_EQ(value.integer, v);
    EXPECT_EQ(value.json, std::to_string(v));
  }
  EXPECT_EQ(ReadOne(Bytes({0xCF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})).kind, HubValue::Kind::kNumber);
}

TEST(MsgPackCodec, ValuesBecomeJsonText) {
  std::string bytes;
  mp::AppendMapHeader(bytes, 4);
  mp::AppendString(bytes, "name");
  mp::AppendString(bytes, "Al\"ice");
  mp::AppendString(bytes, "list");
  mp::AppendArrayHeader(bytes, 3);
  mp::AppendNil(bytes);
  mp::AppendBool(bytes, true);
  mp::AppendDouble(bytes, 1.5);
  mp::AppendString(bytes, "bin");
  mp::AppendBinary(bytes, "xyz");
  mp::AppendInt(bytes, 7);  // a non-string key
  mp::AppendInt(bytes, -7);
  const auto value = ReadOne(bytes);
  EXPECT_EQ(value.kind, HubValue::Kind::kObject);
  EXPECT_EQ(value.json, R"({"name":"Al\u0022ice","list":[null,true,1.5],"bin":"eHl6","7":-7})");
}

TEST(MsgPackCodec, JsonConvertsToMessagePackAndBack) {
  const std::string json = R"({"a":[1,-2,3.25,"x",null,false,{"b":{}}],"c":"\u00e9"})";
  std::string bytes;
  ASSERT_TRUE(mp::AppendJson(bytes, json));
  EXPECT_EQ(ReadOne(bytes).json, R"({"a":[1,-2,3.25,"x",null,false,{"b":{}}],"c":"\u00E9"})");
  EXPECT_FALSE(mp::AppendJson(bytes, "{bad"));
}

TEST(MsgPackCodec, LongStringsAndBinariesUseWiderHeaders) {
  for (size_t n : {31u, 32u, 255u, 256u, 65535u, 65536u}) {
    std::string bytes;
    mp::AppendString(bytes, std::string(n, 'a'));
    EXPECT_EQ(ReadOne(bytes).text.size(), n);
    bytes.clear();
    mp::AppendBinary(bytes, std::string(n, 'b'));
    const auto value = ReadOne(bytes);
    EXPECT_EQ(value.kind, HubValue::Kind::kBinary);
    EXPECT_EQ(value.text.size(), n);
  }
}

TEST(MsgPackCodec, RejectsTruncatedExtAndTooDeepInput) {
  HubValue value;
  for (const auto& bad :
       {Bytes({}), Bytes({0xA5, 'a'}), Bytes({0xC4, 0x05, 1, 2}), Bytes({0x92, 0x01}), Bytes({0xD4, 0x01, 0x00}),
        Bytes({0xC1}), Bytes({0xDD, 0xFF, 0xFF, 0xFF, 0xFF}), Bytes({0xCB, 0x00})}) {
    mp::Reader reader(bad);
    EXPECT_FALSE(reader.ReadValue(value));
  }
  std::string deep(mp::kMaxDepth + 2, static_cast<char>(0x91));
  deep.push_back(0x00);
  mp::Reader reader(deep);
  EXPECT_FALSE(reader.ReadValue(value));
}

// [1, {}, "0", "JoinDocument", ["doc-1", "text", 1]] as the JS client writes it.
std::string JsInvocation() {
  std::string body;
  mp::AppendArrayHeader(body, 5);
  mp::AppendInt(body, 1);
  mp::AppendMapHeader(body, 0);
  mp::AppendString(body, "0");
  mp::AppendString(body, "JoinDocument");
  mp::AppendArrayHeader(body, 3);
  mp::AppendString(body, "doc-1");
  mp::AppendString(body, "text");
  mp::AppendInt(body, 1);
  return body;
}

TEST(MessagePackHubProtocol, ParsesInvocationsAndBindsArguments) {
  const auto& p = MessagePackHubProtocol();
  EXPECT_EQ(FindHubProtocol("messagepack"), &p);
  EXPECT_FALSE(p.is_text());
  HubMessage m;
  ASSERT_TRUE(p.Parse(JsInvocation(), m).ok());
  EXPECT_EQ(m.type, 1);
  EXPECT_EQ(*m.invocation_id, "0");
  EXPECT_EQ(m.target, "JoinDocument");
  std::vector<BoundArgument> args;
  ASSERT_TRUE(BindArguments({ParamKind::kString, ParamKind::kString, ParamKind::kInt32}, m.arguments, args));
  EXPECT_EQ(args[0].text, "doc-1");

  std::string op;
  mp::AppendArrayHeader(op, 5);
  mp::AppendInt(op, 1);
  mp::AppendMapHeader(op, 0);
  mp::AppendNil(op);  // fire-and-forget
  mp::AppendString(op, "SendOp");
  mp::AppendArrayHeader(op, 3);
  mp::AppendString(op, "d");
  mp::AppendBinary(op, "{\"components\":[]}");
  mp::AppendInt(op, 4);
  HubMessage send;
  ASSERT_TRUE(p.Parse(op, send).ok());
  EXPECT_FALSE(send.invocation_id);
  ASSERT_TRUE(BindArguments({ParamKind::kString, ParamKind::kBytes, ParamKind::kInt64}, send.arguments, args));
  EXPECT_EQ(args[1].text, "{\"components\":[]}");
  EXPECT_EQ(args[2].integer, 4);
}

TEST(MessagePackHubProtocol, ParsesPingCloseAndRejectsMalformedMessages) {
  const auto& p = MessagePackHubProtocol();
  HubMessage m;
  ASSERT_TRUE(p.Parse(Bytes({0x91, 0x06}), m).ok());
  EXPECT_EQ(m.type, 6);
  HubMessage close;
  ASSERT_TRUE(p.Parse(Bytes({0x93, 0x07, 0xA2, 'n', 'o', 0xC3}), close).ok());
  EXPECT_EQ(*close.error, "no");
  EXPECT_TRUE(close.allow_reconnect);
  for (const auto& bad : {Bytes({}), Bytes({0x90}), Bytes({0x06}), Bytes({0x91, 0xA1, 'x'}), Bytes({0x92, 0x01, 0x80}),
                          JsInvocation().substr(0, 10), Bytes({0x93, 0x05, 0x80, 0xC0}),
                          // an argument count of 2^32-1 in an 11-byte record
                          Bytes({0x95, 0x01, 0x80, 0xC0, 0xA1, 'X', 0xDD, 0xFF, 0xFF, 0xFF, 0xFF})}) {
    HubMessage message;
    EXPECT_FALSE(p.Parse(bad, message).ok());
  }
}

TEST(MessagePackHubProtocol, WritesLengthPrefixedRecords) {
  const auto& p = MessagePackHubProtocol();
  std::string out;
  p.WritePing(out);
  EXPECT_EQ(out, Bytes({0x02, 0x91, 0x06}));
  out.clear();
  p.WriteCompletionNull("7", out);
  EXPECT_EQ(out, Bytes({0x06, 0x94, 0x03, 0x80, 0xA1, '7', 0x02}));
  out.clear();
  p.WriteClose(std::nullopt, true, out);
  EXPECT_EQ(out, Bytes({0x04, 0x93, 0x07, 0xC0, 0xC3}));
  out.clear();
  auto event = std::make_shared<session::OpEvent>();
  event->payload = R"({"components":[]})";
  event->revision = 300;
  p.WriteOpEvent(*event, out);
  // [1, {}, nil, "ReceiveOp", [bin payload, 300]]
  std::string body = Bytes({0x95, 0x01, 0x80, 0xC0, 0xA9});
  body += "ReceiveOp";
  body += Bytes({0x92, 0xC4, 17});
  body += event->payload;
  body += Bytes({0xCD, 0x01, 0x2C});
  EXPECT_EQ(out, std::string(1, static_cast<char>(body.size())) + body);

  // The join result reads back as a map with a binary snapshot.
  out.clear();
  p.WriteJoinResult("1", session::JoinResponse{std::string("1"), "d", 3, "{\"content\":\"\"}", {}}, out);
  RecordReader reader(1024);
  reader.SetFraming(Framing::kLengthPrefixed);
  reader.Append(out);
  std::string_view record;
  ASSERT_EQ(reader.Next(record), RecordReader::Result::kRecord);
  mp::Reader values(record);
  uint32_t count;
  ASSERT_TRUE(values.ReadArrayHeader(count));
  EXPECT_EQ(count, 5u);
  HubValue type, headers, id, kind, result;
  ASSERT_TRUE(values.ReadValue(type) && values.ReadValue(headers) && values.ReadValue(id) && values.ReadValue(kind) &&
              values.ReadValue(result));
  EXPECT_EQ(kind.integer, 3);
  EXPECT_EQ(result.json, R"({"revision":3,"snapshot":"eyJjb250ZW50IjoiIn0=","pendingOps":[],"currentAwareness":[]})");
}

}  // namespace
}  // namespace opstream::transports::signalr
