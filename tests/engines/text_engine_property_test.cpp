// Seeded randomized tests of the text engine's OT laws and of a multi-peer OT session.
//
// Defaults keep the run short; OPSTREAM_PROP_CASES=<n> runs n cases per property and
// OPSTREAM_PROP_SEED=<s> changes the base seed. Case i uses seed base + i; a failure prints that
// seed, and OPSTREAM_PROP_SEED=<it> OPSTREAM_PROP_CASES=1 replays the failing case alone.
// A RapidCheck property (with shrinking) covers TP1 as well; it honours RC_PARAMS.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstdio>
#include <deque>
#include <sstream>

#include "engines/json/utf16.hpp"
#include "engines/text/text_engine.hpp"
#include "ot_test_support.hpp"

namespace opstream::engines {
namespace {

using testing::MiniOtServer;
using testing::PropertyBaseSeed;
using testing::PropertyCaseCount;
using testing::TestRandom;

// Characters that exercise escaping and UTF-16 counting: ASCII, JSON-special characters, a BMP
// non-ASCII letter and a surrogate pair (two units that random edits may split, §1.1).
const std::u16string kAlphabet = u"abcXYZ<\"&\u00E9\U0001F600";
// Without the surrogate pair, for ops that travel as JSON: an edit that splits a pair can leave a
// lone surrogate inside an insert text (e.g. when a client composes its buffered edits), and a lone
// surrogate is written as U+FFFD (§1.1, D11), so such an op cannot cross the wire unchanged.
const std::u16string kBmpAlphabet = u"abcXYZ<\"&\u00E9\u4E2D";

std::u16string RandomText(TestRandom& random, int64_t min_length, int64_t max_length,
                          const std::u16string& alphabet = kAlphabet) {
  std::u16string text;
  const int64_t length = random.Between(min_length, max_length);
  for (int64_t i = 0; i < length; ++i) {
    const char16_t unit = alphabet[static_cast<size_t>(random.Between(0, static_cast<int64_t>(alphabet.size()) - 1))];
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      text.push_back(unit);
      text.push_back(alphabet.back());
    } else if (unit < 0xDC00 || unit > 0xDFFF) {
      text.push_back(unit);
    }
  }
  return text;
}

// A random op that stays within a document of `length` units. Components are not always
// compacted: zero-length components and neighbours of the same kind occur, as clients may send them.
TextOp RandomOp(TestRandom& random, int64_t length, const std::u16string& alphabet = kAlphabet) {
  TextOp op;
  int64_t position = 0;
  const int64_t steps = random.Between(1, 4);
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t left = length - position;
    const int64_t choice = random.Between(0, 99);
    if (choice < 5) {
      switch (random.Between(0, 2)) {
        case 0:
          op.AppendRetain(0);
          break;
        case 1:
          op.AppendDelete(0);
          break;
        default:
          op.AppendInsert(u"");
      }
    } else if (choice < 40 && left > 0) {
      const int64_t count = random.Between(1, left);
      op.AppendRetain(count);
      position += count;
    } else if (choice < 65 && left > 0) {
      const int64_t count = random.Between(1, std::min<int64_t>(left, 4));
      op.AppendDelete(count);
      position += count;
    } else {
      op.AppendInsert(RandomText(random, 1, 3, alphabet));
    }
  }
  if (random.Chance(30) && position < length) op.AppendRetain(length - position);
  return op;
}

std::string Describe(const TextOp& op) {
  std::string out;
  SerializeTextOp(op, out);
  return out;
}

// Printable form of a text: ASCII as is, every other unit as \uXXXX (so lone surrogates show).
std::string Describe(std::u16string_view text) {
  std::string out = "\"";
  for (const char16_t unit : text) {
    if (unit >= 0x20 && unit < 0x7F) {
      out += static_cast<char>(unit);
    } else {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04X", static_cast<unsigned>(unit));
      out += escape;
    }
  }
  return out + "\"";
}

