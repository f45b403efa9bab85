// The configuration sources behave like their Microsoft.Extensions.Configuration counterparts.
#include "config/configuration.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config_test_support.hpp"

namespace opstream::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::Pair;

ConfigurationData ParseJsonOrDie(std::string_view json) {
  ConfigurationData data;
  Status status = ParseJsonConfiguration(json, data);
  EXPECT_TRUE(status.ok()) << status.message();
  return data;
}

std::string JsonError(std::string_view json) {
  ConfigurationData data;
  Status status = ParseJsonConfiguration(json, data);
  EXPECT_FALSE(status.ok()) << "parsed: " << json;
  return status.message();
}

TEST(ConfigurationJsonTest, FlattensNestedObjectsWithColons) {
  const ConfigurationData data =
      ParseJsonOrDie(R"({"OpStream": {"Storage": {"Provider": "redis"}, "Transports": "grpc"}})");
  EXPECT_THAT(data, ElementsAre(Pair("OpStream:Storage:Provider", Optional(std::string("redis"))),
                                Pair("OpStream:Transports", Optional(std::string("grpc")))));
}

TEST(ConfigurationJsonTest, ArraysGetIndexKeys) {
  const ConfigurationData data = ParseJsonOrDie(R"({"Section": ["a", {"b": "c"}, ["d"]]})");
  EXPECT_EQ(data.at("Section:0"), "a");
  EXPECT_EQ(data.at("Section:1:b"), "c");
  EXPECT_EQ(data.at("Section:2:0"), "d");
  EXPECT_EQ(data.size(), 3u);
}

TEST(ConfigurationJsonTest, ScalarsBecomeTheirDotNetStrings) {
  const ConfigurationData data =
      ParseJsonOrDie(R"({"i": 42, "d": -0.50, "e": 1e3, "big": 123456789012345678901234, "t": true, "f": false,
                         "n": null, "s": "x\ty\u00e9"})");
  EXPECT_EQ(data.at("i"), "42");
  EXPECT_EQ(data.at("d"), "-0.50");  // the source spelling, like JsonElement.ToString()
  EXPECT_EQ(data.at("e"), "1e3");
  EXPECT_EQ(data.at("big"), "123456789012345678901234");
  EXPECT_EQ(data.at("t"), "True");
  EXPECT_EQ(data.at("f"), "False");
  EXPECT_EQ(data.at("n"), "");  // null is an empty string, not absent
  EXPECT_EQ(data.at("s"), "x\ty\xC3\xA9");
}

TEST(ConfigurationJsonTest, EmptyObjectsAndArraysAreNullEntries) {
  const ConfigurationData data = ParseJsonOrDie(R"({"a": {}, "b": [], "c": {"d": {}}})");
  ASSERT_EQ(data.size(), 3u);
  EXPECT_EQ(data.at("a"), std::nullopt);
  EXPECT_EQ(data.at("b"), std::nullopt);
  EXPECT_EQ(data.at("c:d"), std::nullopt);
  EXPECT_TRUE(ParseJsonOrDie("{}").empty());
}

TEST(ConfigurationJsonTest, AcceptsCommentsTrailingCommasAndByteOrderMark) {
  const ConfigurationData data =
      ParseJsonOrDie("\xEF\xBB\xBF// image settings\n{ /* block */ \"a\": [1, 2,], \"b\": \"c\", } // trailing\n");
  EXPECT_EQ(data.at("a:0"), "1");
  EXPECT_EQ(data.at("a:1"), "2");
  EXPECT_EQ(data.at("b"), "c");
}

TEST(ConfigurationJsonTest, RejectsDuplicateKeysCaseInsensitively) {
  EXPECT_EQ(JsonError(R"({"OpStream": {"Transports": "a"}, "opstream": {"TRANSPORTS": "b"}})"),
            "A duplicate key 'opstream:TRANSPORTS' was found.");
  // Sibling sections that share a prefix are fine.
  ParseJsonOrDie(R"({"a": {"b": 1}, "A": {"c": 2}})");
}

