// Randomized multi-peer convergence of the table and tree engines through the real session layer
// (DocumentRouter, DocumentSession, memory store, local backplane — no network).
//
// Peers join at random moments (late joiners load a snapshot), apply their own batches locally at
// once and send them with stale base revisions, receive broadcasts in random slices, and now and
// then send an invalid op, which must be rejected without touching the document. Timestamps come
// from skewed per-peer clocks, so moves and writes arrive out of key order and the tree undoes
// and redoes. At the end every peer's state must equal the server's snapshot (maps compared
// without order, the tree's move log in order) and the tree must hold no cycle.
//
// Seeded and replayable: OPSTREAM_PROP_SEED (base seed), OPSTREAM_PROP_CASES (default 300 per
// engine). A failure prints the case's seed; OPSTREAM_PROP_SEED=<it> OPSTREAM_PROP_CASES=1 replays it.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <random>
#include <set>

#include "engines/table/table_engine.hpp"
#include "engines/tree/tree_engine.hpp"
#include "session/session_test_support.hpp"

namespace opstream::session::testing {
namespace {

namespace bj = boost::json;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 0) : fallback;
}

struct CrdtWorld {
  CrdtWorld() : router(io, MakeRegistry(), store, backplane, SessionOptions{}) {}

  static const engines::EngineRegistry& MakeRegistry() {
    static const engines::EngineRegistry registry = [] {
      engines::EngineRegistry r;
      r.Register(engines::MakeTableEngine());
      r.Register(engines::MakeTreeEngine());
      return r;
    }();
    return registry;
  }

  void Drain() {
    while (io.poll() > 0) {
    }
    io.restart();
  }

  boost::asio::io_context io;
  storage::MemoryDocumentStore store;
  backplane::LocalBackplane backplane;
  DocumentRouter router;
};

const std::vector<std::string> kIds = {"R0", "R1", "R2", "R3", "\xC3\xA9"};
const std::vector<std::string> kPositions = {"a", "m", "z", "aO", "\xEE\x80\x80"};
const std::vector<std::string> kValues = {"null", "1", "\"x\"", "{\"k\":[1,2.50]}", "\"<&>\""};
const std::vector<std::string> kParents = {"__root__", "__root__", "__trash__", "R0", "R1", "R2", "R3", "\xC3\xA9"};

template <typename T>
const T& Pick(std::mt19937_64& rng, const std::vector<T>& items) {
  return items[rng() % items.size()];
}

// A random batch of the document's engine, as JSON. `clock` is the peer's (skewed) wall clock.
std::string RandomBatch(std::string_view type, std::mt19937_64& rng, int64_t clock, const std::string& peer) {
  std::string out;
  const int n = 1 + static_cast<int>(rng() % 4);
  if (type == "table") {
    engines::TableOp op;
    for (int i = 0; i < n; ++i) {
      engines::TableOpItem item;
      item.kind = static_cast<engines::TableOpKind>(rng() % 11);
      item.row_id = Pick(rng, kIds);
      item.column_id = Pick(rng, kIds);
      item.position = Pick(rng, kPositions);
      item.value = Pick(rng, kValues);
      item.timestamp = clock + static_cast<int64_t>(rng() % 3);
      item.peer_id = peer;
      op.operations.push_back(std::move(item));
    }
    engines::SerializeTableOp(op, out);
  } else {
    engines::TreeOp op;
    for (int i = 0; i < n; ++i) {
      engines::TreeMove move;
      move.node_id = Pick(rng, kIds);
      move.new_parent_id = Pick(rng, kParents);
      move.new_position = Pick(rng, kPositions);
      move.new_payload = Pick(rng, kValues);
      move.timestamp = clock + static_cast<int64_t>(rng() % 3);
      move.peer_id = peer;
      op.operations.push_back(std::move(move));
    }
    engines::SerializeTreeOp(op, out);
  }
  return out;
}