TextDocument Applied(const TextDocument& start, const TextOp& op) {
  TextDocument document(start);
  const Status status = ApplyTextOp(document, op);
  EXPECT_TRUE(status.ok()) << status.message();
  return document;
}

// Runs `check(random)` for every case; stops at the first failing case and reports its seed.
template <typename Check>
void ForEachCase(uint64_t default_seed, uint64_t default_cases, Check check) {
  const uint64_t base = PropertyBaseSeed(default_seed);
  const uint64_t cases = PropertyCaseCount(default_cases);
  for (uint64_t i = 0; i < cases; ++i) {
    TestRandom random(base + i);
    std::string failure = check(random);
    if (!failure.empty()) {
      FAIL() << "case " << i << " failed; replay with OPSTREAM_PROP_SEED=" << (base + i) << " OPSTREAM_PROP_CASES=1\n"
             << failure;
    }
  }
}

TEST(TextEngineProperties, Tp1HoldsForBothPriorityPairs) {
  ForEachCase(0x7E57'0001, 20000, [](TestRandom& random) -> std::string {
    const TextDocument start(RandomText(random, 0, 12));
    const TextOp a = RandomOp(random, static_cast<int64_t>(start.size()));
    const TextOp b = RandomOp(random, static_cast<int64_t>(start.size()));
    for (const Priority b_priority : {Priority::kExistingWins, Priority::kIncomingWins}) {
      const Priority a_priority =
          b_priority == Priority::kExistingWins ? Priority::kIncomingWins : Priority::kExistingWins;
      TextOp b_after_a, a_after_b;
      TransformTextOp(b, a, b_priority, b_after_a);
      TransformTextOp(a, b, a_priority, a_after_b);
      const TextDocument left = Applied(Applied(start, a), b_after_a);
      const TextDocument right = Applied(Applied(start, b), a_after_b);
      if (left.Text() != right.Text()) {
        std::ostringstream message;
        message << "S=" << Describe(start.Text()) << "\nA=" << Describe(a) << "\nB=" << Describe(b) << "\nT(B,A,"
                << (b_priority == Priority::kExistingWins ? "EW" : "IW") << ")=" << Describe(b_after_a)
                << "\nT(A,B)=" << Describe(a_after_b) << "\nS.A.T(B,A)=" << Describe(left.Text())
                << "\nS.B.T(A,B)=" << Describe(right.Text());
        return message.str();
      }
    }
    return {};
  });
}

TEST(TextEngineProperties, TransformOutputIsCompacted) {
  ForEachCase(0x7E57'0002, 5000, [](TestRandom& random) -> std::string {
    const int64_t length = random.Between(0, 12);
    const TextOp a = RandomOp(random, length);
    const TextOp b = RandomOp(random, length);
    TextOp out;
    TransformTextOp(a, b, random.Chance(50) ? Priority::kExistingWins : Priority::kIncomingWins, out);
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i].count == 0 || (i > 0 && out[i].kind == out[i - 1].kind)) return "not compacted: " + Describe(out);
    }
    return {};
  });
}

TEST(TextEngineProperties, InvertThenApplyRestoresTheState) {
  ForEachCase(0x7E57'0003, 20000, [](TestRandom& random) -> std::string {
    const TextDocument start(RandomText(random, 0, 12));
    const TextOp op = RandomOp(random, static_cast<int64_t>(start.size()));
    TextOp inverse;
    InvertTextOp(op, start, inverse);
    const TextDocument restored = Applied(Applied(start, op), inverse);
    if (restored.Text() != start.Text()) {
      return "S=" + Describe(start.Text()) + "\nop=" + Describe(op) + "\ninverse=" + Describe(inverse) +
             "\nrestored=" + Describe(restored.Text());
    }
    return {};
  });
}

