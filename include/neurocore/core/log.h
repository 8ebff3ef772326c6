#pragma once
// Logging through spdlog: one console logger on stderr, shared by every area.
#include <string>

namespace nc {

/// Sets up the console logger. `level` is one of trace, debug, info, warn, error, off.
/// Throws UserError on an unknown level.
void init_logging(const std::string& level = "info");

}  // namespace nc
