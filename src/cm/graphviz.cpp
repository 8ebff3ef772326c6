#include "neurocore/cm/graphviz.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

namespace nc::cm {

namespace fs = std::filesystem;

bool have_graphviz() {
  // A PATH scan rather than `command -v` through a shell: no process per question.
  static const bool found = [] {
    const char* path = std::getenv("PATH");
    const std::string dirs = path ? path : "";
    for (std::size_t b = 0; b <= dirs.size();) {
      const std::size_t e = std::min(dirs.find(':', b), dirs.size());
      std::error_code ec;
      if (e > b && fs::exists(fs::path(dirs.substr(b, e - b)) / "dot", ec)) return true;
      b = e + 1;
    }
    return false;
  }();
  return found;
}

bool render_svg(const std::string& dot_file, const std::string& svg_file) {
  if (!have_graphviz()) {
    static std::once_flag warned;
    std::call_once(warned, [] {
      spdlog::warn("Graphviz (`dot`) not found: pictures are left as .dot files "
                   "(scripts/install-deps.sh installs graphviz)");
    });
    return false;
  }
  const std::string cmd = "dot -Tsvg '" + dot_file + "' -o '" + svg_file + "' 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) {
    std::error_code ec;
    fs::remove(svg_file, ec);
    spdlog::warn("Graphviz could not render {}", dot_file);
    return false;
  }
  return true;
}

}  // namespace nc::cm