TEST(TextEngineProperties, ComposeEqualsSequentialApply) {
  ForEachCase(0x7E57'0004, 20000, [](TestRandom& random) -> std::string {
    const TextDocument start(RandomText(random, 0, 12));
    const TextOp first = RandomOp(random, static_cast<int64_t>(start.size()));
    const TextDocument middle = Applied(start, first);
    const TextOp second = RandomOp(random, static_cast<int64_t>(middle.size()));
    const TextDocument sequential = Applied(middle, second);
    TextOp composed;
    const bool has_effect = ComposeTextOps(first, second, composed);
    const TextDocument at_once = has_effect ? Applied(start, composed) : start;
    if (at_once.Text() != sequential.Text()) {
      return "S=" + Describe(start.Text()) + "\nA=" + Describe(first) + "\nB=" + Describe(second) +
             "\ncompose=" + (has_effect ? Describe(composed) : std::string("null")) +
             "\nsequential=" + Describe(sequential.Text()) + "\ncomposed=" + Describe(at_once.Text());
    }
    return {};
  });
}

TEST(TextEngineProperties, SerializedOpsParseBackUnchanged) {
  ForEachCase(0x7E57'0005, 5000, [](TestRandom& random) -> std::string {
    const TextOp op = RandomOp(random, random.Between(0, 50));
    std::string payload;
    SerializeTextOp(op, payload);
    TextOp parsed;
    const Status status = ParseTextOp(payload, parsed);
    if (!status.ok()) return payload + ": " + status.message();
    if (!(parsed == op)) return "round trip changed " + payload + " into " + Describe(parsed);
    return {};
  });
}

TEST(TextEngineProperties, SnapshotsLoadBackUnchanged) {
  ForEachCase(0x7E57'0006, 5000, [](TestRandom& random) -> std::string {
    // No lone surrogates here: those become U+FFFD in a snapshot by design (§1.1).
    const TextDocument document(RandomText(random, 0, 40));
    std::string snapshot;
    SerializeTextDocument(document, snapshot);
    TextDocument loaded;
    const Status status = LoadTextDocument(snapshot, loaded);
    if (!status.ok()) return snapshot + ": " + status.message();
    if (loaded.Text() != document.Text()) return "round trip changed " + snapshot;
    return {};
  });
}

// ------------------------------------------------------------------------------------------------
// Multi-peer OT: a server (MiniOtServer: op log, rebase with ExistingWins, absorption) and clients
// running the usual pending/buffer state machine (engines.md §3.4), with random interleavings of
// local edits and message deliveries. Channels are FIFO per direction and client.

class OtSession {
 public:
  OtSession(const Engine& engine, std::u16string_view initial, size_t client_count, TestRandom& random)
      : random_(random), server_(engine, std::make_unique<TextDocument>(initial), 1) {
    for (size_t i = 0; i < client_count; ++i) {
      Client client;
      client.document = TextDocument(initial);
      client.revision = 1;
      clients_.push_back(std::move(client));
    }
  }

  // Returns a description of the first problem, or an empty string.
  std::string Run(int steps) {
    for (int step = 0; step < steps && error_.empty(); ++step) {
      const size_t c = static_cast<size_t>(random_.Between(0, static_cast<int64_t>(clients_.size()) - 1));
      const int64_t action = random_.Between(0, 99);
      if (action < 40) {
        LocalEdit(c);
      } else if (action < 70) {
        ServerReceive(c);
      } else {
        ClientReceive(c);
      }
    }
    // Deliver everything still in flight.
    bool busy = true;
    while (busy && error_.empty()) {
      busy = false;
      for (size_t c = 0; c < clients_.size(); ++c) {
        if (!clients_[c].to_server.empty()) {
          ServerReceive(c);
          busy = true;
        }
        if (!clients_[c].inbox.empty()) {
          ClientReceive(c);
          busy = true;
        }
      }
    }
    if (!error_.empty()) return error_;
    const auto* server_document = AsTextDocument(server_.state());
    for (size_t c = 0; c < clients_.size(); ++c) {
      const Client& client = clients_[c];
      if (client.pending || client.buffer) return "client " + std::to_string(c) + " still has unacknowledged ops";
      if (client.revision != server_.revision()) {
        return "client " + std::to_string(c) + " is at revision " + std::to_string(client.revision) +
               ", the server at " + std::to_string(server_.revision());
      }
      if (client.document.Text() != server_document->Text()) {
        return "client " + std::to_string(c) + " has " + Describe(client.document.Text()) + ", the server " +
               Describe(server_document->Text()) + "\n" + history_;
      }
    }
    return {};
  }

