#include "neurocore/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "neurocore/core/error.h"

namespace nc {

void init_logging(const std::string& level) {
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    throw UserError("--log-level: expected one of trace, debug, info, warn, error, off; got '" +
                    level + "'");
  }
  static bool created = false;
  if (!created) {
    auto logger = spdlog::stderr_color_mt("neurocore");
    logger->set_pattern("[%H:%M:%S] %^%l%$ %v");
    spdlog::set_default_logger(logger);
    created = true;
  }
  spdlog::set_level(lvl);
}

}  // namespace nc
