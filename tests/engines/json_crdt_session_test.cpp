// Randomized multi-peer convergence of the `json` and `form` documents through the real session
// layer (DocumentRouter, DocumentSession, memory store, local backplane): peers join at different
// moments, apply their own batches locally at once, submit them against whatever revision they
// last saw, and receive acks and broadcasts in random interleavings. Now and then a peer sends a
// malformed batch, which must be rejected with a message and change nothing. At the end every
// peer's visible state must equal the server's (a fresh join's snapshot).
//
// Peers stamp each op with their own strictly increasing clock, advanced past what they have seen
// so that stamps of different peers tie often. Ops of one batch get distinct stamps: with a shared
// stamp, a batch that writes an ancestor and a deeper descendant is order-dependent under the
// reference rules (§6.5; JsonCrdtApply.SameStampBatchOverHierarchyIsOrderDependent and
// docs/engines/json-and-form.md), which the engine reproduces on purpose.
//
// Seeded and replayable: OPSTREAM_PROP_SEED (base seed), OPSTREAM_PROP_CASES (cases per engine,
// default 300); a failure prints the case's seed.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "engines/form/form_engine.hpp"
#include "engines/json/raw_json.hpp"
#include "engines/json_crdt/json_crdt_engine.hpp"
#include "ot_test_support.hpp"
#include "session/session_test_support.hpp"

namespace opstream::engines {
namespace {

using session::JoinResponse;
using session::OpEvent;
using session::OpResponse;
using session::Outbound;
using session::testing::Only;
using session::testing::TestConnection;

const EngineRegistry& CrdtEngines() {
  static const EngineRegistry registry = [] {
    EngineRegistry r;
    r.Register(MakeTextEngine());
    r.Register(MakeJsonCrdtEngine());
    r.Register(MakeFormEngine());
    return r;
  }();
  return registry;
}

struct CrdtWorld {
  CrdtWorld() : router(io, CrdtEngines(), store, backplane, session::SessionOptions{}) {}
  // An io_context that ran out of work stays stopped until restart(), so restart first.
  void Drain() {
    io.restart();
    while (io.poll() > 0) {
    }
  }
  boost::asio::io_context io;
  storage::MemoryDocumentStore store;
  backplane::LocalBackplane backplane;
  session::DocumentRouter router;
};

// Visible content: path/field -> minified value, for live registers only.
std::map<std::string, std::string> Visible(const DocumentState& state) {
  std::map<std::string, std::string> out;
  if (const JsonDocument* document = AsJsonDocument(state)) {
    document->registers.ForEach([&](std::string_view path, const JsonRegister& reg) {
      if (reg.deleted) return;
      std::string value;
      json::AppendReserializedValidated(reg.value, value);
      out.emplace(path, value);
    });
  } else if (const FormDocument* form = AsFormDocument(state)) {
    form->fields.ForEach([&](std::string_view field, const FormRegister& reg) {
      if (!reg.value) return;
      std::string value;
      json::AppendReserializedValidated(*reg.value, value);
      out.emplace(field, value);
    });
  }
  return out;
}

struct Peer {
  std::string id;
  std::shared_ptr<TestConnection> connection = std::make_shared<TestConnection>();
  std::unique_ptr<DocumentState> state;
  bool joined = false;
  int64_t last_seen = 0;
  int64_t last_event = 0;
  int64_t clock = 0;
  int invalid_in_flight = 0;
  std::string failure;

  void Fail(std::string why) {
    if (failure.empty()) failure = std::move(why);
  }
};

class SessionCase {
 public:
  SessionCase(const Engine& engine, uint64_t seed) : engine_(engine), rng_(seed) {}

