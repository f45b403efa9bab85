// Listener addresses: Kestrel's URL grammar and its urls / http_ports / default selection.
#include "config/listen_bindings.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config_test_support.hpp"
#include "config/settings.hpp"

namespace opstream::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<ListenBinding> ParseOrDie(std::string_view urls, std::vector<std::string>* warnings_out = nullptr) {
  std::vector<ListenBinding> bindings;
  std::vector<std::string> warnings;
  Status status = ParseListenUrls(urls, bindings, warnings);
  EXPECT_TRUE(status.ok()) << status.message();
  if (warnings_out != nullptr) *warnings_out = warnings;
  return bindings;
}

std::string ParseError(std::string_view urls) {
  std::vector<ListenBinding> bindings;
  std::vector<std::string> warnings;
  Status status = ParseListenUrls(urls, bindings, warnings);
  EXPECT_FALSE(status.ok()) << urls;
  return status.message();
}

TEST(ListenBindingTest, WildcardHostsMeanEveryInterface) {
  EXPECT_THAT(ParseOrDie("http://+:8080"), ElementsAre(ListenBinding{"", 8080, "http://+:8080", false}));
  EXPECT_THAT(ParseOrDie("http://*:80"), ElementsAre(ListenBinding{"", 80, "http://*:80", false}));
  EXPECT_TRUE(ParseOrDie("http://+:8080")[0].AllInterfaces());
}

TEST(ListenBindingTest, IpLiteralsAreBoundExactly) {
  EXPECT_THAT(ParseOrDie("http://0.0.0.0:5000"),
              ElementsAre(ListenBinding{"0.0.0.0", 5000, "http://0.0.0.0:5000", false}));
  EXPECT_THAT(ParseOrDie("http://[::]:8080"), ElementsAre(ListenBinding{"::", 8080, "http://[::]:8080", false}));
  EXPECT_THAT(ParseOrDie("http://10.1.2.3:81"),
              ElementsAre(ListenBinding{"10.1.2.3", 81, "http://10.1.2.3:81", false}));
  EXPECT_THAT(ParseOrDie("http://[0:0:0:0:0:0:0:1]:9"),
              ElementsAre(ListenBinding{"::1", 9, "http://[0:0:0:0:0:0:0:1]:9", false}));
  // Kestrel takes the last ':' as the port separator, so an unbracketed IPv6 literal with a port works.
  EXPECT_THAT(ParseOrDie("http://::1:7000"), ElementsAre(ListenBinding{"::1", 7000, "http://::1:7000", false}));
}

TEST(ListenBindingTest, LocalhostBindsBothLoopbacks) {
  EXPECT_THAT(ParseOrDie("http://LocalHost:5000"),
              ElementsAre(ListenBinding{"127.0.0.1", 5000, "http://LocalHost:5000", true},
                          ListenBinding{"::1", 5000, "http://LocalHost:5000", true}));
}

TEST(ListenBindingTest, DefaultPortAndTrailingSlash) {
  EXPECT_THAT(ParseOrDie("HTTP://127.0.0.1/"), ElementsAre(ListenBinding{"127.0.0.1", 80, "HTTP://127.0.0.1/", false}));
  EXPECT_THAT(ParseOrDie("http://[::1]"), ElementsAre(ListenBinding{"::1", 80, "http://[::1]", false}));
}

TEST(ListenBindingTest, PortZeroIsEphemeral) {
  EXPECT_THAT(ParseOrDie("http://127.0.0.1:0"),
              ElementsAre(ListenBinding{"127.0.0.1", 0, "http://127.0.0.1:0", false}));
}

TEST(ListenBindingTest, SemicolonSeparatedListIsTrimmed) {
  EXPECT_THAT(ParseOrDie(" http://+:8080 ;; http://127.0.0.1:9090;"),
              ElementsAre(ListenBinding{"", 8080, "http://+:8080", false},
                          ListenBinding{"127.0.0.1", 9090, "http://127.0.0.1:9090", false}));
  EXPECT_THAT(ParseOrDie(";"), IsEmpty());
}

