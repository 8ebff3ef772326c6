#include "neurocore/core/plot.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"

namespace nc {

namespace fs = std::filesystem;

bool gnuplot_available() {
  static const bool found = std::system("command -v gnuplot >/dev/null 2>&1") == 0;
  return found;
}

namespace {
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
}  // namespace

bool plot_lines(const std::string& base, const PlotSpec& spec) {
  if (!gnuplot_available()) {
    static bool warned = false;
    if (!warned) spdlog::warn("gnuplot not found: skipping plots (install gnuplot-nox)");
    warned = true;
    return false;
  }
  for (const auto& s : spec.series) {
    if (s.x.size() != s.y.size()) throw InternalError("plot_lines: x and y differ in size");
  }
  const std::string dat = base + ".dat.tmp";
  const std::string gp = base + ".gp.tmp";
  {
    std::ofstream out(dat);
    for (const auto& s : spec.series) {
      for (std::size_t i = 0; i < s.x.size(); ++i) out << s.x[i] << " " << s.y[i] << "\n";
      out << "\n\n";  // gnuplot data-set separator, addressed by `index`
    }
  }
  bool ok = true;
  for (const std::string ext : {"svg", "png"}) {
    const std::string target = base + "." + ext;
    try {
      write_atomic_with(target, [&](const std::string& tmp) {
        std::ofstream g(gp);
        g << (ext == "svg" ? "set terminal svg size 720,440 dynamic background rgb 'white'\n"
                           : "set terminal pngcairo size 720,440\n");
        g << "set output " << quoted(tmp) << "\n";
        g << "set title " << quoted(spec.title) << "\nset xlabel " << quoted(spec.xlabel)
          << "\nset ylabel " << quoted(spec.ylabel) << "\nset grid\nset key outside right\n";
        if (spec.log_y) g << "set logscale y\n";
        g << "plot ";
        for (std::size_t i = 0; i < spec.series.size(); ++i) {
          g << (i ? ", " : "") << quoted(dat) << " index " << i
            << " with linespoints lw 2 title " << quoted(spec.series[i].name);
        }
        g << "\n";
        g.close();
        const std::string cmd = "gnuplot " + quoted(gp) + " 2>/dev/null";
        if (std::system(cmd.c_str()) != 0 || !fs::exists(tmp)) {
          throw UserError("gnuplot failed on " + target);
        }
      });
    } catch (const UserError& e) {
      spdlog::warn("{}", e.what());
      ok = false;
    }
  }
  std::error_code ec;
  fs::remove(dat, ec);
  fs::remove(gp, ec);
  return ok;
}

}  // namespace nc