  void Run(int peers, int steps) {
    const std::string doc = std::string(engine_.document_type()) + "-doc";
    std::vector<Peer> clients(static_cast<size_t>(peers));
    std::vector<int> join_step(clients.size());
    for (size_t i = 0; i < clients.size(); ++i) {
      clients[i].id = "peer" + std::to_string(i);
      join_step[i] = i == 0 ? 0 : static_cast<int>(rng_() % static_cast<uint64_t>(steps / 3 + 1));
    }
    std::vector<std::vector<Outbound>> inboxes(clients.size());
    for (int step = 0; step < steps; ++step) {
      for (size_t i = 0; i < clients.size(); ++i) {
        if (join_step[i] == step) {
          world_.router.Join(clients[i].connection, std::string("j"), doc, std::string(engine_.document_type()), 1,
                             [](bool) {});
        }
      }
      if (rng_() % 2 == 0) {
        world_.io.restart();
        world_.io.poll_one();
      }
      if (rng_() % 4 == 0) world_.Drain();
      const size_t index = rng_() % clients.size();
      Peer& client = clients[index];
      for (auto& m : client.connection->Take()) inboxes[index].push_back(std::move(m));
      if (rng_() % 2 == 0) {
        auto& inbox = inboxes[index];
        const size_t n = inbox.empty() ? 0 : 1 + rng_() % inbox.size();
        for (size_t k = 0; k < n; ++k) Receive(client, inbox[k]);
        inbox.erase(inbox.begin(), inbox.begin() + static_cast<std::ptrdiff_t>(n));
      } else if (client.joined) {
        LocalEdit(client, doc);
      }
    }
    for (int round = 0; round < 100; ++round) {
      world_.Drain();
      bool any = false;
      for (size_t i = 0; i < clients.size(); ++i) {
        for (auto& m : clients[i].connection->Take()) inboxes[i].push_back(std::move(m));
        any = any || !inboxes[i].empty();
        for (auto& m : inboxes[i]) Receive(clients[i], m);
        inboxes[i].clear();
      }
      if (!any) break;
    }
    auto observer = std::make_shared<TestConnection>();
    world_.router.Join(observer, std::string("j"), doc, std::string(engine_.document_type()), 1, [](bool) {});
    world_.Drain();
    const auto joins = Only<JoinResponse>(observer->Take());
    ASSERT_EQ(joins.size(), 1u);
    std::unique_ptr<DocumentState> server;
    ASSERT_TRUE(engine_.LoadState(joins[0].snapshot, server).ok());
    const auto expected = Visible(*server);
    for (auto& client : clients) {
      SCOPED_TRACE(client.id);
      ASSERT_TRUE(client.failure.empty()) << client.failure;
      ASSERT_TRUE(client.joined);
      EXPECT_EQ(client.invalid_in_flight, 0);
      EXPECT_EQ(client.last_seen, joins[0].revision);
      ASSERT_EQ(Visible(*client.state), expected) << "diverged from the server snapshot " << joins[0].snapshot;
    }
  }

 private:
  std::string RandomValue() {
    static const char* const kValues[] = {"1", "2.50", "\"x\"", "\"\\u00e9<\"", "true", "null", "{ \"k\": [1, 2] }",
                                          "[]"};
    return kValues[rng_() % std::size(kValues)];
  }

  std::string RandomBatch(Peer& client) {
    const bool is_json = engine_.document_type() == "json";
    static const char* const kPaths[] = {"a", "a.b", "a.b.c", "a.x", "b", "b.y", "c", "a[0]"};
    static const char* const kFields[] = {"name", "email", "age", "notes"};
    std::string payload = "{\"operations\":[";
    const int ops = 1 + static_cast<int>(rng_() % 3);
    for (int i = 0; i < ops; ++i) {
      if (i > 0) payload += ",";
      const bool is_set = rng_() % 10 < 7;
      if (is_json) {
        payload += std::string("{\"$type\":\"") + (is_set ? "set" : "del") + "\",\"path\":\"" +
                   kPaths[rng_() % std::size(kPaths)] + "\"";
      } else {
        payload += std::string("{\"$type\":\"") + (is_set ? "set" : "clr") + "\",\"fieldName\":\"" +
                   kFields[rng_() % std::size(kFields)] + "\"";
      }
      if (is_set) payload += ",\"value\":" + RandomValue();
      payload += ",\"timestamp\":" + std::to_string(++client.clock) + ",\"peerId\":\"" + client.id + "\"}";
    }
    return payload + "]}";
  }