TEST(ConfigurationJsonTest, RequiresAnObjectAtTheTopLevel) {
  EXPECT_EQ(JsonError("[1, 2]"), "Top-level JSON element must be an object. Instead, 'Array' was found.");
  EXPECT_EQ(JsonError("\"text\""), "Top-level JSON element must be an object. Instead, 'String' was found.");
  EXPECT_EQ(JsonError("null"), "Top-level JSON element must be an object. Instead, 'Null' was found.");
}

TEST(ConfigurationJsonTest, SyntaxErrorsNameThePosition) {
  EXPECT_THAT(JsonError("{\n  \"a\": 1\n  \"b\": 2\n}"), HasSubstr("line 3, column 3"));
  EXPECT_THAT(JsonError(""), HasSubstr("invalid JSON"));
  EXPECT_THAT(JsonError("{\"a\": 1} {"), HasSubstr("unexpected data after the top-level value"));
  EXPECT_THAT(JsonError("{\"a\": tru}"), HasSubstr("line 1, column"));
}

TEST(ConfigurationJsonTest, FileErrorsNameTheFile) {
  testing::ScratchDirectory dir;
  dir.Write("appsettings.json", "{ \"OpStream\": { \"Transports\": \"signalr\", } ");
  ConfigurationData data;
  Status status = LoadJsonConfigurationFile(dir.path() / "appsettings.json", data);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("Failed to load configuration from file '"));
  EXPECT_THAT(status.message(), HasSubstr("appsettings.json': invalid JSON"));
}

TEST(ConfigurationJsonTest, MissingFileOrDirectoryIsNoData) {
  testing::ScratchDirectory dir;
  ConfigurationData data{{"stale", "value"}};
  EXPECT_TRUE(LoadJsonConfigurationFile(dir.path() / "appsettings.json", data).ok());
  EXPECT_TRUE(data.empty());
  std::filesystem::create_directory(dir.path() / "appsettings.Production.json");
  EXPECT_TRUE(LoadJsonConfigurationFile(dir.path() / "appsettings.Production.json", data).ok());
  EXPECT_TRUE(data.empty());
}

TEST(ConfigurationEnvironmentTest, DoubleUnderscoreIsTheSectionSeparator) {
  const ConfigurationData data = EnvironmentVariablesData({
      {"OPSTREAM__STORAGE__PROVIDER", "redis"},
      {"A___B", "x"},
      {"PATH", "/usr/bin"},
      {"EMPTY", ""},
  });
  EXPECT_EQ(data.at("OpStream:Storage:Provider"), "redis");
  EXPECT_EQ(data.at("a:_b"), "x");  // left-to-right String.Replace("__", ":")
  EXPECT_EQ(data.at("path"), "/usr/bin");
  EXPECT_EQ(data.at("EMPTY"), "");  // present but empty
}

TEST(ConfigurationEnvironmentTest, PrefixIsMatchedIgnoringCaseAndRemoved) {
  const ConfigurationData data = EnvironmentVariablesData({{"ASPNETCORE_URLS", "http://+:1"},
                                                           {"aspnetcore_ENVIRONMENT", "Dev"},
                                                           {"ASPNETCORE_Kestrel__X", "1"},
                                                           {"DOTNET_URLS", "http://+:2"},
                                                           {"OPSTREAM__TRANSPORTS", "grpc"}},
                                                          "ASPNETCORE_");
  EXPECT_THAT(data, ElementsAre(Pair("ENVIRONMENT", Optional(std::string("Dev"))),
                                Pair("Kestrel:X", Optional(std::string("1"))),
                                Pair("URLS", Optional(std::string("http://+:1")))));
}

TEST(ConfigurationEnvironmentTest, NamesDifferingOnlyInCaseCollapse) {
  const ConfigurationData data =
      EnvironmentVariablesData({{"OPSTREAM__TRANSPORTS", "a"}, {"OpStream__Transports", "b"}});
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data.at("opstream:transports"), "b");
}

