// Malformed input never crashes the hub protocols: seeded random mutations of valid records
// (bytes flipped, inserted, deleted, truncated) are parsed by both protocols and fed to a
// connection. Replay a failure with OPSTREAM_TEST_SEED=<seed>.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "transports/signalr/hub_binder.hpp"
#include "transports/signalr/hub_protocol.hpp"
#include "transports/signalr/msgpack_codec.hpp"

namespace opstream::transports::signalr {
namespace {

uint32_t Seed() {
  const char* env = std::getenv("OPSTREAM_TEST_SEED");
  return env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10)) : std::random_device{}();
}

std::string Mutate(std::string record, std::mt19937& rng) {
  const int edits = std::uniform_int_distribution<int>(1, 4)(rng);
  for (int e = 0; e < edits; ++e) {
    const auto byte = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    const size_t pos = record.empty() ? 0 : std::uniform_int_distribution<size_t>(0, record.size() - 1)(rng);
    switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
      case 0:
        if (!record.empty()) record[pos] = byte;
        break;
      case 1:
        record.insert(record.begin() + static_cast<std::ptrdiff_t>(pos), byte);
        break;
      case 2:
        if (!record.empty()) record.erase(pos, 1);
        break;
      default:
        record.resize(pos);
        break;
    }
  }
  return record;
}

std::vector<std::string> JsonSeeds() {
  return {R"({"arguments":["doc-1","text",1],"invocationId":"0","target":"JoinDocument","type":1})",
          R"({"type":1,"invocationId":"1","target":"SendOp","arguments":["d","eyJjIjoxfQ==",9007199254740993]})",
          R"({"type":1,"target":"UpdateAwareness","arguments":["d",{"a":[1,2.5,null,true,"\u00e9"]}]})",
          R"({"type":7,"error":"x","allowReconnect":true})",
          R"({"type":4,"invocationId":"s","target":"T","arguments":[]})"};
}

std::vector<std::string> MsgPackSeeds() {
  namespace mp = msgpack;
  std::vector<std::string> seeds;
  std::string s;
  mp::AppendArrayHeader(s, 5);
  mp::AppendInt(s, 1);
  mp::AppendMapHeader(s, 0);
  mp::AppendString(s, "0");
  mp::AppendString(s, "SendOp");
  mp::AppendArrayHeader(s, 3);
  mp::AppendString(s, "d");
  mp::AppendBinary(s, "{\"components\":[]}");
  mp::AppendInt(s, -70000);
  seeds.push_back(s);
  s.clear();
  mp::AppendArrayHeader(s, 5);
  mp::AppendInt(s, 1);
  mp::AppendMapHeader(s, 1);
  mp::AppendString(s, "h");
  mp::AppendString(s, "v");
  mp::AppendNil(s);
  mp::AppendString(s, "UpdateAwareness");
  mp::AppendArrayHeader(s, 2);
  mp::AppendString(s, "d");
  mp::AppendJson(s, R"({"a":[1,2.5,null,true,{"b":"c"}]})");
  seeds.push_back(s);
  return seeds;
}

TEST(HubProtocolMutation, MalformedRecordsAreRejectedOrParsedWithoutCrashing) {
  const uint32_t seed = Seed();
  SCOPED_TRACE("seed=" + std::to_string(seed) + " (replay with OPSTREAM_TEST_SEED)");
  std::mt19937 rng(seed);
  int rejected = 0;
  for (const auto* protocol : {&JsonHubProtocol(), &MessagePackHubProtocol()}) {
    const auto seeds = protocol == &JsonHubProtocol() ? JsonSeeds() : MsgPackSeeds();
    for (const auto& original : seeds) {
      HubMessage clean;
      ASSERT_TRUE(protocol->Parse(original, clean).ok()) << original;
      for (int i = 0; i < 2000; ++i) {
        const auto mutated = Mutate(original, rng);
        HubMessage message;
        if (!protocol->Parse(mutated, message).ok()) {
          ++rejected;
          continue;
        }
        // Whatever parsed must also bind or fail binding cleanly.
        std::vector<BoundArgument> args;
        BindArguments({ParamKind::kString, ParamKind::kBytes, ParamKind::kInt64}, message.arguments, args);
        BindArguments({ParamKind::kString, ParamKind::kJson}, message.arguments, args);
      }
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(HubProtocolMutation, HandshakeParserSurvivesMutations) {
  const uint32_t seed = Seed();
  SCOPED_TRACE("seed=" + std::to_string(seed) + " (replay with OPSTREAM_TEST_SEED)");
  std::mt19937 rng(seed);
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    HandshakeRequest request;
    if (ParseHandshake(Mutate(R"({"protocol":"json","version":1})", rng), request).ok()) ++accepted;
  }
  HandshakeRequest request;
  EXPECT_TRUE(ParseHandshake(R"({"protocol":"json","version":1})", request).ok());
  EXPECT_LT(accepted, 5000);
}

}  // namespace
}  // namespace opstream::transports::signalr