TEST(ListenBindingTest, HostNamesBindEveryInterfaceWithAWarning) {
  std::vector<std::string> warnings;
  EXPECT_THAT(ParseOrDie("http://collab.example.com:8080", &warnings),
              ElementsAre(ListenBinding{"", 8080, "http://collab.example.com:8080", false}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("not an IP address"));
}

TEST(ListenBindingTest, HttpsIsRefusedWithProxyAdvice) {
  const std::string message = ParseError("http://+:8080;https://+:8443");
  EXPECT_THAT(message, HasSubstr("HTTPS is not supported"));
  EXPECT_THAT(message, HasSubstr("'https://+:8443'"));
  EXPECT_THAT(message, HasSubstr("terminate TLS at a reverse proxy"));
}

TEST(ListenBindingTest, MalformedAddressesAreStartupErrors) {
  EXPECT_THAT(ParseError("localhost:5000"), HasSubstr("expected scheme://host:port"));
  EXPECT_THAT(ParseError("ftp://+:21"), HasSubstr("unrecognized scheme"));
  EXPECT_THAT(ParseError("http://:8080"), HasSubstr("the host is missing"));
  EXPECT_THAT(ParseError("http://+:80x"), HasSubstr("'80x' is not a port number"));
  EXPECT_THAT(ParseError("http://+:"), HasSubstr("is not a port number"));
  EXPECT_THAT(ParseError("http://+:65536"), HasSubstr("between 0 and 65535"));
  EXPECT_THAT(ParseError("http://+:-1"), HasSubstr("between 0 and 65535"));
  EXPECT_THAT(ParseError("http://+:8080/app"), HasSubstr("a path base is not supported"));
  EXPECT_THAT(ParseError("http://[::1:8080"), HasSubstr("missing ']'"));
  EXPECT_THAT(ParseError("http://[nope]:80"), HasSubstr("not a valid IPv6 address"));
  EXPECT_THAT(ParseError("http://[::1]x"), HasSubstr("expected ':port'"));
  EXPECT_THAT(ParseError("http://unix:/run/opstream.sock"), HasSubstr("Unix domain sockets"));
  EXPECT_THAT(ParseError("http://fe80::1%eth0:80"), HasSubstr("write IPv6 addresses in brackets"));
  EXPECT_THAT(ParseError("http://+:8080/app"), HasSubstr("Invalid server address 'http://+:8080/app'"));
}

TEST(ListenBindingTest, HttpPortsExpandToWildcardUrls) {
  EXPECT_EQ(ExpandHttpPorts("8080"), "http://*:8080");
  EXPECT_EQ(ExpandHttpPorts(" 8080 ; ;9090"), "http://*:8080;http://*:9090");
  EXPECT_EQ(ExpandHttpPorts(""), "");
}

// ---- Selection between urls, http_ports and the defaults, through LoadSettings ----

class ListenBindingSettingsTest : public ::testing::Test {
 protected:
  Status Load(const std::vector<std::string>& args, const std::map<std::string, std::string>& environment,
              LoadOptions options = {}) {
    warnings_.clear();
    return LoadSettings(args, environment, dir_.path(), settings_, warnings_, options);
  }

  testing::ScratchDirectory dir_;
  Settings settings_;
  std::vector<std::string> warnings_;
};

TEST_F(ListenBindingSettingsTest, AspNetCoreUrlsIsUsed) {
  ASSERT_TRUE(Load({}, {{"ASPNETCORE_URLS", "http://127.0.0.1:0;http://[::1]:0"}}).ok());
  EXPECT_EQ(settings_.server_urls, "http://127.0.0.1:0;http://[::1]:0");
  EXPECT_THAT(settings_.bindings, ElementsAre(ListenBinding{"127.0.0.1", 0, "http://127.0.0.1:0", false},
                                              ListenBinding{"::1", 0, "http://[::1]:0", false}));
}

TEST_F(ListenBindingSettingsTest, UrlsKeyIsReadFromAnySource) {
  ASSERT_TRUE(Load({"--urls", "http://127.0.0.1:7001"}, {{"ASPNETCORE_URLS", "http://+:8080"}}).ok());
  EXPECT_EQ(settings_.server_urls, "http://127.0.0.1:7001");

  // As in ASP.NET Core, an appsettings.json `urls` beats ASPNETCORE_URLS (prefixed variables rank lowest)...
  dir_.Write("appsettings.json", R"({"Urls": "http://127.0.0.1:7002"})");
  ASSERT_TRUE(Load({}, {{"ASPNETCORE_URLS", "http://+:8080"}}).ok());
  EXPECT_EQ(settings_.server_urls, "http://127.0.0.1:7002");
  // ...and an unprefixed URLS variable beats the file.
  ASSERT_TRUE(Load({}, {{"URLS", "http://127.0.0.1:7003"}}).ok());
  EXPECT_EQ(settings_.server_urls, "http://127.0.0.1:7003");
}

TEST_F(ListenBindingSettingsTest, HttpPortsWhenUrlsIsAbsent) {
  ASSERT_TRUE(Load({}, {{"ASPNETCORE_HTTP_PORTS", "8081;8082"}}).ok());
  EXPECT_EQ(settings_.server_urls, "http://*:8081;http://*:8082");
  EXPECT_THAT(settings_.bindings, ElementsAre(ListenBinding{"", 8081, "http://*:8081", false},
                                              ListenBinding{"", 8082, "http://*:8082", false}));
  EXPECT_THAT(warnings_, IsEmpty());
}

TEST_F(ListenBindingSettingsTest, UrlsOverrideHttpPortsWithKestrelsWarning) {
  ASSERT_TRUE(Load({}, {{"ASPNETCORE_URLS", "http://+:9000"}, {"ASPNETCORE_HTTP_PORTS", "8080"}}).ok());
  EXPECT_EQ(settings_.server_urls, "http://+:9000");
  EXPECT_THAT(warnings_, ElementsAre("Overriding HTTP_PORTS '8080' and HTTPS_PORTS ''. Binding to values defined by "
                                     "URLS instead 'http://+:9000'."));
}

TEST_F(ListenBindingSettingsTest, HttpsPortsAreRefused) {
  Status status = Load({}, {{"ASPNETCORE_HTTPS_PORTS", "8443"}});
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("HTTPS is not supported (ASPNETCORE_HTTPS_PORTS='8443')"));
}

TEST_F(ListenBindingSettingsTest, EmptyUrlsCountsAsUnset) {
  ASSERT_TRUE(Load({}, {{"ASPNETCORE_URLS", ""}, {"ASPNETCORE_HTTP_PORTS", "8085"}}).ok());
  EXPECT_EQ(settings_.server_urls, "http://*:8085");
}

TEST_F(ListenBindingSettingsTest, DefaultsOfImageAndOfKestrel) {
  ASSERT_TRUE(Load({}, {}).ok());
  EXPECT_EQ(settings_.server_urls, "http://+:8080");
  ASSERT_TRUE(Load({}, {{"OPSTREAM__TRANSPORTS", "signalr"}}, {.apply_image_defaults = false}).ok());
  EXPECT_EQ(settings_.server_urls, "http://localhost:5000");
  EXPECT_EQ(settings_.bindings.size(), 2u);
  // A list with no address at all leaves Kestrel on its own default.
  ASSERT_TRUE(Load({}, {{"ASPNETCORE_URLS", ";"}}).ok());
  EXPECT_EQ(settings_.server_urls, "http://localhost:5000");
}

TEST_F(ListenBindingSettingsTest, BadUrlIsAStartupError) {
  Status status = Load({}, {{"ASPNETCORE_URLS", "https://+:443"}});
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("HTTPS is not supported"));
  status = Load({}, {{"ASPNETCORE_HTTP_PORTS", "eighty"}});
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("'eighty' is not a port number"));
}

}  // namespace
}  // namespace opstream::config
