// Seeded randomized tests of the rich-text engine: the OT laws (TP1 with the server/client
// priorities, invert, compose), in-place Apply against a literal model of §5.6, JSON round trips,
// and multi-peer sessions through the real session layer (DocumentRouter, memory store).
//
// Case counts: the defaults run a few thousand cases per property in well under a second each.
// OPSTREAM_PROP_CASES=<n> runs n cases per property and OPSTREAM_PROP_SEED=<s> changes the base
// seed; case i uses seed base + i, a failure prints it, and OPSTREAM_PROP_SEED=<it>
// OPSTREAM_PROP_CASES=1 replays it alone. The RapidCheck property honours RC_PARAMS.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <deque>
#include <optional>
#include <sstream>

#include "../session/session_test_support.hpp"
#include "engines/json/utf16.hpp"
#include "engines/rich_text/rich_text_engine.hpp"
#include "ot_test_support.hpp"

namespace opstream::engines {
namespace {

using testing::PropertyBaseSeed;
using testing::PropertyCaseCount;
using testing::TestRandom;

// Attribute maps ops and documents draw from. Some are reused (shared identity, so neighbours
// merge), others parsed afresh each time (new identity), as happens with real payloads.
const std::vector<std::string> kAttributeJson = {R"({"bold":true})",
                                                 R"({"italic":true})",
                                                 R"({"bold":null})",
                                                 R"({"color":"red"})",
                                                 R"({"bold":true,"color":"blue"})",
                                                 R"({})",
                                                 R"({"size":1})",
                                                 R"({"italic":null,"size":"2"})",
                                                 R"({"link":{"href":"https://x/?a=1&b=<2>"}})"};
const std::u16string kAlphabet = u"abcXYZ<\"&\u00E9\u4E2D";

class AttributePool {
 public:
  AttributePool() {
    for (const auto& json : kAttributeJson) shared_.push_back(Parse(json));
  }
  RichTextAttributes Random(TestRandom& random, int null_percent = 40) {
    if (random.Chance(null_percent)) return nullptr;
    const auto index = static_cast<size_t>(random.Between(0, static_cast<int64_t>(kAttributeJson.size()) - 1));
    return random.Chance(50) ? shared_[index] : Parse(kAttributeJson[index]);
  }

 private:
  static RichTextAttributes Parse(const std::string& json) {
    RichTextAttributes out;
    EXPECT_TRUE(ParseRichTextAttributes(json, out).ok()) << json;
    return out;
  }
  std::vector<RichTextAttributes> shared_;
};

std::u16string RandomText(TestRandom& random, int64_t min_length, int64_t max_length) {
  std::u16string text;
  const int64_t length = random.Between(min_length, max_length);
  for (int64_t i = 0; i < length; ++i) {
    text.push_back(kAlphabet[static_cast<size_t>(random.Between(0, static_cast<int64_t>(kAlphabet.size()) - 1))]);
  }
  return text;
}

RichTextDocument RandomDocument(TestRandom& random, AttributePool& pool) {
  RichTextDocument document;
  const int64_t runs = random.Between(0, 5);
  for (int64_t i = 0; i < runs; ++i) {
    document.AppendRun(RandomText(random, 1, 4), MergeRichTextAttributes(pool.Random(random), nullptr));
  }
  return document;
}

// A random op within a document of `length` units, not always compacted: zero-length components
// and neighbours of the same kind occur, as clients may send them.
RichTextOp RandomOp(TestRandom& random, AttributePool& pool, int64_t length) {
  RichTextOp op;
  int64_t position = 0;
  const int64_t steps = random.Between(1, 5);
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t left = length - position;
    const int64_t choice = random.Between(0, 99);
    if (choice < 5) {
      switch (random.Between(0, 2)) {
        case 0:
          op.AppendRetain(0, random.Chance(50) ? nullptr : pool.Random(random, 0));
          break;
        case 1:
          op.AppendDelete(0);
          break;
        default:
          op.AppendInsert(u"", pool.Random(random));
      }
    } else if (choice < 45 && left > 0) {
      const int64_t count = random.Between(1, left);
      op.AppendRetain(count, random.Chance(55) ? nullptr : pool.Random(random, 0));
      position += count;
    } else if (choice < 65 && left > 0) {
      const int64_t count = random.Between(1, std::min<int64_t>(left, 4));
      op.AppendDelete(count);
      position += count;
    } else {
      op.AppendInsert(RandomText(random, 1, 3), pool.Random(random));
    }
  }
  if (random.Chance(30) && position < length) op.AppendRetain(length - position);
  return op;
}

std::string Describe(const RichTextOp& op) {
  std::string out;
  SerializeRichTextOp(op, out);
  return out;
}

std::string Describe(const RichTextDocument& document) {
  std::string out;
  SerializeRichTextDocument(document, out);
  return out;
}

RichTextDocument Copy(const RichTextDocument& document) {
  RichTextDocument copy;
  const std::u16string text = document.Text();
  int64_t position = 0;
  for (size_t i = 0; i < document.run_count(); ++i) {
    const RichTextRun& run = document.run(i);
    copy.AppendRun(std::u16string_view(text).substr(static_cast<size_t>(position), static_cast<size_t>(run.length)),
                   run.attributes);
    position += run.length;
  }
  return copy;
}

RichTextDocument Applied(const RichTextDocument& start, const RichTextOp& op) {
  RichTextDocument document = Copy(start);
  const Status status = ApplyRichTextOp(document, op);
  EXPECT_TRUE(status.ok()) << status.message();
  return document;
}

// Identity-level equality: same text, same runs, runs' attributes equal in the sense of §5.4.
bool SameRuns(const RichTextDocument& a, const RichTextDocument& b) {
  if (a.Text() != b.Text() || a.run_count() != b.run_count()) return false;
  for (size_t i = 0; i < a.run_count(); ++i) {
    if (a.run(i).length != b.run(i).length || !RichTextAttributesEqual(a.run(i).attributes, b.run(i).attributes)) {
      return false;
    }
  }
  return true;
}

// What a client editor sees: per character, the attribute values as JSON (value equality).
std::vector<std::pair<char16_t, std::string>> Rendered(const RichTextDocument& document) {
  std::vector<std::pair<char16_t, std::string>> out;
  const std::u16string text = document.Text();
  size_t position = 0;
  for (size_t i = 0; i < document.run_count(); ++i) {
    std::string attributes;
    AppendRichTextAttributes(attributes, document.run(i).attributes);
    for (int64_t k = 0; k < document.run(i).length; ++k) out.emplace_back(text[position++], attributes);
  }
  return out;
}

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

// ------------------------------------------------------------------------------------------------
// A literal transcription of §5.6 (new run list built from scratch), to check the in-place Apply.

struct ModelRun {
  std::u16string text;
  RichTextAttributes attributes;
};

std::vector<ModelRun> ModelOf(const RichTextDocument& document) {
  std::vector<ModelRun> runs;
  const std::u16string text = document.Text();
  size_t position = 0;
  for (size_t i = 0; i < document.run_count(); ++i) {
    const auto length = static_cast<size_t>(document.run(i).length);
    runs.push_back({text.substr(position, length), document.run(i).attributes});
    position += length;
  }
  return runs;
}

std::vector<ModelRun> ModelApply(const std::vector<ModelRun>& state, const RichTextOp& op) {
  std::vector<ModelRun> out;
  const auto push = [&out](std::u16string_view text, const RichTextAttributes& attributes) {
    if (text.empty()) return;
    if (!out.empty() && RichTextAttributesEqual(out.back().attributes, attributes)) {
      out.back().text.append(text);
    } else {
      out.push_back({std::u16string(text), attributes});
    }
  };
  size_t run = 0, offset = 0;
  const auto next = [&](int64_t k, std::u16string_view& text, RichTextAttributes& attributes) {
    const ModelRun& current = state[run];
    const size_t take = std::min(static_cast<size_t>(k), current.text.size() - offset);
    text = std::u16string_view(current.text).substr(offset, take);
    attributes = current.attributes;
    offset += take;
    if (offset == current.text.size()) ++run, offset = 0;
  };
  for (size_t i = 0; i < op.size(); ++i) {
    const RichTextComponentView c = op[i];
    int64_t k = c.count;
    std::u16string_view piece;
    RichTextAttributes attributes;
    switch (c.kind) {
      case RichTextComponentKind::kInsert:
        push(c.text, MergeRichTextAttributes(nullptr, *c.attributes));
        break;
      case RichTextComponentKind::kRetain:
        while (k > 0 && run < state.size()) {
          next(k, piece, attributes);
          push(piece, MergeRichTextAttributes(attributes, *c.attributes));
          k -= static_cast<int64_t>(piece.size());
        }
        break;
      case RichTextComponentKind::kDelete:
        while (k > 0 && run < state.size()) {
          next(k, piece, attributes);
          k -= static_cast<int64_t>(piece.size());
        }
        break;
    }
  }
  while (run < state.size()) {
    std::u16string_view piece;
    RichTextAttributes attributes;
    next(INT64_MAX, piece, attributes);
    push(piece, attributes);
  }
  return out;
}

bool SameAsModel(const RichTextDocument& document, const std::vector<ModelRun>& model) {
  const std::vector<ModelRun> actual = ModelOf(document);
  if (actual.size() != model.size()) return false;
  for (size_t i = 0; i < model.size(); ++i) {
    if (actual[i].text != model[i].text || !RichTextAttributesEqual(actual[i].attributes, model[i].attributes)) {
      return false;
    }
  }
  return true;
}

TEST(RichTextProperties, InPlaceApplyMatchesTheReferenceAlgorithm) {
  ForEachCase(0x2171'0001, 3000, [](TestRandom& random) -> std::string {
    AttributePool pool;
    RichTextDocument document = RandomDocument(random, pool);
    std::vector<ModelRun> model = ModelOf(document);
    // Several ops on the same document, so the editing position carries over between them.
    for (int step = 0; step < 8; ++step) {
      const std::string before = Describe(document);
      // Sometimes past the end: retains/deletes beyond the text are ignored (§5.6).
      const RichTextOp op = RandomOp(random, pool, static_cast<int64_t>(document.size()) + random.Between(0, 2));
      if (!ApplyRichTextOp(document, op).ok()) return "apply failed";
      model = ModelApply(model, op);
      if (!SameAsModel(document, model)) {
        RichTextDocument expected;
        for (const auto& run : model) expected.AppendRun(run.text, run.attributes);
        return "step " + std::to_string(step) + "\nS=" + before + "\nop=" + Describe(op) +
               "\nin place: " + Describe(document) + "\nmodel:    " + Describe(expected);
      }
    }
    return {};
  });
}

TEST(RichTextProperties, Tp1HoldsForBothPriorityPairs) {
  ForEachCase(0x2171'0002, 5000, [](TestRandom& random) -> std::string {
    AttributePool pool;
    const RichTextDocument start = RandomDocument(random, pool);
    const auto length = static_cast<int64_t>(start.size());
    const RichTextOp a = RandomOp(random, pool, length);
    const RichTextOp b = RandomOp(random, pool, length);
    for (const Priority b_priority : {Priority::kExistingWins, Priority::kIncomingWins}) {
      const Priority a_priority =
          b_priority == Priority::kExistingWins ? Priority::kIncomingWins : Priority::kExistingWins;
      RichTextOp b_after_a, a_after_b;
      const bool has_b = TransformRichTextOp(b, a, b_priority, b_after_a);
      const bool has_a = TransformRichTextOp(a, b, a_priority, a_after_b);
      const RichTextDocument left = has_b ? Applied(Applied(start, a), b_after_a) : Applied(start, a);
      const RichTextDocument right = has_a ? Applied(Applied(start, b), a_after_b) : Applied(start, b);
      // Same runs with identical attribute identities, hence the same snapshot bytes.
      if (!SameRuns(left, right) || Describe(left) != Describe(right)) {
        std::ostringstream message;
        message << "S=" << Describe(start) << "\nA=" << Describe(a) << "\nB=" << Describe(b) << "\nT(B,A,"
                << (b_priority == Priority::kExistingWins ? "EW" : "IW") << ")=" << Describe(b_after_a)
                << "\nT(A,B)=" << Describe(a_after_b) << "\nS.A.T(B,A)=" << Describe(left)
                << "\nS.B.T(A,B)=" << Describe(right);
        return message.str();
      }
    }
    return {};
  });
}

