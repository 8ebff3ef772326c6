#pragma once
// The config of a command: a YAML file, then each --set override, then the global --threads.
#include <string>
#include <vector>

#include "commands.h"
#include "neurocore/core/config.h"

namespace nc::cli {

inline Config load_config(const std::string& path, const std::vector<std::string>& sets,
                          const Global& g) {
  Config config = Config::load(path);
  for (const auto& s : sets) config.set(s);
  if (g.threads >= 0) config.set("threads=" + std::to_string(g.threads));
  return config;
}

}  // namespace nc::cli
