// The management request payload of server.md §4.5 (`{"globalDocumentId","args"}`) and the JSON
// string payload of the management channel (§4.4): bytes as the reference writes them, names read
// case-insensitively, anything malformed refused.
#include <gtest/gtest.h>

#include "backplane/messages.hpp"

namespace opstream::backplane {
namespace {

TEST(ManagementRequestPayload, EncodesLikeTheReferenceAndReadsCaseInsensitively) {
  EXPECT_EQ(EncodeManagementRequest({"acme:#:a+b", std::nullopt}),
            R"({"globalDocumentId":"acme:#:a\u002Bb","args":null})");
  EXPECT_EQ(EncodeManagementRequest({"d", "42"}), R"({"globalDocumentId":"d","args":{"upToRevision":"42"}})");
  EXPECT_EQ(EncodeJsonString("acme:#:<d>"), R"("acme:#:\u003Cd\u003E")");

  ManagementRequestPayload read;
  ASSERT_TRUE(DecodeManagementRequest(R"({"GlobalDocumentID":"x\u002By","ARGS":{"uptorevision":"7"}})", read).ok());
  EXPECT_EQ(read.global_document_id, "x+y");
  EXPECT_EQ(read.up_to_revision, "7");
  ASSERT_TRUE(DecodeManagementRequest(R"({"globalDocumentId":"x","args":{"upToRevision":7}})", read).ok());
  EXPECT_EQ(read.up_to_revision, std::nullopt) << "the reference's args hold strings only";
  ASSERT_TRUE(DecodeManagementRequest(R"({"globalDocumentId":"x"})", read).ok());
  EXPECT_EQ(read.up_to_revision, std::nullopt);
  EXPECT_FALSE(DecodeManagementRequest(R"({"globalDocumentId":"x","args":[1]})", read).ok());
  EXPECT_FALSE(DecodeManagementRequest(R"({"globalDocumentId":5})", read).ok());
  EXPECT_FALSE(DecodeManagementRequest("not json", read).ok());
}

}  // namespace
}  // namespace opstream::backplane