TEST(RichTextProperties, InvertThenApplyRestoresTheState) {
  ForEachCase(0x2171'0003, 5000, [](TestRandom& random) -> std::string {
    AttributePool pool;
    const RichTextDocument start = RandomDocument(random, pool);
    const RichTextOp op = RandomOp(random, pool, static_cast<int64_t>(start.size()));
    RichTextOp inverse;
    InvertRichTextOp(op, start, inverse);
    const RichTextDocument restored = Applied(Applied(start, op), inverse);
    if (!SameRuns(restored, start)) {
      return "S=" + Describe(start) + "\nop=" + Describe(op) + "\ninverse=" + Describe(inverse) +
             "\nrestored=" + Describe(restored);
    }
    return {};
  });
}

TEST(RichTextProperties, ComposeEqualsSequentialApply) {
  ForEachCase(0x2171'0004, 5000, [](TestRandom& random) -> std::string {
    AttributePool pool;
    const RichTextDocument start = RandomDocument(random, pool);
    const RichTextOp first = RandomOp(random, pool, static_cast<int64_t>(start.size()));
    const RichTextDocument middle = Applied(start, first);
    const RichTextOp second = RandomOp(random, pool, static_cast<int64_t>(middle.size()));
    const RichTextDocument sequential = Applied(middle, second);
    RichTextOp composed;
    const bool has_result = ComposeRichTextOps(first, second, composed);
    const RichTextDocument at_once = has_result ? Applied(start, composed) : Copy(start);
    if (!SameRuns(at_once, sequential)) {
      return "S=" + Describe(start) + "\nA=" + Describe(first) + "\nB=" + Describe(second) +
             "\ncompose=" + (has_result ? Describe(composed) : std::string("null")) +
             "\nsequential=" + Describe(sequential) + "\ncomposed=  " + Describe(at_once);
    }
    return {};
  });
}

