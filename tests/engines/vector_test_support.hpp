#pragma once
// What every engine's vector test (rich text, json/form, table/tree/fractional index) needs to turn
// engine-vectors.json into one GoogleTest test per case: reading the file, test names, and a
// stand-in test that makes a loading problem fail the run instead of silently registering nothing.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cctype>
#include <string>
#include <utility>

#include "ot_test_support.hpp"

namespace opstream::engines::testing {

// Reads and parses OPSTREAM_SHARED_DIR/spec/engine-vectors.json. On failure returns false and
// `problem` names the path and what is wrong with it.
inline bool ReadVectorFile(std::string& text, boost::json::value& root, std::string& problem) {
  const std::string path = SharedPath("spec/engine-vectors.json");
  if (!ReadWholeFile(path, text)) {
    problem = "cannot read " + path;
    return false;
  }
  boost::json::error_code error;
  root = boost::json::parse(text, error);
  if (error || !root.is_object() || !root.as_object().contains("cases") || !root.at("cases").is_array()) {
    problem = path + " is not a vector file: " + error.message();
    return false;
  }
  return true;
}

// gtest test names must be identifiers.
inline std::string VectorTestName(std::string id) {
  for (char& c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return id;
}

class FailingVectorTest : public ::testing::Test {
 public:
  explicit FailingVectorTest(std::string message) : message_(std::move(message)) {}
  void TestBody() override { FAIL() << message_; }

 private:
  std::string message_;
};

}  // namespace opstream::engines::testing
