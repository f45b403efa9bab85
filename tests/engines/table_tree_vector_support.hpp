#pragma once
// Loading engine-vectors.json for the table, tree and fractional-index vector tests. The file is
// read at run time with Boost.JSON (independent of the simdjson/RawJsonTree code under test) and
// each selected case becomes its own GoogleTest test, registered before main runs.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

namespace opstream::engines::vectors {

namespace bj = boost::json;

inline std::string Minified(const bj::value& value) { return bj::serialize(value); }

struct VectorCase {
  std::string id;
  std::string kind;
  bj::object data;

  const bj::value* Find(std::string_view key) const { return data.if_contains(key); }
  std::string Note() const {
    const bj::value* note = Find("note");
    return note != nullptr && note->is_string() ? std::string(note->as_string()) : std::string();
  }
};

class LoadFailureTest : public ::testing::Test {
 public:
  explicit LoadFailureTest(std::string message) : message_(std::move(message)) {}
  void TestBody() override { FAIL() << message_; }

 private:
  std::string message_;
};

class CountTest : public ::testing::Test {
 public:
  CountTest(size_t found, size_t minimum) : found_(found), minimum_(minimum) {}
  void TestBody() override {
    EXPECT_GE(found_, minimum_) << "fewer vectors than expected: the vector file or the filter changed";
  }

 private:
  size_t found_, minimum_;
};

// gtest test names must be identifiers.
inline std::string TestName(std::string id) {
  for (char& c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return id;
}

// Registers one test per case of `engine` in `suite`, plus `<suite>.Coverage` checking that at
// least `minimum` cases were found. `make` builds the test object of a case.
inline bool RegisterEngineVectors(const char* suite, std::string_view engine, size_t minimum,
                                  std::function<::testing::Test*(VectorCase)> make) {
  const std::string path = std::string(OPSTREAM_SHARED_DIR) + "/spec/engine-vectors.json";
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  bj::error_code error;
  const bj::value root = bj::parse(buffer.str(), error);
  if (!in || error || !root.is_object() || !root.as_object().contains("cases") || !root.at("cases").is_array()) {
    const std::string message = "cannot read the vectors from " + path;
    ::testing::RegisterTest(suite, "Load", nullptr, nullptr, __FILE__, __LINE__,
                            [message]() -> ::testing::Test* { return new LoadFailureTest(message); });
    return false;
  }
  size_t found = 0;
  for (const bj::value& item : root.at("cases").as_array()) {
    if (!item.is_object()) continue;
    const bj::object& object = item.as_object();
    const bj::value* e = object.if_contains("engine");
    if (e == nullptr || !e->is_string() || e->as_string() != engine) continue;
    VectorCase c;
    if (const bj::value* id = object.if_contains("id"); id != nullptr && id->is_string()) c.id = id->as_string();
    if (const bj::value* kind = object.if_contains("kind"); kind != nullptr && kind->is_string()) {
      c.kind = kind->as_string();
    }
    c.data = object;
    ++found;
    ::testing::RegisterTest(suite, TestName(c.id).c_str(), nullptr, c.kind.c_str(), __FILE__, __LINE__,
                            [make, c]() { return make(c); });
  }
  ::testing::RegisterTest(suite, "Coverage", nullptr, nullptr, __FILE__, __LINE__,
                          [found, minimum]() -> ::testing::Test* { return new CountTest(found, minimum); });
  return true;
}

}  // namespace opstream::engines::vectors