std::string InvalidBatch(std::string_view type, std::mt19937_64& rng) {
  if (type == "table") {
    switch (rng() % 3) {
      case 0:
        return R"({"operations":[{"$type":"set_cell","rowId":"R0","columnId":"C","timestamp":1,"peerId":"x"}]})";
      case 1:
        return R"({"operations":[{"$type":"ins_row","rowId":"R0","position":"m","timestamp":1}]})";
      default:
        return R"({"operations":[{"$type":"nope","rowId":"R0","timestamp":1,"peerId":"x"}]})";
    }
  }
  switch (rng() % 3) {
    case 0:
      return R"({"operations":[{"$type":"move","nodeId":"R0","newParentId":"__root__","newPosition":"m",)"
             R"("timestamp":1,"peerId":"x"}]})";
    case 1:
      return R"({"operations":[{"$type":"move","nodeId":null,"newParentId":"__root__","newPosition":"m",)"
             R"("newPayload":1,"timestamp":1,"peerId":"x"}]})";
    default:
      return R"({"operations":[{"$type":"move","nodeId":"R0","newParentId":"__root__","newPosition":"m",)"
             R"("newPayload":1,"timestamp":1.5,"peerId":"x"}]})";
  }
}

struct CrdtPeer {
  std::shared_ptr<TestConnection> connection = std::make_shared<TestConnection>();
  std::string peer_id;
  std::unique_ptr<engines::DocumentState> state;
  int64_t revision = 0;
  int64_t skew = 0;
  bool joined = false;
  std::string failure;

  void Fail(std::string why) {
    if (failure.empty()) failure = std::move(why);
  }

  void Receive(const engines::Engine& engine, const Outbound& message) {
    if (const auto* join = std::get_if<JoinResponse>(&message)) {
      if (joined) return Fail("second join response");
      joined = true;
      revision = join->revision;
      if (auto s = engine.LoadState(join->snapshot, state); !s.ok()) Fail("bad join snapshot: " + s.message());
    } else if (const auto* ack = std::get_if<OpResponse>(&message)) {
      const bool expected_to_fail = ack->correlation == "bad";
      if (ack->success == expected_to_fail) {
        return Fail("op " + ack->correlation.value_or("") + " answered success=" + (ack->success ? "true" : "false") +
                    " " + ack->error.value_or(""));
      }
      if (expected_to_fail && ack->error.value_or("").empty()) return Fail("rejection without a message");
      if (ack->success) revision = std::max(revision, ack->new_revision);
    } else if (const auto* event = std::get_if<std::shared_ptr<const OpEvent>>(&message)) {
      if (!joined) return Fail("event before join");
      if ((*event)->revision <= revision) return Fail("event revision went back");
      revision = (*event)->revision;
      std::unique_ptr<engines::Op> op;
      if (auto s = engine.ParseOp((*event)->payload, op); !s.ok()) return Fail("bad event payload: " + s.message());
      if (auto s = engine.Apply(*state, *op); !s.ok()) Fail("remote apply failed: " + s.message());
    }
  }
};

std::string Serialized(const engines::Engine& engine, const engines::DocumentState& state) {
  std::string out;
  engine.SerializeState(state, out);
  return out;
}

void ExpectAcyclic(const std::string& snapshot) {
  const bj::value root = bj::parse(snapshot);
  const bj::object& nodes = root.as_object().at("nodes").as_object();
  for (const auto& entry : nodes) {
    std::set<std::string> seen{std::string(entry.key())};
    const bj::value* node = &entry.value();
    while (true) {
      const std::string parent(node->as_object().at("parentId").as_string());
      if (parent == "__root__" || parent == "__trash__") break;
      ASSERT_TRUE(seen.insert(parent).second) << "cycle through " << parent;
      node = nodes.if_contains(parent);
      if (node == nullptr) break;
    }
  }
}

