// The raw WebSocket envelope codec (wire-protocol §4.3) with the OP-19 input rules.
#include "transports/websocket/envelope.hpp"

#include <gtest/gtest.h>

#include "common/base64.hpp"

namespace opstream::transports::websocket {
namespace {

using Kind = InboundMessage::Kind;

TEST(EnvelopeDecode, JoinOpAndAwarenessRequests) {
  auto join = DecodeInbound(
      R"({"correlationId":"c1","messageType":0,"joinRequest":{"documentId":"doc-1","documentType":"text","clientProtoVersion":1}})");
  ASSERT_EQ(join.kind, Kind::kJoin);
  EXPECT_EQ(*join.correlation, "c1");
  EXPECT_EQ(join.document_id, "doc-1");
  EXPECT_EQ(join.document_type, "text");
  EXPECT_EQ(join.protocol_version, 1);

  auto op = DecodeInbound(R"({"correlationId":"c2","messageType":2,"opRequest":{"documentId":"d","payload":")" +
                          Base64Encode(R"({"components":[]})") + R"(","baseRevision":7}})");
  ASSERT_EQ(op.kind, Kind::kOp);
  EXPECT_EQ(op.payload, R"({"components":[]})");
  EXPECT_EQ(op.base_revision, 7);

  auto awareness = DecodeInbound(R"({"messageType":4,"awarenessRequest":{"documentId":"d","dataJson":"{\"a\":1}"}})");
  ASSERT_EQ(awareness.kind, Kind::kAwareness);
  EXPECT_FALSE(awareness.correlation.has_value());
  EXPECT_EQ(awareness.data_json, R"({"a":1})");
}

TEST(EnvelopeDecode, LenientNamesAndDefaults) {
  // Property names are case-insensitive, messageType may be a PascalCase name (OP-19).
  auto join = DecodeInbound(R"({"CorrelationId":"x","MessageType":"joinrequest","JoinRequest":{"DocumentId":"d"}})");
  ASSERT_EQ(join.kind, Kind::kJoin);
  EXPECT_EQ(join.document_id, "d");
  EXPECT_EQ(join.protocol_version, 0);  // missing → 0 → UnsupportedProtocol later
  // A missing messageType counts as a join.
  EXPECT_EQ(DecodeInbound(R"({"joinRequest":{"documentId":"d"}})").kind, Kind::kJoin);
}

TEST(EnvelopeDecode, IgnoredInputs) {
  EXPECT_EQ(DecodeInbound("null").kind, Kind::kIgnored);
  EXPECT_EQ(DecodeInbound(R"({"messageType":2,"opRequest":null})").kind, Kind::kIgnored);
  EXPECT_EQ(DecodeInbound(R"({"messageType":99})").kind, Kind::kIgnored);
  EXPECT_EQ(DecodeInbound(R"({"messageType":5})").kind, Kind::kIgnored);
  EXPECT_EQ(DecodeInbound(R"({"messageType":9,"commentCommand":{}})").kind, Kind::kComment);
}

TEST(EnvelopeDecode, MalformedInputIsAnsweredWithTheCorrelationIdWhenReadable) {
  auto not_json = DecodeInbound("{this is not json");
  EXPECT_EQ(not_json.kind, Kind::kInvalid);
  EXPECT_TRUE(not_json.error.starts_with("InvalidMessage: Malformed JSON")) << not_json.error;
  EXPECT_FALSE(not_json.correlation.has_value());

  auto bad_type = DecodeInbound(R"({"correlationId":"k","messageType":"Nope"})");
  EXPECT_EQ(bad_type.kind, Kind::kInvalid);
  EXPECT_EQ(*bad_type.correlation, "k");
  EXPECT_EQ(bad_type.error, "InvalidMessage: Unknown messageType 'Nope'.");

  auto bad_base64 =
      DecodeInbound(R"({"correlationId":"k","messageType":2,"opRequest":{"documentId":"d","payload":"@@"}})");
  EXPECT_EQ(bad_base64.kind, Kind::kInvalid);
  EXPECT_EQ(bad_base64.error, "InvalidMessage: 'payload' is not valid base64.");

  auto object_data = DecodeInbound(R"({"messageType":4,"awarenessRequest":{"documentId":"d","dataJson":{"a":1}}})");
  EXPECT_EQ(object_data.kind, Kind::kInvalid);
  EXPECT_EQ(object_data.error, "InvalidMessage: 'dataJson' must be a string containing JSON text.");

  EXPECT_EQ(DecodeInbound(R"({"messageType":2.5})").kind, Kind::kInvalid);
  EXPECT_EQ(DecodeInbound(R"([1,2])").kind, Kind::kInvalid);
  EXPECT_EQ(DecodeInbound(R"({"correlationId":5})").kind, Kind::kInvalid);
  EXPECT_EQ(DecodeInbound(R"({"messageType":0,"joinRequest":{"documentId":42}})").kind, Kind::kInvalid);
  std::string deep(100, '[');
  EXPECT_EQ(DecodeInbound(deep + std::string(100, ']')).kind, Kind::kInvalid);
}

