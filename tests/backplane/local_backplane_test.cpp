// The single-node backplane (server.md §4.2): owns everything, publishes nowhere, answers
// requests to itself in-process and refuses other nodes with the reference's texts.
#include "backplane/local_backplane.hpp"

#include <gtest/gtest.h>

namespace opstream::backplane {
namespace {

Response Call(LocalBackplane& backplane, const std::string& target) {
  Response out;
  backplane.SendRequest(target, "JoinDocument", "{}", std::chrono::seconds(1),
                        [&out](Response response) { out = std::move(response); });
  return out;
}

TEST(LocalBackplaneTest, IsLocalAndOwnsEveryDocument) {
  LocalBackplane backplane;
  EXPECT_TRUE(backplane.is_local());
  EXPECT_EQ(backplane.node_id(), "LocalNode");
  std::string owner;
  backplane.GetOrAcquireOwner("any", [&owner](Status status, std::string node) {
    EXPECT_TRUE(status.ok());
    owner = std::move(node);
  });
  EXPECT_EQ(owner, "LocalNode");
}

TEST(LocalBackplaneTest, RequestsFollowTheReferenceTexts) {
  LocalBackplane backplane;
  Response none = Call(backplane, "LocalNode");
  EXPECT_FALSE(none.success);
  EXPECT_EQ(none.error_message.value_or(""), "No request handler registered on this node.");

  Response remote = Call(backplane, "abc");
  EXPECT_FALSE(remote.success);
  EXPECT_EQ(remote.error_message.value_or(""),
            "LocalBackplane cannot reach remote node 'abc'. Configure a real backplane (e.g. UseRedisBackplane()) for "
            "multi-node deployments.");

  backplane.SetRequestHandler([](Request request, Backplane::ResponseCompletion respond) {
    EXPECT_EQ(request.sender_node_id, "LocalNode");
    EXPECT_EQ(request.type, "JoinDocument");
    respond({{}, true, "ok", std::nullopt});
  });
  Response answered = Call(backplane, "LocalNode");
  EXPECT_TRUE(answered.success);
  EXPECT_EQ(answered.payload, "ok");
}

}  // namespace
}  // namespace opstream::backplane