ConfigurationData CommandLineOrDie(const std::vector<std::string>& args) {
  ConfigurationData data;
  Status status = CommandLineData(args, data);
  EXPECT_TRUE(status.ok()) << status.message();
  return data;
}

TEST(ConfigurationCommandLineTest, AcceptsEveryAspNetForm) {
  const ConfigurationData data = CommandLineOrDie({
      "--OpStream:Storage:Provider=redis",
      "--OpStream:Backplane:Provider",
      "redis",
      "/OpStream:Engines=json",
      "/OpStream:Transports",
      "grpc",
      "OpStream:Storage:ConnectionString=a=b;c",
  });
  EXPECT_EQ(data.at("OpStream:Storage:Provider"), "redis");
  EXPECT_EQ(data.at("OpStream:Backplane:Provider"), "redis");
  EXPECT_EQ(data.at("OpStream:Engines"), "json");
  EXPECT_EQ(data.at("OpStream:Transports"), "grpc");
  EXPECT_EQ(data.at("OpStream:Storage:ConnectionString"), "a=b;c");  // split at the first '='
  EXPECT_EQ(data.size(), 5u);
}

TEST(ConfigurationCommandLineTest, SkipsWhatDotNetSkips) {
  const ConfigurationData data = CommandLineOrDie({"positional", "-x", "--key=", "--OpStream__Engines=json", "--last"});
  // A bare word and an unmapped "-x" are ignored; a trailing "--last" has no value; `__` is not mapped.
  EXPECT_THAT(data, ElementsAre(Pair("key", Optional(std::string(""))),
                                Pair("OpStream__Engines", Optional(std::string("json")))));
}

TEST(ConfigurationCommandLineTest, SwitchConsumesTheNextArgumentEvenIfItLooksLikeASwitch) {
  const ConfigurationData data = CommandLineOrDie({"--a", "--b=c"});
  EXPECT_THAT(data, ElementsAre(Pair("a", Optional(std::string("--b=c")))));
}

TEST(ConfigurationCommandLineTest, LastDuplicateWinsIgnoringCase) {
  const ConfigurationData data = CommandLineOrDie({"--Key=1", "--KEY=2"});
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data.at("key"), "2");
}

TEST(ConfigurationCommandLineTest, ShortSwitchWithValueIsAnError) {
  ConfigurationData data;
  Status status = CommandLineData({"-k=v"}, data);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("The short switch '-k=v' is not defined in the switch mappings."));
}

TEST(ConfigurationStackTest, HigherLayersWinAndKeysIgnoreCase) {
  Configuration configuration;
  configuration.AddLayer("low", {{"OpStream:Transports", "signalr"}, {"Only:Low", "1"}});
  configuration.AddLayer("high", {{"OPSTREAM:TRANSPORTS", "grpc"}});
  EXPECT_EQ(configuration.Get("opstream:transports"), "grpc");
  EXPECT_EQ(configuration.SourceOf("OpStream:Transports"), "high");
  EXPECT_EQ(configuration.Get("only:low"), "1");
  EXPECT_EQ(configuration.Get("missing"), std::nullopt);
  EXPECT_EQ(configuration.SourceOf("missing"), std::nullopt);
}

TEST(ConfigurationStackTest, NullEntryShadowsLowerLayers) {
  Configuration configuration;
  configuration.AddLayer("low", {{"a", "1"}, {"b", "2"}});
  configuration.AddLayer("high", {{"a", std::nullopt}});
  EXPECT_EQ(configuration.Get("a"), std::nullopt);
  EXPECT_EQ(configuration.SourceOf("a"), "high");
  EXPECT_THAT(configuration.Keys(), ElementsAre("b"));
}

TEST(ConfigurationStackTest, KeysAreListedOnce) {
  Configuration configuration;
  configuration.AddLayer("one", {{"B", "1"}, {"a", "1"}});
  configuration.AddLayer("two", {{"b", "2"}});
  EXPECT_THAT(configuration.Keys(), ElementsAre("a", "B"));
}

}  // namespace
}  // namespace opstream::config
