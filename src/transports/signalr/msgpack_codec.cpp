#include "transports/signalr/msgpack_codec.hpp"

#include <fmt/format.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

#include "common/base64.hpp"
#include "engines/json/json_writer.hpp"
#include "engines/json/raw_json.hpp"

namespace opstream::transports::signalr::msgpack {

namespace {

void AppendBigEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

void AppendDoubleJson(std::string& json, double value) {
  if (!std::isfinite(value)) {
    json += "null";  // JSON has no NaN or infinity
    return;
  }
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  json.append(buffer, end);
}

}  // namespace

bool Reader::Take(size_t n, std::string_view& out) {
  if (data_.size() - pos_ < n) return false;
  out = data_.substr(pos_, n);
  pos_ += n;
  return true;
}

bool Reader::ReadBigEndian(size_t n, uint64_t& out) {
  std::string_view bytes;
  if (!Take(n, bytes)) return false;
  out = 0;
  for (const char c : bytes) out = (out << 8) | static_cast<uint8_t>(c);
  return true;
}

bool Reader::ReadArrayHeader(uint32_t& count) {
  if (AtEnd()) return false;
  const auto b = static_cast<uint8_t>(data_[pos_]);
  uint64_t n;
  if ((b & 0xF0) == 0x90) {
    ++pos_;
    count = b & 0x0F;
    return true;
  }
  if (b == 0xDC || b == 0xDD) {
    ++pos_;
    if (!ReadBigEndian(b == 0xDC ? 2 : 4, n)) return false;
    count = static_cast<uint32_t>(n);
    return true;
  }
  return false;
}

bool Reader::ReadMapHeader(uint32_t& count) {
  if (AtEnd()) return false;
  const auto b = static_cast<uint8_t>(data_[pos_]);
  uint64_t n;
  if ((b & 0xF0) == 0x80) {
    ++pos_;
    count = b & 0x0F;
    return true;
  }
  if (b == 0xDE || b == 0xDF) {
    ++pos_;
    if (!ReadBigEndian(b == 0xDE ? 2 : 4, n)) return false;
    count = static_cast<uint32_t>(n);
    return true;
  }
  return false;
}

bool Reader::ReadNil() {
  if (!AtEnd() && static_cast<uint8_t>(data_[pos_]) == 0xC0) {
    ++pos_;
    return true;
  }
  return false;
}

bool Reader::ReadInteger(int64_t& value) {
  HubValue v;
  const size_t start = pos_;
  if (!ReadValue(v) || v.kind != HubValue::Kind::kInteger) {
    pos_ = start;
    return false;
  }
  value = v.integer;
  return true;
}

bool Reader::ReadBool(bool& value) {
  if (AtEnd()) return false;
  const auto b = static_cast<uint8_t>(data_[pos_]);
  if (b != 0xC2 && b != 0xC3) return false;
  ++pos_;
  value = b == 0xC3;
  return true;
}

bool Reader::ReadStringOrNil(std::string& value, bool& is_nil) {
  is_nil = ReadNil();
  if (is_nil) return true;
  HubValue v;
  const size_t start = pos_;
  if (!ReadValue(v) || v.kind != HubValue::Kind::kString) {
    pos_ = start;
    return false;
  }
  value = std::move(v.text);
  return true;
}

bool Reader::ReadValue(HubValue& value, int depth) {
  value = HubValue{};
  return ReadInto(&value, value.json, depth);
}

bool Reader::Skip(int depth) {
  std::string ignored;
  return ReadInto(nullptr, ignored, depth);
}

bool Reader::ReadInto(HubValue* value, std::string& json, int depth) {
  if (depth > kMaxDepth || AtEnd()) return false;
  const auto b = static_cast<uint8_t>(data_[pos_++]);
  uint64_t n = 0;
  std::string_view bytes;
  auto set_kind = [&](HubValue::Kind kind) {
    if (value) value->kind = kind;
  };
  auto integer = [&](int64_t v) {
    set_kind(HubValue::Kind::kInteger);
    if (value) value->integer = v;
    json += fmt::format("{}", v);
    return true;
  };
  auto string = [&](size_t length) {
    if (!Take(length, bytes)) return false;
    set_kind(HubValue::Kind::kString);
    if (value) value->text.assign(bytes);
    engines::json::AppendJsonString(json, bytes);
    return true;
  };
  auto binary = [&](size_t length) {
    if (!Take(length, bytes)) return false;
    set_kind(HubValue::Kind::kBinary);
    if (value) value->text.assign(bytes);
    json += '"';
    Base64Encode(bytes, json);
    json += '"';
    return true;
  };
  auto array = [&](uint64_t count) {
    set_kind(HubValue::Kind::kArray);
    json += '[';
    for (uint64_t i = 0; i < count; ++i) {
      if (i > 0) json += ',';
      if (!ReadInto(nullptr, json, depth + 1)) return false;
    }
    json += ']';
    return true;
  };
  auto map = [&](uint64_t count) {
    set_kind(HubValue::Kind::kObject);
    json += '{';
    for (uint64_t i = 0; i < count; ++i) {
      if (i > 0) json += ',';
      HubValue key;
      std::string key_json;
      if (!ReadInto(&key, key_json, depth + 1)) return false;
      // A container as a name would be escaped once more per nesting level: a record of a hundred
      // bytes would become exponentially long JSON text. No JSON value maps to such a key anyway.
      if (key.kind == HubValue::Kind::kArray || key.kind == HubValue::Kind::kObject) return false;
      if (key.kind == HubValue::Kind::kString) {
        json += key_json;
      } else {
        engines::json::AppendJsonString(json, key_json);  // JSON names are strings
      }
      json += ':';
      if (!ReadInto(nullptr, json, depth + 1)) return false;
    }
    json += '}';
    return true;
  };

  if (b <= 0x7F) return integer(b);
  if (b >= 0xE0) return integer(static_cast<int8_t>(b));
  if ((b & 0xE0) == 0xA0) return string(b & 0x1F);
  if ((b & 0xF0) == 0x90) return array(b & 0x0F);
  if ((b & 0xF0) == 0x80) return map(b & 0x0F);
  switch (b) {
    case 0xC0:
      set_kind(HubValue::Kind::kNull);
      json += "null";
      return true;
    case 0xC2:
    case 0xC3:
      set_kind(HubValue::Kind::kBool);
      if (value) value->boolean = b == 0xC3;
      json += b == 0xC3 ? "true" : "false";
      return true;
    case 0xC4:
    case 0xC5:
    case 0xC6:
      return ReadBigEndian(size_t{1} << (b - 0xC4), n) && binary(n);
    case 0xCA:
    case 0xCB: {
      if (!ReadBigEndian(b == 0xCA ? 4 : 8, n)) return false;
      double d;
      if (b == 0xCA) {
        d = std::bit_cast<float>(static_cast<uint32_t>(n));
      } else {
        d = std::bit_cast<double>(n);
      }
      set_kind(HubValue::Kind::kNumber);
      AppendDoubleJson(json, d);
      return true;
    }
    case 0xCC:
    case 0xCD:
    case 0xCE:
    case 0xCF:
      if (!ReadBigEndian(size_t{1} << (b - 0xCC), n)) return false;
      if (n > static_cast<uint64_t>(INT64_MAX)) {
        set_kind(HubValue::Kind::kNumber);
        json += fmt::format("{}", n);
        return true;
      }
      return integer(static_cast<int64_t>(n));
    case 0xD0:
    case 0xD1:
    case 0xD2:
    case 0xD3: {
      const size_t size = size_t{1} << (b - 0xD0);
      if (!ReadBigEndian(size, n)) return false;
      // Sign-extend from `size` bytes.
      const int shift = 64 - static_cast<int>(size) * 8;
      return integer(shift == 0 ? static_cast<int64_t>(n) : (static_cast<int64_t>(n << shift) >> shift));
    }
    case 0xD9:
    case 0xDA:
    case 0xDB:
      return ReadBigEndian(size_t{1} << (b - 0xD9), n) && string(n);
    case 0xDC:
    case 0xDD:
      return ReadBigEndian(b == 0xDC ? 2 : 4, n) && array(n);
    case 0xDE:
    case 0xDF:
      return ReadBigEndian(b == 0xDE ? 2 : 4, n) && map(n);
    default:
      return false;  // ext types and the reserved byte 0xC1 have no meaning here
  }
}

void AppendNil(std::string& out) { out.push_back(static_cast<char>(0xC0)); }

void AppendBool(std::string& out, bool value) { out.push_back(static_cast<char>(value ? 0xC3 : 0xC2)); }

void AppendInt(std::string& out, int64_t value) {
  if (value >= 0 && value <= 0x7F) {
    out.push_back(static_cast<char>(value));
  } else if (value < 0 && value >= -32) {
    out.push_back(static_cast<char>(static_cast<int8_t>(value)));
  } else if (value >= 0) {
    if (value <= 0xFF) {
      out.push_back(static_cast<char>(0xCC));
      AppendBigEndian(out, static_cast<uint64_t>(value), 1);
    } else if (value <= 0xFFFF) {
      out.push_back(static_cast<char>(0xCD));
      AppendBigEndian(out, static_cast<uint64_t>(value), 2);
    } else if (value <= 0xFFFFFFFFLL) {
      out.push_back(static_cast<char>(0xCE));
      AppendBigEndian(out, static_cast<uint64_t>(value), 4);
    } else {
      out.push_back(static_cast<char>(0xCF));
      AppendBigEndian(out, static_cast<uint64_t>(value), 8);
    }
  } else if (value >= INT8_MIN) {
    out.push_back(static_cast<char>(0xD0));
    AppendBigEndian(out, static_cast<uint64_t>(value), 1);
  } else if (value >= INT16_MIN) {
    out.push_back(static_cast<char>(0xD1));
    AppendBigEndian(out, static_cast<uint64_t>(value), 2);
  } else if (value >= INT32_MIN) {
    out.push_back(static_cast<char>(0xD2));
    AppendBigEndian(out, static_cast<uint64_t>(value), 4);
  } else {
    out.push_back(static_cast<char>(0xD3));
    AppendBigEndian(out, static_cast<uint64_t>(value), 8);
  }
}

void AppendDouble(std::string& out, double value) {
  out.push_back(static_cast<char>(0xCB));
  AppendBigEndian(out, std::bit_cast<uint64_t>(value), 8);
}

void AppendString(std::string& out, std::string_view utf8) {
  const size_t n = utf8.size();
  if (n <= 31) {
    out.push_back(static_cast<char>(0xA0 | n));
  } else if (n <= 0xFF) {
    out.push_back(static_cast<char>(0xD9));
    AppendBigEndian(out, n, 1);
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(0xDA));
    AppendBigEndian(out, n, 2);
  } else {
    out.push_back(static_cast<char>(0xDB));
    AppendBigEndian(out, n, 4);
  }
  out.append(utf8);
}