TEST(RichTextProperties, TransformOutputIsCompacted) {
  ForEachCase(0x2171'0005, 3000, [](TestRandom& random) -> std::string {
    AttributePool pool;
    const int64_t length = random.Between(0, 12);
    const RichTextOp a = RandomOp(random, pool, length);
    const RichTextOp b = RandomOp(random, pool, length);
    RichTextOp out;
    if (!TransformRichTextOp(a, b, random.Chance(50) ? Priority::kExistingWins : Priority::kIncomingWins, out)) {
      return out.empty() ? std::string() : "false with components";
    }
    for (size_t i = 1; i < out.size(); ++i) {
      const RichTextComponentView x = out[i - 1], y = out[i];
      if (x.kind == y.kind &&
          (x.kind == RichTextComponentKind::kDelete || RichTextAttributesEqual(*x.attributes, *y.attributes))) {
        return "not compacted: " + Describe(out);
      }
    }
    return {};
  });
}

TEST(RichTextProperties, OpsAndSnapshotsRoundTripThroughJson) {
  ForEachCase(0x2171'0006, 3000, [](TestRandom& random) -> std::string {
    AttributePool pool;
    const RichTextOp op = RandomOp(random, pool, random.Between(0, 50));
    std::string payload;
    SerializeRichTextOp(op, payload);
    RichTextOp parsed;
    if (Status status = ParseRichTextOp(payload, parsed); !status.ok()) return payload + ": " + status.message();
    if (Describe(parsed) != payload || parsed.size() != op.size()) return "op changed: " + payload;

    const RichTextDocument document = RandomDocument(random, pool);
    const std::string snapshot = Describe(document);
    RichTextDocument loaded;
    if (Status status = LoadRichTextDocument(snapshot, loaded); !status.ok()) return snapshot + ": " + status.message();
    if (Describe(loaded) != snapshot) return "snapshot changed: " + snapshot + " -> " + Describe(loaded);
    return {};
  });
}

