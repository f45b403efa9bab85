// Randomized multi-peer convergence through the real session layer: peers run the standard OT
// client state machine (one op in flight, local edits buffered, engines.md §3.4), generate random
// edits against stale revisions, and messages are delivered in random interleavings. Every run
// must end with every peer's text equal to the server's, and every peer must observe R1–R3 of
// wire-protocol §2.10. Seeded and replayable: OPSTREAM_PROP_SEED / OPSTREAM_PROP_CASES.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <random>

#include "session_test_support.hpp"

namespace opstream::session::testing {
namespace {

using engines::Priority;
using engines::TextDocument;
using engines::TextOp;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value ? std::strtoull(value, nullptr, 10) : fallback;
}

struct OtClient {
  std::shared_ptr<TestConnection> connection = std::make_shared<TestConnection>();
  TextDocument document;
  int64_t revision = 0;
  std::optional<TextOp> pending;  // sent, not acknowledged
  std::optional<TextOp> buffer;   // local edits not sent yet
  int64_t last_seen = 0;          // for R1: strictly increasing, no gaps
  bool joined = false;
  std::string failure;

  void Fail(std::string why) {
    if (failure.empty()) failure = std::move(why);
  }

  void LocalEdit(std::mt19937_64& rng) {
    const auto size = static_cast<int64_t>(document.size());
    TextOp op;
    if (size > 0 && rng() % 3 == 0) {
      const auto pos = static_cast<int64_t>(rng() % size);
      op = TextOp::DeleteAt(pos, 1 + static_cast<int64_t>(rng() % std::min<int64_t>(3, size - pos)));
    } else {
      const char16_t c = static_cast<char16_t>(u'a' + rng() % 26);
      op = TextOp::InsertAt(static_cast<int64_t>(rng() % (size + 1)), std::u16string_view(&c, 1));
    }
    if (!engines::ApplyTextOp(document, op).ok()) return Fail("local apply failed");
    if (buffer) {
      TextOp composed;
      if (engines::ComposeTextOps(*buffer, op, composed)) {
        buffer = std::move(composed);
      } else {
        buffer.reset();
      }
    } else {
      buffer = std::move(op);
    }
  }

  // Sends the buffer when nothing is in flight.
  void MaybeSend(World& world, const std::string& doc) {
    if (pending || !buffer || !joined) return;
    pending = std::move(buffer);
    buffer.reset();
    std::string payload;
    engines::SerializeTextOp(*pending, payload);
    world.Submit(connection, doc, std::move(payload), revision);
  }

