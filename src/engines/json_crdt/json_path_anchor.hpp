#pragma once
// Comment anchors on JSON documents (engines.md §13, anchor kind "json", data {"path":"..."}).
// A JSON anchor never moves; it is orphaned when a committed batch deletes the anchored path or
// one of its containers. Containers are matched textually: the delete's path followed by '.' (a
// child register) or '[' (an indexed element, which the engine itself does not interpret).
#include <optional>
#include <string>
#include <string_view>

#include "engines/json_crdt/json_crdt_engine.hpp"

namespace opstream::engines {

// True when `batch` holds a delete of `anchored_path` or of a prefix of it followed by '.' or '['.
// Comparison is ordinal (§1.2).
bool JsonBatchOrphansAnchor(const JsonOpBatch& batch, std::string_view anchored_path) noexcept;

// The "path" of anchor data, bound case-insensitively like every payload; nullopt when the data is
// not an object with a string path.
std::optional<std::string> ReadJsonAnchorPath(std::string_view anchor_data_json);

}  // namespace opstream::engines
