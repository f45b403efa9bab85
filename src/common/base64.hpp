#pragma once
// Standard base64 (RFC 4648 §4, padded), the encoding of op payloads and snapshots in JSON.
#include <string>
#include <string_view>

namespace opstream {

void Base64Encode(std::string_view bytes, std::string& out);  // appends
std::string Base64Encode(std::string_view bytes);
// Strict: rejects characters outside the alphabet, bad padding and bad lengths.
bool Base64Decode(std::string_view text, std::string& out);

}  // namespace opstream