 private:
  struct ToClient {
    bool is_ack;
    int64_t revision;
    std::string payload;  // broadcast op
  };
  struct ToServer {
    std::string payload;
    int64_t base_revision;
  };
  struct Client {
    TextDocument document;
    int64_t revision = 0;
    std::unique_ptr<TextOp> pending;  // sent, not yet acknowledged
    std::unique_ptr<TextOp> buffer;   // local edits made while `pending` is in flight
    std::deque<ToClient> inbox;
    std::deque<ToServer> to_server;
  };

  void Send(Client& client, const TextOp& op) {
    std::string payload;
    SerializeTextOp(op, payload);
    client.to_server.push_back({std::move(payload), client.revision});
  }

  void LocalEdit(size_t c) {
    Client& client = clients_[c];
    TextOp op = RandomOp(random_, static_cast<int64_t>(client.document.size()), kBmpAlphabet);
    history_ += "client " + std::to_string(c) + " edits " + Describe(op) + "\n";
    if (!ApplyTextOp(client.document, op).ok()) return Fail("local apply failed");
    if (!client.pending) {
      client.pending = std::make_unique<TextOp>(std::move(op));
      Send(client, *client.pending);
    } else if (!client.buffer) {
      client.buffer = std::make_unique<TextOp>(std::move(op));
    } else {
      auto composed = std::make_unique<TextOp>();
      if (ComposeTextOps(*client.buffer, op, *composed)) {
        client.buffer = std::move(composed);
      } else {
        client.buffer.reset();  // the buffered edits cancel out
      }
    }
  }

  void ServerReceive(size_t c) {
    Client& sender = clients_[c];
    if (sender.to_server.empty()) return;
    ToServer message = std::move(sender.to_server.front());
    sender.to_server.pop_front();
    const MiniOtServer::Result result = server_.Submit(message.payload, message.base_revision);
    history_ += "server gets " + message.payload + " @" + std::to_string(message.base_revision) + " from client " +
                std::to_string(c) + " -> " + (result.absorbed ? "absorbed" : result.stored_payload) + "\n";
    if (!result.success) return Fail("server rejected " + message.payload + ": " + result.error);
    sender.inbox.push_back({true, result.new_revision, {}});
    if (result.absorbed) return;
    for (size_t other = 0; other < clients_.size(); ++other) {
      if (other != c) clients_[other].inbox.push_back({false, result.new_revision, result.stored_payload});
    }
  }

  void ClientReceive(size_t c) {
    Client& client = clients_[c];
    if (client.inbox.empty()) return;
    ToClient message = std::move(client.inbox.front());
    client.inbox.pop_front();
    if (message.is_ack) {
      client.revision = message.revision;
      client.pending = std::move(client.buffer);
      if (client.pending) Send(client, *client.pending);
      return;
    }
    TextOp remote;
    if (!ParseTextOp(message.payload, remote).ok()) return Fail("client cannot parse " + message.payload);
    // X' = T(X, P, IncomingWins) and P' = T(P, X, ExistingWins), then the same against the buffer.
    for (std::unique_ptr<TextOp>* local : {&client.pending, &client.buffer}) {
      if (!*local) continue;
      TextOp remote_after, local_after;
      TransformTextOp(remote, **local, Priority::kIncomingWins, remote_after);
      TransformTextOp(**local, remote, Priority::kExistingWins, local_after);
      remote = std::move(remote_after);
      **local = std::move(local_after);
    }
    if (!ApplyTextOp(client.document, remote).ok()) return Fail("remote apply failed");
    client.revision = message.revision;
  }