  void LocalEdit(Peer& client, const std::string& doc) {
    if (rng_() % 20 == 0) {
      // Malformed: no peer id. Must come back rejected.
      const std::string bad = engine_.document_type() == "json"
                                  ? R"({"operations":[{"$type":"set","path":"a","value":1,"timestamp":1}]})"
                                  : R"({"operations":[{"$type":"set","fieldName":"a","value":1,"timestamp":1}]})";
      ++client.invalid_in_flight;
      world_.router.SubmitOp(client.connection, std::string("bad"), doc, bad, client.last_seen, [](bool) {});
      return;
    }
    const std::string payload = RandomBatch(client);
    std::unique_ptr<Op> op;
    if (!engine_.ParseOp(payload, op).ok()) return client.Fail("own op does not parse: " + payload);
    if (!engine_.Apply(*client.state, *op).ok()) return client.Fail("local apply failed");
    world_.router.SubmitOp(client.connection, std::string("op"), doc, payload, client.last_seen, [](bool) {});
  }

  void Receive(Peer& client, const Outbound& message) {
    if (const auto* join = std::get_if<JoinResponse>(&message)) {
      if (client.joined) return client.Fail("second join response");
      client.joined = true;
      client.last_seen = client.last_event = join->revision;
      if (!engine_.LoadState(join->snapshot, client.state).ok()) client.Fail("bad snapshot");
      // A peer's clock starts past everything it can see.
      if (const JsonDocument* document = AsJsonDocument(*client.state)) {
        document->registers.ForEach(
            [&](std::string_view, const JsonRegister& r) { client.clock = std::max(client.clock, r.timestamp); });
      } else if (const FormDocument* form = AsFormDocument(*client.state)) {
        form->fields.ForEach(
            [&](std::string_view, const FormRegister& r) { client.clock = std::max(client.clock, r.timestamp); });
      }
    } else if (const auto* ack = std::get_if<OpResponse>(&message)) {
      if (ack->correlation == std::optional<std::string>("bad")) {
        --client.invalid_in_flight;
        if (ack->success) return client.Fail("a malformed batch was accepted");
        if (!ack->error || ack->error->find("peerId") == std::string::npos) {
          return client.Fail("unclear rejection: " + ack->error.value_or("(none)"));
        }
        return;
      }
      if (!ack->success) return client.Fail("op rejected: " + ack->error.value_or(""));
      client.last_seen = std::max(client.last_seen, ack->new_revision);
    } else if (const auto* event = std::get_if<std::shared_ptr<const OpEvent>>(&message)) {
      if ((*event)->revision <= client.last_event) return client.Fail("event revisions not increasing");
      client.last_event = (*event)->revision;
      client.last_seen = std::max(client.last_seen, (*event)->revision);
      std::unique_ptr<Op> op;
      if (!engine_.ParseOp((*event)->payload, op).ok()) return client.Fail("bad broadcast: " + (*event)->payload);
      if (!engine_.Apply(*client.state, *op).ok()) return client.Fail("remote apply failed");
      // Remote stamps push the local clock, so that peers' stamps meet.
      if (const JsonOpBatch* batch = AsJsonOpBatch(*op)) {
        for (const auto& o : batch->operations) {
          if (rng_() % 2 == 0) client.clock = std::max(client.clock, o.timestamp);
        }
      } else if (const FormOpBatch* form = AsFormOpBatch(*op)) {
        for (const auto& o : form->operations) {
          if (rng_() % 2 == 0) client.clock = std::max(client.clock, o.timestamp);
        }
      }
    }
  }

  const Engine& engine_;
  std::mt19937_64 rng_;
  CrdtWorld world_;
};

void RunCases(const Engine& engine, uint64_t default_seed) {
  const uint64_t base = testing::PropertyBaseSeed(default_seed);
  const uint64_t cases = testing::PropertyCaseCount(300);
  for (uint64_t c = 0; c < cases; ++c) {
    const uint64_t seed = base + c;
    SessionCase(engine, seed).Run(2 + static_cast<int>(seed % 4), 120);
    if (::testing::Test::HasFailure()) {
      FAIL() << "replay with OPSTREAM_PROP_SEED=" << seed << " OPSTREAM_PROP_CASES=1";
    }
  }
}

TEST(JsonCrdtSession, RandomizedPeersConvergeThroughTheSessionLayer) {
  RunCases(*CrdtEngines().Find("json"), 0x150A'5E55);
}

TEST(FormSession, RandomizedPeersConvergeThroughTheSessionLayer) { RunCases(*CrdtEngines().Find("form"), 0xF0A4'5E55); }

}  // namespace
}  // namespace opstream::engines