TEST(RichTextProperties, CorruptedPayloadsAreRejectedOrAppliedSafely) {
  // Bad input never crashes: byte flips, truncations and splices of valid payloads either fail to
  // parse with a message or give an op that applies, serializes and parses back to itself.
  uint64_t accepted = 0;
  ForEachCase(0x2171'0007, 3000, [&accepted](TestRandom& random) -> std::string {
    AttributePool pool;
    RichTextDocument document = RandomDocument(random, pool);
    std::string payload = Describe(RandomOp(random, pool, static_cast<int64_t>(document.size())));
    const std::string noise = "{}[]\":,-0123456789.eE$tnul \\";
    for (int64_t edits = random.Between(1, 4); edits > 0 && !payload.empty(); --edits) {
      const auto at = static_cast<size_t>(random.Between(0, static_cast<int64_t>(payload.size()) - 1));
      switch (random.Between(0, 3)) {
        case 0:
          payload[at] = noise[static_cast<size_t>(random.Between(0, static_cast<int64_t>(noise.size()) - 1))];
          break;
        case 1:
          payload.resize(at);
          break;
        case 2:
          payload.erase(at, static_cast<size_t>(random.Between(1, 6)));
          break;
        default:
          payload.insert(at, payload.substr(at / 2, static_cast<size_t>(random.Between(1, 12))));
      }
    }
    RichTextOp op;
    const Status status = ParseRichTextOp(payload, op);
    if (!status.ok()) return status.message().empty() ? "rejection without a message: " + payload : std::string();
    ++accepted;
    const std::string before = Describe(document);
    if (!ApplyRichTextOp(document, op).ok()) return "a parsed op failed to apply: " + payload;
    RichTextOp reparsed;
    if (!ParseRichTextOp(Describe(op), reparsed).ok() || Describe(reparsed) != Describe(op)) {
      return "normalized op does not round-trip: " + Describe(op);
    }
    RichTextDocument reloaded;
    if (!LoadRichTextDocument(Describe(document), reloaded).ok() || Describe(reloaded) != Describe(document)) {
      return "snapshot does not round-trip after " + payload + " on " + before;
    }
    return {};
  });
  // Some corruptions must still parse (e.g. a changed digit), or the second half tests nothing.
  if (PropertyCaseCount(3000) >= 1000) {
    EXPECT_GT(accepted, 30u);
  }
}