  void Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message) + "\n" + history_;
  }

  TestRandom& random_;
  MiniOtServer server_;
  std::vector<Client> clients_;
  std::string history_;
  std::string error_;
};

TEST(TextEngineProperties, MultiPeerSessionsConverge) {
  const TextEngine engine;
  ForEachCase(0x7E57'0007, 1500, [&engine](TestRandom& random) -> std::string {
    const std::u16string initial = RandomText(random, 0, 10, kBmpAlphabet);
    const auto clients = static_cast<size_t>(random.Between(2, 4));
    OtSession session(engine, initial, clients, random);
    return session.Run(static_cast<int>(random.Between(10, 80)));
  });
}

// ------------------------------------------------------------------------------------------------
// RapidCheck: TP1 with shrinking to a minimal counterexample.

// Builds an op within a document of `length` units from shrinkable specs (kind, amount, text).
TextOp OpFromSpecs(const std::vector<std::tuple<int, int, std::string>>& specs, int64_t length) {
  TextOp op;
  int64_t position = 0;
  for (const auto& [kind, amount, text] : specs) {
    const int64_t left = length - position;
    if (kind == 0 && left > 0) {
      const int64_t count = 1 + amount % left;
      op.AppendRetain(count);
      position += count;
    } else if (kind == 1 && left > 0) {
      const int64_t count = 1 + amount % left;
      op.AppendDelete(count);
      position += count;
    } else if (kind == 2) {
      op.AppendInsertUtf8(text.empty() ? "x" : text);
    }
  }
  return op;
}

void Tp1Property() {
  const auto spec_gen = rc::gen::container<std::vector<std::tuple<int, int, std::string>>>(
      rc::gen::tuple(rc::gen::inRange(0, 3), rc::gen::inRange(0, 20),
                     rc::gen::container<std::string>(rc::gen::elementOf(std::string("ab<\"")))));
  const std::string start_text = *rc::gen::container<std::string>(rc::gen::elementOf(std::string("abcd")));
  const TextDocument start(json::Utf8ToUtf16(start_text));
  const TextOp a = OpFromSpecs(*spec_gen, static_cast<int64_t>(start.size()));
  const TextOp b = OpFromSpecs(*spec_gen, static_cast<int64_t>(start.size()));
  TextOp b_after_a, a_after_b;
  TransformTextOp(b, a, Priority::kExistingWins, b_after_a);
  TransformTextOp(a, b, Priority::kIncomingWins, a_after_b);
  RC_ASSERT(Applied(Applied(start, a), b_after_a).Text() == Applied(Applied(start, b), a_after_b).Text());
}

// Runs with a fixed seed (OPSTREAM_PROP_SEED) unless RC_PARAMS is set, in which case RapidCheck's
// own configuration (seed, max_success, ...) applies.
TEST(TextEngineRapidCheck, Tp1WithServerPriorities) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  if (std::getenv("RC_PARAMS") == nullptr) {
    params.seed = PropertyBaseSeed(0x7E57'0009);
    params.maxSuccess = 300;
  }
  rc::detail::TestMetadata metadata;
  metadata.id = "TextEngineRapidCheck/Tp1WithServerPriorities";
  metadata.description = "TP1 with ExistingWins/IncomingWins";
  const rc::detail::TestResult result = rc::detail::checkTestable(&Tp1Property, metadata, params);
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream message;
    rc::detail::printResultMessage(result, message);
    FAIL() << message.str() << "\nseed " << params.seed;
  }
}

}  // namespace
}  // namespace opstream::engines
