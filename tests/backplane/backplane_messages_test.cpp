// Wire shapes of the backplane against the reference's examples (server.md §4.3–§4.5).
#include <gtest/gtest.h>

#include "backplane/messages.hpp"

namespace opstream::backplane {
namespace {

TEST(BackplaneMessagesTest, MessageEnvelopeIsPascalJsonWithBase64Payload) {
  const Message message{"3f2c", "op_applied", "{\"a\":1}", "peer-1"};
  EXPECT_EQ(EncodeMessage(message),
            R"({"SenderNodeId":"3f2c","Type":"op_applied","Payload":"eyJhIjoxfQ==","SenderPeerId":"peer-1"})");
  Message decoded;
  ASSERT_TRUE(DecodeMessage(EncodeMessage(message), decoded).ok());
  EXPECT_EQ(decoded.payload, "{\"a\":1}");
  EXPECT_EQ(decoded.sender_peer_id, "peer-1");
}

TEST(BackplaneMessagesTest, EmptyPayloadAndNullPeerAreWrittenAsTheReferenceDoes) {
  EXPECT_EQ(EncodeMessage({"n", "evict_tenant", "", ""}),
            R"({"SenderNodeId":"n","Type":"evict_tenant","Payload":"","SenderPeerId":null})");
  EXPECT_EQ(EncodeResponse({"r", false, "", "boom"}),
            R"({"RequestId":"r","Success":false,"Payload":"","ErrorMessage":"boom"})");
  EXPECT_EQ(EncodeResponse({"r", true, "x", std::nullopt}),
            R"({"RequestId":"r","Success":true,"Payload":"eA==","ErrorMessage":null})");
  EXPECT_EQ(EncodeRequest({"r", "n", "ApplyOp", "x"}),
            R"({"RequestId":"r","SenderNodeId":"n","Type":"ApplyOp","Payload":"eA=="})");
}

TEST(BackplaneMessagesTest, EnvelopeNamesAreCaseSensitiveAndMalformedShapesAreRejected) {
  Message message;
  EXPECT_FALSE(DecodeMessage(R"({"senderNodeId":"n","Type":"t","Payload":"","SenderPeerId":null})", message).ok());
  EXPECT_FALSE(DecodeMessage(R"({"SenderNodeId":"n","Type":"t","Payload":"!!","SenderPeerId":null})", message).ok());
  EXPECT_FALSE(DecodeMessage("[1,2]", message).ok());
  EXPECT_FALSE(DecodeMessage("{", message).ok());
  Response response;
  EXPECT_FALSE(DecodeResponse(R"({"RequestId":"r","Success":"yes","Payload":""})", response).ok());
  Request request;
  EXPECT_FALSE(DecodeRequest(R"({"RequestId":"r","Type":"x","Payload":""})", request).ok());
}

TEST(BackplaneMessagesTest, ChannelAndKeyNames) {
  EXPECT_EQ(DocumentChannel("doc-1"), "OpStream:Docs:doc-1");
  EXPECT_EQ(DocumentChannel(kManagementTopic), "OpStream:Docs:__opstream:mgmt__");
  EXPECT_EQ(RequestChannel("abc"), "OpStream:Requests:abc");
  EXPECT_EQ(ResponseChannel("abc"), "OpStream:Responses:abc");
  EXPECT_EQ(OwnerKey("doc-1"), "OpStream:Owner:doc-1");
}

TEST(BackplaneMessagesTest, OpAppliedPayload) {
  const std::string encoded = EncodeOpApplied({R"([{"insert":"x"}])", 42});
  EXPECT_EQ(encoded, R"({"operation":"W3siaW5zZXJ0IjoieCJ9XQ==","newRevision":42,"anchorUpdates":null})");
  OpApplied decoded;
  ASSERT_TRUE(DecodeOpApplied(R"({"Operation":"W3siaW5zZXJ0IjoieCJ9XQ==","NEWREVISION":42})", decoded).ok());
  EXPECT_EQ(decoded.operation, R"([{"insert":"x"}])");
  EXPECT_EQ(decoded.new_revision, 42);
  EXPECT_FALSE(DecodeOpApplied(R"({"operation":"","newRevision":1.5})", decoded).ok());
}

TEST(BackplaneMessagesTest, JoinRoundTripKeepsAwarenessDataVerbatim) {
  JoinDocumentResponse response{
      7, "{\"content\":\"hi\"}", {{"p1", R"({"x":1.0,"y":[1e400]})", "2026-01-01T00:00:00Z"}}};
  const std::string encoded = EncodeJoinResponse(response);
  EXPECT_EQ(
      encoded,
      R"({"revision":7,"snapshot":"eyJjb250ZW50IjoiaGkifQ==","pendingOps":[],"currentAwareness":[{"peerId":"p1","data":{"x":1.0,"y":[1e400]},"lastUpdated":"2026-01-01T00:00:00Z"}]})");
  JoinDocumentResponse decoded;
  ASSERT_TRUE(DecodeJoinResponse(encoded, decoded).ok());
  EXPECT_EQ(decoded.revision, 7);
  EXPECT_EQ(decoded.snapshot, response.snapshot);
  ASSERT_EQ(decoded.awareness.size(), 1u);
  EXPECT_EQ(decoded.awareness[0].data_json, R"({"x":1.0,"y":[1e400]})");
  EXPECT_EQ(decoded.awareness[0].last_updated, "2026-01-01T00:00:00Z");

  JoinDocumentRequest request;
  ASSERT_TRUE(DecodeJoinRequest(EncodeJoinRequest({"d", "text", "p", 1}), request).ok());
  EXPECT_EQ(request.document_type, "text");
  EXPECT_EQ(EncodeJoinRequest({"d", "text", "p", 1}),
            R"({"documentId":"d","documentType":"text","peerId":"p","protocolVersion":1})");
}

TEST(BackplaneMessagesTest, ApplyOpAndAwarenessRequests) {
  const std::string op = EncodeApplyOpRequest({"d", "p", "[1]", 3});
  EXPECT_EQ(op, R"({"documentId":"d","peerId":"p","payload":"WzFd","baseRevision":3})");
  ApplyOpRequest request;
  ASSERT_TRUE(DecodeApplyOpRequest(op, request).ok());
  EXPECT_EQ(request.payload, "[1]");
  EXPECT_EQ(request.base_revision, 3);

  EXPECT_EQ(EncodeApplyOpResponse({false, 5, "bad"}), R"({"success":false,"newRevision":5,"errorMessage":"bad"})");
  ApplyOpResponse response;
  ASSERT_TRUE(DecodeApplyOpResponse(R"({"success":true,"newRevision":6,"errorMessage":null})", response).ok());
  EXPECT_TRUE(response.success);
  EXPECT_FALSE(response.error_message.has_value());

  UpdateAwarenessRequest awareness;
  ASSERT_TRUE(DecodeAwarenessRequest(EncodeAwarenessRequest({"d", "p", R"({"c":2})"}), awareness).ok());
  EXPECT_EQ(awareness.data_json, R"({"c":2})");
  std::string text;
  ASSERT_TRUE(DecodeJsonString(R"("acme:#:")", text).ok());
  EXPECT_EQ(text, "acme:#:");
  EXPECT_FALSE(DecodeJsonString("12", text).ok());
}

}  // namespace
}  // namespace opstream::backplane
namespace opstream::backplane {
namespace {
TEST(BackplaneMessagesTest, ResponseFromTheWireDecodes) {
  Response response;
  const Status status =
      DecodeResponse(R"({"RequestId":"ad39","Success":true,"Payload":"ZWNobzpoaQ==","ErrorMessage":null})", response);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(response.request_id, "ad39");
  EXPECT_TRUE(response.success);
  EXPECT_EQ(response.payload, "echo:hi");
}
}  // namespace
}  // namespace opstream::backplane