// ------------------------------------------------------------------------------------------------
// RapidCheck: TP1 with shrinking to a minimal counterexample (plain and formatted edits).

RichTextOp OpFromSpecs(const std::vector<std::tuple<int, int, int>>& specs, int64_t length,
                       const std::vector<RichTextAttributes>& attributes) {
  RichTextOp op;
  int64_t position = 0;
  for (const auto& [kind, amount, style] : specs) {
    const int64_t left = length - position;
    const RichTextAttributes& attrs = attributes[static_cast<size_t>(style) % attributes.size()];
    if (kind == 0 && left > 0) {
      const int64_t count = 1 + amount % left;
      op.AppendRetain(count, attrs);
      position += count;
    } else if (kind == 1 && left > 0) {
      const int64_t count = 1 + amount % left;
      op.AppendDelete(count);
      position += count;
    } else if (kind == 2) {
      op.AppendInsert(std::u16string(static_cast<size_t>(1 + amount % 3), u'x'), attrs);
    }
  }
  return op;
}

void Tp1Property() {
  std::vector<RichTextAttributes> styles(1);  // index 0: no attributes
  for (const char* json : {R"({"b":true})", R"({"b":false})", R"({"b":null,"i":1})", R"({"i":2})"}) {
    RichTextAttributes parsed;
    RC_ASSERT(ParseRichTextAttributes(json, parsed).ok());
    styles.push_back(parsed);
  }
  const auto spec_gen = rc::gen::container<std::vector<std::tuple<int, int, int>>>(
      rc::gen::tuple(rc::gen::inRange(0, 3), rc::gen::inRange(0, 20), rc::gen::inRange(0, 5)));
  const std::string start_text = *rc::gen::container<std::string>(rc::gen::elementOf(std::string("abcd")));
  const int split = *rc::gen::inRange(0, 5);
  RichTextDocument start;
  const std::u16string text = json::Utf8ToUtf16(start_text);
  const size_t cut = std::min(text.size(), static_cast<size_t>(split));
  start.AppendRun(std::u16string_view(text).substr(0, cut), nullptr);
  start.AppendRun(std::u16string_view(text).substr(cut), styles[1]);
  const auto length = static_cast<int64_t>(start.size());
  const RichTextOp a = OpFromSpecs(*spec_gen, length, styles);
  const RichTextOp b = OpFromSpecs(*spec_gen, length, styles);
  RichTextOp b_after_a, a_after_b;
  const bool has_b = TransformRichTextOp(b, a, Priority::kExistingWins, b_after_a);
  const bool has_a = TransformRichTextOp(a, b, Priority::kIncomingWins, a_after_b);
  const RichTextDocument left = has_b ? Applied(Applied(start, a), b_after_a) : Applied(start, a);
  const RichTextDocument right = has_a ? Applied(Applied(start, b), a_after_b) : Applied(start, b);
  RC_ASSERT(Describe(left) == Describe(right));
}

