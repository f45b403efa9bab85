// Tree engine validation (engines.md §9.6, §14 D4) and the cycle check (§9.3).
#include "engines/tree/tree_engine.hpp"

#include <gtest/gtest.h>

namespace opstream::engines {
namespace {

TEST(TreeEngineValidation, RejectsMalformedOpsWithAClearMessage) {
  struct Case {
    const char* payload;
    const char* message_part;
  };
  const Case cases[] = {
      {R"({"operations":[{"$type":"delete","nodeId":"A","timestamp":1,"peerId":"p"}]})", "unknown \"$type\""},
      {R"({"operations":[{"type":"move","nodeId":"A","newParentId":"__root__","newPosition":"m","newPayload":null,)"
       R"("timestamp":1,"peerId":"p"}]})",
       "$type"},
      {R"({"operations":[{"$type":"move","newParentId":"__root__","newPosition":"m","newPayload":null,"timestamp":1,)"
       R"("peerId":"p"}]})",
       "nodeId is required"},
      {R"({"operations":[{"$type":"move","nodeId":"A","newParentId":null,"newPosition":"m","newPayload":null,)"
       R"("timestamp":1,"peerId":"p"}]})",
       "newParentId must not be null"},
      {R"({"operations":[{"$type":"move","nodeId":"A","newParentId":"__root__","newPosition":"m","timestamp":1,)"
       R"("peerId":"p"}]})",
       "newPayload is required"},
      {R"({"operations":[{"$type":"move","nodeId":"A","newParentId":"__root__","newPosition":null,"newPayload":1,)"
       R"("timestamp":1,"peerId":"p"}]})",
       "newPosition must not be null"},
      {R"({"operations":[{"$type":"move","nodeId":"A","newParentId":"__root__","newPosition":"m","newPayload":1,)"
       R"("timestamp":1}]})",
       "peerId is required"},
      {R"({"operations":[{"$type":"move","nodeId":"A","newParentId":"__root__","newPosition":"m","newPayload":1,)"
       R"("timestamp":1e3,"peerId":"p"}]})",
       "timestamp"},
      {R"({"operations":[{"$type":"move","nodeId":7,"newParentId":"__root__","newPosition":"m","newPayload":1,)"
       R"("timestamp":1,"peerId":"p"}]})",
       "nodeId must be a string"},
      {R"({"operations":{}})", "must be an array"},
  };
  for (const auto& c : cases) {
    TreeOp op;
    const Status s = ParseTreeOp(c.payload, op);
    EXPECT_FALSE(s.ok()) << c.payload;
    EXPECT_NE(s.message().find(c.message_part), std::string::npos) << c.payload << " -> " << s.message();
    EXPECT_TRUE(op.operations.empty());
  }
}

TEST(TreeEngine, CycleCheckFollowsTheParentChain) {
  TreeDocument doc;
  ASSERT_TRUE(LoadTreeDocument(R"({"nodes":{"A":{"id":"A","parentId":"__root__","position":"a","payload":null},)"
                               R"("B":{"id":"B","parentId":"A","position":"b","payload":null},)"
                               R"("D":{"id":"D","parentId":"X","position":"d","payload":null},)"
                               R"("L1":{"id":"L1","parentId":"L2","position":"","payload":null},)"
                               R"("L2":{"id":"L2","parentId":"L1","position":"","payload":null}},"moveLog":[]})",
                               doc)
                  .ok());
  EXPECT_TRUE(TreeMoveWouldCycle(doc.nodes, "A", "A"));
  EXPECT_TRUE(TreeMoveWouldCycle(doc.nodes, "A", "B"));
  EXPECT_FALSE(TreeMoveWouldCycle(doc.nodes, "B", "__root__"));
  EXPECT_FALSE(TreeMoveWouldCycle(doc.nodes, "B", "__trash__"));
  EXPECT_FALSE(TreeMoveWouldCycle(doc.nodes, "A", "D"));  // D's parent X does not exist
  // A dangling parent pointer naming the moving node still counts (tested before the lookup).
  EXPECT_TRUE(TreeMoveWouldCycle(doc.nodes, "X", "D"));
  // A cycle already in a loaded snapshot terminates and reports a cycle.
  EXPECT_TRUE(TreeMoveWouldCycle(doc.nodes, "A", "L1"));
}

TEST(TreeEngine, EmptyDocumentAndLibraryFunctions) {
  TreeEngine engine;
  std::string out;
  engine.SerializeState(*engine.CreateEmpty(), out);
  EXPECT_EQ(out, R"({"nodes":{},"moveLog":[]})");
  std::unique_ptr<Op> op;
  ASSERT_TRUE(engine
                  .ParseOp(R"({"operations":[{"$type":"move","nodeId":"A","newParentId":"__root__",)"
                           R"("newPosition":"m","newPayload":{"x" : 1.50},"timestamp":3,"peerId":"p"}]})",
                           op)
                  .ok());
  EXPECT_EQ(engine.Compose(*op, *op), nullptr);
  EXPECT_FALSE(engine.IsNoOp(*op));
  auto restamped = engine.RestampToWin(*op, *engine.CreateEmpty());
  ASSERT_NE(restamped, nullptr);
  std::string a, b;
  engine.SerializeOp(*op, a);
  engine.SerializeOp(*restamped, b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, R"({"operations":[{"$type":"move","nodeId":"A","newParentId":"__root__","newPosition":"m",)"
               R"("newPayload":{"x":1.50},"timestamp":3,"peerId":"p"}]})");
}

TEST(TreeEngine, UndoRedoReusesFreedSlotsLikeTheDotNetDictionary) {
  // C and D are created after Z's creation in key order; a late move creating N sorts before them:
  // undo frees D's then C's slot, N takes C's slot, C takes D's, D is appended (§1.5).
  TreeDocument doc;
  TreeOp first;
  ASSERT_TRUE(
      ParseTreeOp(
          R"({"operations":[)"
          R"({"$type":"move","nodeId":"Z","newParentId":"__root__","newPosition":"z","newPayload":null,"timestamp":1,"peerId":"p"},)"
          R"({"$type":"move","nodeId":"C","newParentId":"__root__","newPosition":"c","newPayload":null,"timestamp":5,"peerId":"p"},)"
          R"({"$type":"move","nodeId":"D","newParentId":"__root__","newPosition":"d","newPayload":null,"timestamp":6,"peerId":"p"}]})",
          first)
          .ok());
  ApplyTreeOp(doc, first);
  TreeOp late;
  ASSERT_TRUE(ParseTreeOp(R"({"operations":[{"$type":"move","nodeId":"N","newParentId":"__root__",)"
                          R"("newPosition":"n","newPayload":null,"timestamp":2,"peerId":"q"}]})",
                          late)
                  .ok());
  ApplyTreeOp(doc, late);
  std::string order;
  doc.nodes.ForEach([&](std::string_view key, const TreeNode&) { order.append(key); });
  EXPECT_EQ(order, "ZNCD");
  ASSERT_EQ(doc.move_log.size(), 4u);
  EXPECT_EQ(doc.move_log[1].op.node_id, "N");
}

TEST(TreeEngine, SnapshotsLoadReferenceLogsWithNullPositionsButRejectGarbage) {
  // The reference accepted moves without position or peer and logged them as null.
  TreeDocument doc;
  const Status ok = LoadTreeDocument(
      R"({"nodes":{"A":{"id":"A","parentId":"__root__","position":null,"payload":null}},"moveLog":[{"op":)"
      R"({"nodeId":"A","newParentId":"__root__","newPosition":null,"newPayload":null,"timestamp":1,"peerId":null},)"
      R"("oldNode":null}]})",
      doc);
  ASSERT_TRUE(ok.ok()) << ok.message();
  std::string out;
  SerializeTreeDocument(doc, out);
  EXPECT_EQ(out, R"({"nodes":{"A":{"id":"A","parentId":"__root__","position":"","payload":null}},"moveLog":[{"op":)"
                 R"({"nodeId":"A","newParentId":"__root__","newPosition":"","newPayload":null,"timestamp":1,)"
                 R"("peerId":""},"oldNode":null}]})");
  TreeDocument bad;
  const Status s1 = LoadTreeDocument(R"({"nodes":{},"moveLog":[{"op":{"nodeId":"A","timestamp":"x"}}]})", bad);
  EXPECT_FALSE(s1.ok());
  EXPECT_NE(s1.message().find("moveLog[0].op.timestamp"), std::string::npos) << s1.message();
  const Status s2 = LoadTreeDocument(R"({"nodes":{"A":5},"moveLog":[]})", bad);
  EXPECT_FALSE(s2.ok());
  EXPECT_NE(s2.message().find("nodes[\"A\"] must be an object"), std::string::npos) << s2.message();
  EXPECT_FALSE(LoadTreeDocument(R"({"nodes":{},"moveLog":{}})", bad).ok());
}

}  // namespace
}  // namespace opstream::engines