TEST(EnvelopeDecode, BindsLikeSystemTextJson) {
  // Names ignore case; the last duplicate wins; string message types ignore case too.
  const auto op = DecodeInbound(
      R"({"MESSAGETYPE":"oprequest","OpRequest":{"documentid":"a","DocumentId":"b","PAYLOAD":"e30=","baserevision":3}})");
  ASSERT_EQ(op.kind, Kind::kOp) << op.error;
  EXPECT_EQ(op.document_id, "b");
  EXPECT_EQ(op.payload, "{}");
  EXPECT_EQ(op.base_revision, 3);
  // Null reads as absent.
  const auto join = DecodeInbound(
      R"({"correlationId":null,"messageType":null,"joinRequest":{"documentId":"d","documentType":null}})");
  ASSERT_EQ(join.kind, Kind::kJoin) << join.error;
  EXPECT_FALSE(join.correlation.has_value());
  EXPECT_EQ(join.document_type, "");
  // Integers: int32 for the message type and protocol version, int64 for revisions, no fractions.
  EXPECT_EQ(DecodeInbound(R"({"messageType":4294967296})").error, "InvalidMessage: 'messageType' must be an integer.");
  EXPECT_EQ(DecodeInbound(R"({"joinRequest":{"documentId":"d","clientProtoVersion":2147483648}})").error,
            "InvalidMessage: 'clientProtoVersion' must be an integer.");
  EXPECT_EQ(DecodeInbound(R"({"messageType":2,"opRequest":{"payload":"e30=","baseRevision":9223372036854775807}})")
                .base_revision,
            9223372036854775807);
  EXPECT_EQ(
      DecodeInbound(R"({"messageType":2,"opRequest":{"payload":"e30=","baseRevision":9223372036854775808}})").error,
      "InvalidMessage: 'baseRevision' must be an integer.");
  EXPECT_EQ(DecodeInbound(R"({"messageType":2,"opRequest":{"payload":"e30=","baseRevision":1e400}})").error,
            "InvalidMessage: 'baseRevision' must be an integer.");
  // The first invalid field, in the reference's order, is the one reported.
  EXPECT_EQ(DecodeInbound(R"({"messageType":2,"opRequest":{"payload":1,"baseRevision":"x"}})").error,
            "InvalidMessage: 'payload' must be a string.");
  EXPECT_EQ(DecodeInbound(R"({"messageType":2,"opRequest":[]})").error,
            "InvalidMessage: 'opRequest' must be an object.");
  // Malformed text keeps the wording clients have seen, and the request after it parses normally.
  EXPECT_EQ(DecodeInbound(R"({"messageType":)").error.rfind("InvalidMessage: Malformed JSON: ", 0), 0u);
  EXPECT_EQ(DecodeInbound("{\"documentId\":\"\xff\"}").kind, Kind::kInvalid);
  EXPECT_EQ(DecodeInbound(R"({"joinRequest":{"documentId":"after"}})").document_id, "after");
}

TEST(EnvelopeEncode, ResponsesAndEventsMatchTheReferenceShapes) {
  std::string out;
  EncodeOpResponse({std::string("c"), true, 2, std::nullopt}, out);
  EXPECT_EQ(
      out,
      R"({"correlationId":"c","messageType":3,"opResponse":{"success":true,"newRevision":2,"errorMessage":null}})");

  out.clear();
  EncodeErrorResponse({std::nullopt, "InvalidMessage: \"quoted\""}, out);
  EXPECT_EQ(out, R"({"correlationId":null,"messageType":8,"errorMessage":"InvalidMessage: \"quoted\""})");

  out.clear();
  session::OpEvent event;
  event.document_id = "doc-1";
  event.revision = 2;
  event.payload = R"({"components":[{"type":"insert","text":"Hello"}]})";
  EncodeOpEvent(event, out);
  EXPECT_EQ(
      out,
      R"({"correlationId":null,"messageType":5,"receiveOpEvent":{"payload":"eyJjb21wb25lbnRzIjpbeyJ0eXBlIjoiaW5zZXJ0IiwidGV4dCI6IkhlbGxvIn1dfQ==","newRevision":2,"documentId":"doc-1"}})");

  out.clear();
  session::JoinResponse join{std::string("j"), "doc-1", 1, R"({"content":""})", {}};
  EncodeJoinResponse(join, "peer", out);
  EXPECT_EQ(
      out,
      R"({"correlationId":"j","messageType":1,"joinResponse":{"revision":1,"snapshot":"eyJjb250ZW50IjoiIn0=","awareness":[],"peerId":"peer"}})");

  out.clear();
  session::AwarenessEvent awareness;
  awareness.document_id = "d";
  awareness.state = {"p", R"({"name":"Alice"})", Timestamp{}};
  EncodeAwarenessEvent(awareness, out);
  EXPECT_EQ(
      out,
      R"({"correlationId":null,"messageType":6,"receiveAwarenessEvent":{"awareness":[{"peerId":"p","data":{"name":"Alice"},"lastUpdated":"1970-01-01T00:00:00+00:00"}],"documentId":"d"}})");
}

}  // namespace
}  // namespace opstream::transports::websocket