TEST(RichTextRapidCheck, Tp1WithServerPriorities) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  if (std::getenv("RC_PARAMS") == nullptr) {
    params.seed = PropertyBaseSeed(0x2171'0009);
    params.maxSuccess = static_cast<int>(std::min<uint64_t>(PropertyCaseCount(500), 1'000'000));
  }
  rc::detail::TestMetadata metadata;
  metadata.id = "RichTextRapidCheck/Tp1WithServerPriorities";
  metadata.description = "rich-text TP1 with ExistingWins/IncomingWins";
  const rc::detail::TestResult result = rc::detail::checkTestable(&Tp1Property, metadata, params);
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream message;
    rc::detail::printResultMessage(result, message);
    FAIL() << message.str() << "\nseed " << params.seed;
  }
}

// ------------------------------------------------------------------------------------------------
// Multi-peer convergence through the real session layer: DocumentRouter with the rich-text engine,
// peers running the OT client state machine (one op in flight, later edits composed into a buffer,
// engines.md §3.4), joining at different moments, with random interleavings of server work and
// deliveries. Ops travel as JSON, so every replica has its own attribute identities; convergence is
// therefore checked on what editors render (text and per-character attribute values).

using session::JoinResponse;
using session::OpEvent;
using session::OpResponse;
using session::Outbound;
using session::testing::TestConnection;

struct RichWorld {
  RichWorld() : router(io, Engines(), store, backplane, session::SessionOptions{}) {}

  static const EngineRegistry& Engines() {
    static const EngineRegistry registry = [] {
      EngineRegistry r;
      r.Register(MakeTextEngine());
      r.Register(MakeRichTextEngine(), {"richtext"});
      return r;
    }();
    return registry;
  }

  // An io_context that ran out of work stays stopped until restarted, and then poll() does nothing.
  void Drain() {
    io.restart();
    while (io.poll() > 0) {
    }
  }
  void PollOne() {
    io.restart();
    io.poll_one();
  }

  boost::asio::io_context io;
  storage::MemoryDocumentStore store;
  backplane::LocalBackplane backplane;
  session::DocumentRouter router;
};

struct Peer {
  std::shared_ptr<TestConnection> connection = std::make_shared<TestConnection>();
  RichTextDocument document;
  int64_t revision = 0;
  std::optional<RichTextOp> pending;
  std::optional<RichTextOp> buffer;
  int64_t last_seen = 0;
  bool joined = false;
  std::string failure;
  std::deque<Outbound> inbox;

  void Fail(std::string why) {
    if (failure.empty()) failure = std::move(why);
  }

  void LocalEdit(TestRandom& random, AttributePool& pool) {
    RichTextOp op = RandomOp(random, pool, static_cast<int64_t>(document.size()));
    if (!ApplyRichTextOp(document, op).ok()) return Fail("local apply failed");
    if (!buffer) {
      buffer = std::move(op);
      return;
    }
    RichTextOp composed;
    if (ComposeRichTextOps(*buffer, op, composed)) {
      buffer = std::move(composed);
    } else {
      buffer.reset();
    }
  }

  void MaybeSend(RichWorld& world, const std::string& doc) {
    if (pending || !buffer || !joined) return;
    pending = std::move(buffer);
    buffer.reset();
    std::string payload;
    SerializeRichTextOp(*pending, payload);
    world.router.SubmitOp(connection, std::string("op"), doc, std::move(payload), revision, [](bool) {});
  }

  void Receive(const Outbound& message) {
    if (const auto* join = std::get_if<JoinResponse>(&message)) {
      if (joined) return Fail("second join response");
      joined = true;
      revision = last_seen = join->revision;
      if (!LoadRichTextDocument(join->snapshot, document).ok()) Fail("bad snapshot " + join->snapshot);
    } else if (const auto* ack = std::get_if<OpResponse>(&message)) {
      if (!ack->success) return Fail("op rejected: " + ack->error.value_or(""));
      if (!pending) return Fail("ack without pending op");
      if (ack->new_revision != revision) {
        if (ack->new_revision != last_seen + 1) return Fail("ack revision gap");
        last_seen = revision = ack->new_revision;
      }
      pending.reset();
    } else if (const auto* event = std::get_if<std::shared_ptr<const OpEvent>>(&message)) {
      if (!joined) return Fail("event before join");
      if ((*event)->revision != last_seen + 1) return Fail("event revision gap");
      last_seen = revision = (*event)->revision;
      RichTextOp incoming;
      if (!ParseRichTextOp((*event)->payload, incoming).ok()) return Fail("bad event payload " + (*event)->payload);
      bool vanished = false;
      for (auto* local : {&pending, &buffer}) {
        if (!*local || vanished) continue;
        RichTextOp incoming_next, local_next;
        vanished = !TransformRichTextOp(incoming, **local, Priority::kIncomingWins, incoming_next);
        TransformRichTextOp(**local, incoming, Priority::kExistingWins, local_next);
        incoming = std::move(incoming_next);
        **local = std::move(local_next);  // an empty op still waits for its acknowledgement
      }
      if (!vanished && !ApplyRichTextOp(document, incoming).ok()) Fail("remote apply failed");
    } else if (const auto* error = std::get_if<session::ErrorResponse>(&message)) {
      Fail("error response: " + error->message);
    }
  }
};