void RunCase(std::string_view type, uint64_t seed, int peers, int steps) {
  std::mt19937_64 rng(seed);
  CrdtWorld world;
  const engines::Engine& engine = *CrdtWorld::MakeRegistry().Find(type);
  const std::string doc = std::string(type) + "-" + std::to_string(seed);
  std::vector<CrdtPeer> clients(static_cast<size_t>(peers));
  std::vector<std::vector<Outbound>> inboxes(clients.size());
  std::vector<int> join_step(clients.size());
  for (size_t i = 0; i < clients.size(); ++i) {
    clients[i].peer_id = "peer" + std::to_string(i);
    clients[i].skew = static_cast<int64_t>(rng() % 8);
    join_step[i] = i == 0 ? 0 : static_cast<int>(rng() % (steps / 2 + 1));
  }
  for (int step = 0; step < steps; ++step) {
    for (size_t i = 0; i < clients.size(); ++i) {
      if (join_step[i] == step) {
        world.router.Join(clients[i].connection, std::string("j"), doc, std::string(type), 1, [](bool) {});
      }
    }
    if (rng() % 2 == 0) world.io.poll_one();
    if (rng() % 4 == 0) world.Drain();
    const size_t index = rng() % clients.size();
    auto& client = clients[index];
    for (auto& m : client.connection->Take()) inboxes[index].push_back(std::move(m));
    const uint64_t action = rng() % 10;
    if (action < 4) {
      auto& inbox = inboxes[index];
      const size_t n = inbox.empty() ? 0 : 1 + rng() % inbox.size();
      for (size_t k = 0; k < n; ++k) client.Receive(engine, inbox[k]);
      inbox.erase(inbox.begin(), inbox.begin() + static_cast<std::ptrdiff_t>(n));
    } else if (client.joined && action < 9) {
      // Optimistic local apply, then send against whatever revision the peer has seen.
      std::string payload = RandomBatch(type, rng, step + client.skew, client.peer_id);
      std::unique_ptr<engines::Op> op;
      if (!engine.ParseOp(payload, op).ok() || !engine.Apply(*client.state, *op).ok()) client.Fail("local op failed");
      world.router.SubmitOp(client.connection, std::string("op"), doc, std::move(payload), client.revision,
                            [](bool) {});
    } else if (client.joined) {
      world.router.SubmitOp(client.connection, std::string("bad"), doc, InvalidBatch(type, rng), client.revision,
                            [](bool) {});
    }
  }
  for (int round = 0; round < 3; ++round) {
    world.Drain();
    for (size_t i = 0; i < clients.size(); ++i) {
      for (auto& m : clients[i].connection->Take()) inboxes[i].push_back(std::move(m));
      for (auto& m : inboxes[i]) clients[i].Receive(engine, m);
      inboxes[i].clear();
    }
  }
  auto observer = std::make_shared<TestConnection>();
  world.router.Join(observer, std::string("j"), doc, std::string(type), 1, [](bool) {});
  world.Drain();
  const auto joins = Only<JoinResponse>(observer->Take());
  ASSERT_EQ(joins.size(), 1u);
  const std::string& server = joins[0].snapshot;
  const bj::value server_value = bj::parse(server);
  if (type == "tree") ExpectAcyclic(server);
  for (size_t i = 0; i < clients.size(); ++i) {
    SCOPED_TRACE("peer " + std::to_string(i));
    ASSERT_TRUE(clients[i].failure.empty()) << clients[i].failure;
    ASSERT_TRUE(clients[i].joined);
    EXPECT_EQ(clients[i].revision, joins[0].revision);
    const std::string mine = Serialized(engine, *clients[i].state);
    ASSERT_EQ(bj::parse(mine), server_value) << "diverged\nserver: " << server << "\npeer:   " << mine;
  }
  for (auto& c : clients) world.router.Disconnect(c.connection);
  world.router.Disconnect(observer);
  world.Drain();
}

void RunMany(std::string_view type) {
  const uint64_t seed = EnvOr("OPSTREAM_PROP_SEED", 20261127);
  const uint64_t cases = EnvOr("OPSTREAM_PROP_CASES", 300);
  for (uint64_t c = 0; c < cases; ++c) {
    const uint64_t case_seed = seed + c;
    RunCase(type, case_seed, 2 + static_cast<int>(case_seed % 4), 150);
    if (::testing::Test::HasFailure()) {
      FAIL() << type << ": replay with OPSTREAM_PROP_SEED=" << case_seed << " OPSTREAM_PROP_CASES=1";
    }
  }
}

TEST(TableSessionConvergence, RandomizedPeersConvergeThroughTheSessionLayer) { RunMany("table"); }
TEST(TreeSessionConvergence, RandomizedPeersConvergeThroughTheSessionLayer) { RunMany("tree"); }

}  // namespace
}  // namespace opstream::session::testing
