// The JSON hub protocol (wire-protocol §3.2–§3.4, §8.1): handshake, hub message parsing with
// malformed input, and the exact bytes of every record the server writes.
#include <gtest/gtest.h>

#include "common/base64.hpp"
#include "transports/signalr/hub_binder.hpp"
#include "transports/signalr/hub_protocol.hpp"

namespace opstream::transports::signalr {
namespace {

const HubProtocol& P() { return JsonHubProtocol(); }

HubMessage ParseOk(std::string_view record) {
  HubMessage message;
  auto status = P().Parse(record, message);
  EXPECT_TRUE(status.ok()) << status.message() << " for " << record;
  return message;
}

std::string ParseError(std::string_view record) {
  HubMessage message;
  auto status = P().Parse(record, message);
  EXPECT_FALSE(status.ok()) << record;
  return status.message();
}

TEST(SignalRHandshake, ParsesJsonRequest) {
  HandshakeRequest request;
  ASSERT_TRUE(ParseHandshake(R"({"protocol":"json","version":1})", request).ok());
  EXPECT_EQ(request.protocol, "json");
  EXPECT_EQ(request.version, 1);
  ASSERT_TRUE(ParseHandshake(R"({"version":1,"protocol":"messagepack"})", request).ok());
  EXPECT_EQ(request.protocol, "messagepack");
}

TEST(SignalRHandshake, RejectsMalformedRequests) {
  HandshakeRequest request;
  EXPECT_FALSE(ParseHandshake("", request).ok());
  EXPECT_FALSE(ParseHandshake("garbage", request).ok());
  EXPECT_FALSE(ParseHandshake("[]", request).ok());
  EXPECT_FALSE(ParseHandshake(R"({"version":1})", request).ok());
  EXPECT_FALSE(ParseHandshake(R"({"protocol":"json"})", request).ok());
  EXPECT_FALSE(ParseHandshake(R"({"protocol":1,"version":1})", request).ok());
  EXPECT_FALSE(ParseHandshake(R"({"protocol":"json","version":"1"})", request).ok());
}

TEST(SignalRHandshake, WritesResponses) {
  std::string out;
  WriteHandshakeResponse(std::nullopt, out);
  EXPECT_EQ(out, "{}\x1e");
  out.clear();
  WriteHandshakeResponse(std::string("The protocol 'x' is not supported."), out);
  EXPECT_EQ(out, "{\"error\":\"The protocol \\u0027x\\u0027 is not supported.\"}\x1e");
  EXPECT_EQ(FindHubProtocol("json"), &JsonHubProtocol());
  EXPECT_EQ(FindHubProtocol("JSON"), nullptr);
}

TEST(JsonHubProtocol, ParsesJsClientInvocationWithArgumentsFirst) {
  auto m = ParseOk(R"({"arguments":["doc-1","text",1],"invocationId":"0","target":"JoinDocument","type":1})");
  EXPECT_EQ(m.type, 1);
  ASSERT_TRUE(m.invocation_id);
  EXPECT_EQ(*m.invocation_id, "0");
  EXPECT_EQ(m.target, "JoinDocument");
  ASSERT_EQ(m.arguments.size(), 3u);
  EXPECT_EQ(m.arguments[0].kind, HubValue::Kind::kString);
  EXPECT_EQ(m.arguments[0].text, "doc-1");
  EXPECT_EQ(m.arguments[2].kind, HubValue::Kind::kInteger);
  EXPECT_EQ(m.arguments[2].integer, 1);
}

TEST(JsonHubProtocol, KeepsRawJsonOfArgumentsAndIgnoresUnknownProperties) {
  auto m = ParseOk(
      R"({"type":1,"headers":{"a":"b"},"x":[1,2],"target":"UpdateAwareness","arguments":["d",{"name":"A\u00e9","n":[1,2.5e3]},null,true,1.5,"\u0041"]})");
  EXPECT_FALSE(m.invocation_id);
  ASSERT_EQ(m.arguments.size(), 6u);
  EXPECT_EQ(m.arguments[1].kind, HubValue::Kind::kObject);
  EXPECT_EQ(m.arguments[1].json, R"({"name":"A\u00e9","n":[1,2.5e3]})");
  EXPECT_EQ(m.arguments[2].kind, HubValue::Kind::kNull);
  EXPECT_EQ(m.arguments[3].kind, HubValue::Kind::kBool);
  EXPECT_TRUE(m.arguments[3].boolean);
  EXPECT_EQ(m.arguments[4].kind, HubValue::Kind::kNumber);
  EXPECT_EQ(m.arguments[5].text, "A");
}

TEST(JsonHubProtocol, ParsesPingCloseCancelAndUnknownTypes) {
  EXPECT_EQ(ParseOk(R"({"type":6})").type, 6);
  auto close = ParseOk(R"({"type":7,"error":"bye","allowReconnect":true})");
  EXPECT_EQ(close.type, 7);
  EXPECT_EQ(*close.error, "bye");
  EXPECT_TRUE(close.allow_reconnect);
  EXPECT_EQ(ParseOk(R"({"type":5,"invocationId":"3"})").type, 5);
  EXPECT_EQ(ParseOk(R"({"type":42,"whatever":{}})").type, 42);
}

TEST(JsonHubProtocol, RejectsMalformedRecords) {
  ParseError("");
  ParseError("garbage");
  ParseError("{\"type\":1");
  ParseError("[1]");
  ParseError("\"type\"");
  ParseError(R"({"target":"X","arguments":[]})");
  EXPECT_EQ(ParseError(R"({"type":"1","target":"X","arguments":[]})"), "Expected 'type' to be of type Number.");
  ParseError(R"({"type":1.5})");
  ParseError(R"({"type":1,"arguments":[]})");
  ParseError(R"({"type":1,"target":5,"arguments":[]})");
  ParseError(R"({"type":1,"target":"X","arguments":{}})");
  ParseError(R"({"type":1,"target":"X","invocationId":7,"arguments":[]})");
  ParseError(R"({"type":5})");
  ParseError("{\"type\":1,\"target\":\"X\",\"arguments\":[\"\xff\"]}");  // invalid UTF-8
}

TEST(JsonHubProtocol, WritesConformanceExampleRecords) {
  std::string out;
  session::JoinResponse join{std::string("0"), "doc-1", 1, R"({"content":""})", {}};
  P().WriteJoinResult("0", join, out);
  EXPECT_EQ(
      out,
      R"({"type":3,"invocationId":"0","result":{"revision":1,"snapshot":"eyJjb250ZW50IjoiIn0=","pendingOps":[],"currentAwareness":[]}})"
      "\x1e");
  out.clear();
  P().WriteOpResult("1", session::OpResponse{std::string("1"), true, 2, std::nullopt}, out);
  EXPECT_EQ(
      out,
      "{\"type\":3,\"invocationId\":\"1\",\"result\":{\"success\":true,\"newRevision\":2,\"errorMessage\":null}}\x1e");
  out.clear();
  P().WriteOpResult("3", session::OpResponse{std::string("3"), false, 2, std::string("Nope.")}, out);
  EXPECT_EQ(out,
            "{\"type\":3,\"invocationId\":\"3\",\"result\":{\"success\":false,\"newRevision\":2,\"errorMessage\":"
            "\"Nope.\"}}\x1e");
  out.clear();
  session::OpEvent op;
  op.revision = 2;
  op.payload = R"({"components":[{"type":"insert","text":"Hello"}]})";
  P().WriteOpEvent(op, out);
  EXPECT_EQ(
      out,
      R"({"type":1,"target":"ReceiveOp","arguments":["eyJjb21wb25lbnRzIjpbeyJ0eXBlIjoiaW5zZXJ0IiwidGV4dCI6IkhlbGxvIn1dfQ==",2]})"
      "\x1e");
  out.clear();
  session::PeerLeftEvent left;
  left.peer_id = "a1B2c3D4e5F6g7H8i9J0kQ";
  P().WritePeerLeftEvent(left, out);
  EXPECT_EQ(out, "{\"type\":1,\"target\":\"PeerDisconnected\",\"arguments\":[\"a1B2c3D4e5F6g7H8i9J0kQ\"]}\x1e");
  out.clear();
  P().WriteCompletionNull("2", out);
  EXPECT_EQ(out, "{\"type\":3,\"invocationId\":\"2\",\"result\":null}\x1e");
  out.clear();
  P().WriteCompletionError("4", "Failed to invoke 'X' due to an error on the server.", out);
  EXPECT_EQ(out,
            "{\"type\":3,\"invocationId\":\"4\",\"error\":\"Failed to invoke \\u0027X\\u0027 due to an error on the "
            "server.\"}\x1e");
  out.clear();
  P().WritePing(out);
  EXPECT_EQ(out, "{\"type\":6}\x1e");
  out.clear();
  P().WriteClose(std::nullopt, true, out);
  EXPECT_EQ(out, "{\"type\":7,\"allowReconnect\":true}\x1e");
  out.clear();
  P().WriteClose(std::string("Connection closed with an error."), false, out);
  EXPECT_EQ(out, "{\"type\":7,\"error\":\"Connection closed with an error.\"}\x1e");
}

TEST(JsonHubProtocol, WritesAwarenessStateObject) {
  session::AwarenessEvent event;
  event.state.peer_id = "p";
  event.state.data_json = R"({"name":"Alice","cursor":5})";
  std::string out;
  P().WriteAwarenessEvent(event, out);
  EXPECT_EQ(
      out.rfind(
          R"({"type":1,"target":"ReceiveAwarenessUpdate","arguments":[{"peerId":"p","data":{"name":"Alice","cursor":5},"lastUpdated":")",
          0),
      0u)
      << out;
  ASSERT_GE(out.size(), 11u);
  EXPECT_EQ(out.substr(out.size() - 11), "+00:00\"}]}\x1e");
}

TEST(HubBinder, BindsDeclaredParameterKinds) {
  auto m =
      ParseOk(R"({"type":1,"target":"SendOp","arguments":["d",")" + Base64Encode("xyz") + R"(",9007199254740993]})");
  std::vector<BoundArgument> args;
  ASSERT_TRUE(BindArguments({ParamKind::kString, ParamKind::kBytes, ParamKind::kInt64}, m.arguments, args));
  EXPECT_EQ(args[0].text, "d");
  EXPECT_EQ(args[1].text, "xyz");
  EXPECT_EQ(args[2].integer, 9007199254740993);
}

TEST(HubBinder, RefusesWrongCountsAndTypes) {
  std::vector<BoundArgument> args;
  auto bind = [&](std::string_view arguments, std::initializer_list<ParamKind> params) {
    auto m = ParseOk(std::string(R"({"type":1,"target":"M","arguments":)") + std::string(arguments) + "}");
    return BindArguments(params, m.arguments, args);
  };
  const auto join = {ParamKind::kString, ParamKind::kString, ParamKind::kInt32};
  EXPECT_TRUE(bind(R"(["d","text",1])", join));
  EXPECT_FALSE(bind(R"(["d","text"])", join));
  EXPECT_FALSE(bind(R"(["d","text",1,2])", join));
  EXPECT_FALSE(bind(R"(["d","text","1"])", join));         // numeric strings do not bind to int
  EXPECT_FALSE(bind(R"(["d","text",1.0])", join));         // nor non-integer literals
  EXPECT_FALSE(bind(R"(["d","text",2147483648])", join));  // out of int32
  EXPECT_FALSE(bind(R"(["d","text",null])", join));
  EXPECT_FALSE(bind(R"([1,"text",1])", join));
  EXPECT_TRUE(bind(R"([null,"text",1])", join));  // null strings bind (validation rejects them later)
  EXPECT_TRUE(args[0].is_null);
  const auto op = {ParamKind::kString, ParamKind::kBytes, ParamKind::kInt64};
  EXPECT_FALSE(bind(R"(["d","not base64!",1])", op));
  EXPECT_FALSE(bind(R"(["d",[1,2,3],1])", op));  // byte[] takes base64 only
  EXPECT_FALSE(bind(R"(["d",{},1])", op));
  EXPECT_TRUE(bind(R"(["d",null,1])", op));
  EXPECT_TRUE(bind(R"(["d",{"a":[1]}])", {ParamKind::kString, ParamKind::kJson}));
  EXPECT_EQ(args[1].text, R"({"a":[1]})");
  EXPECT_TRUE(bind(R"([null,5])", {ParamKind::kNullableInt32, ParamKind::kNullableInt32}));
  EXPECT_TRUE(args[0].is_null);
  EXPECT_EQ(args[1].integer, 5);
  EXPECT_FALSE(bind(R"(["d","x"])", {ParamKind::kString, ParamKind::kObject}));
}

}  // namespace
}  // namespace opstream::transports::signalr