std::string RunSession(uint64_t seed) {
  TestRandom random(seed);
  AttributePool pool;
  RichWorld world;
  const std::string doc = "rich-" + std::to_string(seed);
  const auto peer_count = static_cast<size_t>(random.Between(2, 5));
  const int steps = static_cast<int>(random.Between(20, 120));
  std::vector<Peer> peers(peer_count);
  std::vector<int> join_step(peer_count);
  for (auto& s : join_step) s = static_cast<int>(random.Between(0, steps / 3));
  join_step[0] = 0;
  for (int step = 0; step < steps; ++step) {
    for (size_t i = 0; i < peers.size(); ++i) {
      if (join_step[i] == step) {
        // Alternate the canonical name and the alias (D9).
        world.router.Join(peers[i].connection, std::string("j"), doc, i % 2 == 0 ? "rich-text" : "RichText", 1,
                          [](bool) {});
      }
    }
    if (random.Chance(50)) world.PollOne();
    if (random.Chance(25)) world.Drain();
    Peer& peer = peers[static_cast<size_t>(random.Between(0, static_cast<int64_t>(peers.size()) - 1))];
    for (auto& m : peer.connection->Take()) peer.inbox.push_back(std::move(m));
    switch (random.Between(0, 2)) {
      case 0:
        if (peer.joined) peer.LocalEdit(random, pool);
        break;
      case 1: {
        const auto n = peer.inbox.empty() ? 0 : random.Between(1, static_cast<int64_t>(peer.inbox.size()));
        for (int64_t k = 0; k < n; ++k) {
          peer.Receive(peer.inbox.front());
          peer.inbox.pop_front();
        }
        break;
      }
      default:
        peer.MaybeSend(world, doc);
    }
  }
  for (int round = 0; round < 1000; ++round) {
    world.Drain();
    bool busy = false;
    for (auto& peer : peers) {
      for (auto& m : peer.connection->Take()) peer.inbox.push_back(std::move(m));
      while (!peer.inbox.empty()) {
        peer.Receive(peer.inbox.front());
        peer.inbox.pop_front();
      }
      peer.MaybeSend(world, doc);
      busy = busy || peer.pending || peer.buffer || !peer.joined;
    }
    if (!busy) break;
  }
  world.Drain();
  auto observer = std::make_shared<TestConnection>();
  world.router.Join(observer, std::string("j"), doc, "rich-text", 1, [](bool) {});
  world.Drain();
  const auto joins = session::testing::Only<JoinResponse>(observer->Take());
  if (joins.size() != 1) return "observer got no join response";
  RichTextDocument server;
  if (!LoadRichTextDocument(joins[0].snapshot, server).ok()) return "bad final snapshot";
  for (size_t i = 0; i < peers.size(); ++i) {
    const Peer& peer = peers[i];
    const std::string who = "peer " + std::to_string(i) + ": ";
    if (!peer.failure.empty()) return who + peer.failure;
    if (!peer.joined) return who + "never joined";
    if (peer.revision != joins[0].revision) return who + "revision differs from the server's";
    if (Rendered(peer.document) != Rendered(server)) {
      return who + "diverged\npeer:   " + Describe(peer.document) + "\nserver: " + joins[0].snapshot;
    }
  }
  return {};
}

TEST(RichTextSessionConvergence, RandomizedPeersConvergeThroughTheSessionLayer) {
  ForEachCase(0x2171'0010, 2000, [](TestRandom& random) -> std::string { return RunSession(random.Next()); });
}

}  // namespace
}  // namespace opstream::engines