  void Receive(const Outbound& message) {
    if (const auto* join = std::get_if<JoinResponse>(&message)) {
      if (joined) return Fail("second join response");
      joined = true;
      revision = last_seen = join->revision;
      auto loaded = engines::LoadTextDocument(join->snapshot, document);
      if (!loaded.ok()) Fail("bad snapshot");
    } else if (const auto* ack = std::get_if<OpResponse>(&message)) {
      if (!joined) return Fail("ack before join (R2)");
      if (!ack->success) return Fail("op rejected: " + ack->error.value_or(""));
      if (!pending) return Fail("ack without pending op");
      if (ack->new_revision != revision) {
        // Not absorbed: the ack stands for the next revision (R1/R3).
        if (ack->new_revision != last_seen + 1) return Fail("ack revision gap");
        last_seen = revision = ack->new_revision;
      }
      pending.reset();
    } else if (const auto* event = std::get_if<std::shared_ptr<const OpEvent>>(&message)) {
      if (!joined) return Fail("event before join (R2)");
      if ((*event)->revision != last_seen + 1) {
        return Fail("event revision " + std::to_string((*event)->revision) + " after " + std::to_string(last_seen));
      }
      last_seen = revision = (*event)->revision;
      TextOp incoming;
      if (!engines::ParseTextOp((*event)->payload, incoming).ok()) return Fail("bad event payload");
      // X' = T(X, P, IncomingWins), P' = T(P, X, ExistingWins) — then the same against the buffer.
      for (auto* local : {&pending, &buffer}) {
        if (!*local) continue;
        TextOp incoming_next, local_next;
        engines::TransformTextOp(incoming, **local, Priority::kIncomingWins, incoming_next);
        engines::TransformTextOp(**local, incoming, Priority::kExistingWins, local_next);
        incoming = std::move(incoming_next);
        **local = std::move(local_next);
      }
      if (!engines::ApplyTextOp(document, incoming).ok()) Fail("remote apply failed");
    }
  }
};

void RunCase(uint64_t seed, int peers, int steps) {
  std::mt19937_64 rng(seed);
  World world;
  const std::string doc = "doc-" + std::to_string(seed);
  std::vector<OtClient> clients(static_cast<size_t>(peers));
  // Peers join at different moments, some after edits already happened.
  std::vector<int> join_step(clients.size());
  for (auto& s : join_step) s = static_cast<int>(rng() % (steps / 3 + 1));
  join_step[0] = 0;
  std::vector<std::vector<Outbound>> inboxes(clients.size());

  for (int step = 0; step < steps; ++step) {
    for (size_t i = 0; i < clients.size(); ++i) {
      if (join_step[i] == step) world.router.Join(clients[i].connection, std::string("j"), doc, "text", 1, [](bool) {});
    }
    // Let the server run a random amount: some requests overtake others' deliveries.
    if (rng() % 2 == 0) {
      world.io.restart();
      world.io.poll_one();
    }
    if (rng() % 4 == 0) world.Drain();
    auto& client = clients[rng() % clients.size()];
    const size_t index = static_cast<size_t>(&client - clients.data());
    for (auto& m : client.connection->Take()) inboxes[index].push_back(std::move(m));
    switch (rng() % 3) {
      case 0:
        if (client.joined) client.LocalEdit(rng);
        break;
      case 1: {  // deliver a random prefix of what arrived
        auto& inbox = inboxes[index];
        const size_t n = inbox.empty() ? 0 : 1 + rng() % inbox.size();
        for (size_t k = 0; k < n; ++k) client.Receive(inbox[k]);
        inbox.erase(inbox.begin(), inbox.begin() + static_cast<std::ptrdiff_t>(n));
        break;
      }
      default:
        client.MaybeSend(world, doc);
    }
  }
  // Quiesce: flush every buffer and deliver everything.
  for (int round = 0; round < 1000; ++round) {
    world.Drain();
    bool busy = false;
    for (size_t i = 0; i < clients.size(); ++i) {
      for (auto& m : clients[i].connection->Take()) inboxes[i].push_back(std::move(m));
      for (auto& m : inboxes[i]) clients[i].Receive(m);
      inboxes[i].clear();
      clients[i].MaybeSend(world, doc);
      busy = busy || clients[i].pending || clients[i].buffer;
    }
    if (!busy) break;
  }
  world.Drain();
  auto observer = std::make_shared<TestConnection>();
  world.Join(observer, doc);
  const auto final_join = Only<JoinResponse>(observer->Take()).at(0);
  TextDocument server;
  ASSERT_TRUE(engines::LoadTextDocument(final_join.snapshot, server).ok());
  for (size_t i = 0; i < clients.size(); ++i) {
    SCOPED_TRACE("seed " + std::to_string(seed) + ", peer " + std::to_string(i));
    ASSERT_TRUE(clients[i].failure.empty()) << clients[i].failure;
    ASSERT_TRUE(clients[i].joined);
    EXPECT_EQ(clients[i].revision, final_join.revision);
    ASSERT_TRUE(server.Equals(clients[i].document.Text())) << "diverged";
  }
}

TEST(SessionConvergence, RandomizedPeersConvergeAndObserveOrderingGuarantees) {
  const uint64_t seed = EnvOr("OPSTREAM_PROP_SEED", 20261126);
  const uint64_t cases = EnvOr("OPSTREAM_PROP_CASES", 1000);
  for (uint64_t c = 0; c < cases; ++c) {
    const uint64_t case_seed = seed + c;
    RunCase(case_seed, 2 + static_cast<int>(case_seed % 6), 200);
    if (::testing::Test::HasFailure()) {
      FAIL() << "replay with OPSTREAM_PROP_SEED=" << case_seed << " OPSTREAM_PROP_CASES=1";
    }
  }
}

}  // namespace
}  // namespace opstream::session::testing
