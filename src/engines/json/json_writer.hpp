#pragma once
// JSON output byte-identical to System.Text.Json with the reference's options (engines.md §1.4):
// no whitespace, and strings escaped with the default encoder's table:
//
//   " (quote)              -> \u0022
//   \ (backslash)          -> \\ (two backslashes)
//   U+0008/09/0A/0C/0D      -> \b \t \n \f \r
//   other U+0000–U+001F, U+007F -> \u00XX (uppercase hex)
//   & ' + < > `            -> \u0026 \u0027 \u002B \u003C \u003E \u0060
//   every UTF-16 unit >= U+0080 (both halves of a valid pair) -> \uXXXX (uppercase hex)
//   a lone surrogate       -> \uFFFD
//   any other printable ASCII (including /) -> itself
//
// Runs of plain ASCII are copied in bulk (16 bytes or 8 units per step with SSE2).
#include <cstdint>
#include <string>
#include <string_view>

namespace opstream::engines::json {

// Appends `"..."` with the content escaped. UTF-8 input is escaped per UTF-16 unit it encodes;
// bytes that are not valid UTF-8 (not produced by a validated parse) are written as \uFFFD.
void AppendJsonString(std::string& out, std::string_view utf8);
void AppendJsonString(std::string& out, std::u16string_view utf16);
// One string made of two pieces (e.g. both sides of a gap buffer). A surrogate pair split across
// the pieces is still written as a pair.
void AppendJsonString(std::string& out, std::u16string_view first, std::u16string_view second);

// Escaped content only, without the quotes.
void AppendEscapedUtf8(std::string& out, std::string_view utf8);
void AppendEscapedUtf16(std::string& out, std::u16string_view utf16);

void AppendJsonInt(std::string& out, int64_t value);

// Structured writer for engine output: tracks commas, writes names escaped, nothing omitted.
// Usage: w.BeginObject(); w.Key("content"); w.String(text); w.EndObject();
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void BeginObject() {
    Separate();
    out_.push_back('{');
    Push();
  }
  void EndObject() {
    out_.push_back('}');
    Pop();
  }
  void BeginArray() {
    Separate();
    out_.push_back('[');
    Push();
  }
  void EndArray() {
    out_.push_back(']');
    Pop();
  }
  // Property name (escaped like any string); the next value follows without a comma.
  void Key(std::string_view utf8_name) {
    Separate();
    AppendJsonString(out_, utf8_name);
    out_.push_back(':');
    after_key_ = true;
  }
  void String(std::string_view utf8) {
    Separate();
    AppendJsonString(out_, utf8);
  }
  void String(std::u16string_view utf16) {
    Separate();
    AppendJsonString(out_, utf16);
  }
  void Int(int64_t value) {
    Separate();
    AppendJsonInt(out_, value);
  }
  void Bool(bool value) {
    Separate();
    out_.append(value ? "true" : "false");
  }
  void Null() {
    Separate();
    out_.append("null");
  }
  // An opaque value given as validated JSON text, re-emitted per §1.4 (see AppendReserializedValidated).
  void ReserializedValue(std::string_view validated_json);
  // Bytes that are already final JSON (e.g. a value written by another JsonWriter).
  void RawValue(std::string_view json) {
    Separate();
    out_.append(json);
  }

  std::string& out() noexcept { return out_; }

 private:
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!has_item_.empty()) {
      if (has_item_.back() != 0) out_.push_back(',');
      has_item_.back() = 1;
    }
  }
  void Push() { has_item_.push_back(0); }
  void Pop() {
    if (!has_item_.empty()) has_item_.pop_back();
  }

  std::string& out_;
  bool after_key_ = false;
  // One flag per open container: does it already hold an item? A string keeps the usual
  // shallow nesting free of heap allocations (small-string buffer).
  std::string has_item_;
};

}  // namespace opstream::engines::json