void AppendBinary(std::string& out, std::string_view bytes) {
  const size_t n = bytes.size();
  if (n <= 0xFF) {
    out.push_back(static_cast<char>(0xC4));
    AppendBigEndian(out, n, 1);
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(0xC5));
    AppendBigEndian(out, n, 2);
  } else {
    out.push_back(static_cast<char>(0xC6));
    AppendBigEndian(out, n, 4);
  }
  out.append(bytes);
}

void AppendArrayHeader(std::string& out, uint32_t count) {
  if (count <= 15) {
    out.push_back(static_cast<char>(0x90 | count));
  } else if (count <= 0xFFFF) {
    out.push_back(static_cast<char>(0xDC));
    AppendBigEndian(out, count, 2);
  } else {
    out.push_back(static_cast<char>(0xDD));
    AppendBigEndian(out, count, 4);
  }
}

void AppendMapHeader(std::string& out, uint32_t count) {
  if (count <= 15) {
    out.push_back(static_cast<char>(0x80 | count));
  } else if (count <= 0xFFFF) {
    out.push_back(static_cast<char>(0xDE));
    AppendBigEndian(out, count, 2);
  } else {
    out.push_back(static_cast<char>(0xDF));
    AppendBigEndian(out, count, 4);
  }
}

namespace {

void AppendNode(std::string& out, const engines::json::RawJsonTree& tree, uint32_t index) {
  using engines::json::JsonKind;
  const auto& node = tree.node(index);
  switch (node.kind) {
    case JsonKind::kNull:
      AppendNil(out);
      return;
    case JsonKind::kFalse:
    case JsonKind::kTrue:
      AppendBool(out, node.kind == JsonKind::kTrue);
      return;
    case JsonKind::kNumber: {
      int64_t integer;
      const auto* end = node.raw.data() + node.raw.size();
      if (auto [ptr, ec] = std::from_chars(node.raw.data(), end, integer); ec == std::errc() && ptr == end) {
        AppendInt(out, integer);
        return;
      }
      // The reader turns uint64 values above INT64_MAX into such numbers: keep them exact.
      uint64_t big;
      if (auto [ptr, ec] = std::from_chars(node.raw.data(), end, big); ec == std::errc() && ptr == end) {
        out.push_back(static_cast<char>(0xCF));
        AppendBigEndian(out, big, 8);
        return;
      }
      double d = 0;
      std::from_chars(node.raw.data(), end, d);  // out-of-range numbers keep 0 / ±inf semantics of strtod
      AppendDouble(out, d);
      return;
    }
    case JsonKind::kString:
      AppendString(out, engines::json::UnescapeString(node.raw));
      return;
    case JsonKind::kArray: {
      AppendArrayHeader(out, node.child_count);
      uint32_t child = index + 1;
      for (uint32_t i = 0; i < node.child_count; ++i, child = tree.node(child).subtree_end)
        AppendNode(out, tree, child);
      return;
    }
    case JsonKind::kObject: {
      AppendMapHeader(out, node.child_count);
      uint32_t child = index + 1;
      for (uint32_t i = 0; i < node.child_count; ++i, child = tree.node(child).subtree_end) {
        AppendString(out, engines::json::UnescapeString(tree.node(child).raw_key));
        AppendNode(out, tree, child);
      }
      return;
    }
  }
}

}  // namespace

bool AppendJson(std::string& out, std::string_view json) {
  engines::json::RawJsonTree tree;
  if (!tree.Parse(json).ok()) return false;
  AppendNode(out, tree, 0);
  return true;
}

}  // namespace opstream::transports::signalr::msgpack
