#include "neurocore/core/plot.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

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

namespace {

bool warn_if_missing() {
  if (gnuplot_available()) return false;
  static bool warned = false;
  if (!warned) spdlog::warn("gnuplot not found: skipping plots (install gnuplot-nox)");
  warned = true;
  return true;
}

// Writes <base>.svg and <base>.png from `data` (a gnuplot data file, referred to as DATA in
// `commands`) and the plotting `commands` that follow the terminal and output settings.
bool render(const std::string& base, const std::string& data, const std::string& commands) {
  const std::string dat = base + ".dat.tmp";
  const std::string gp = base + ".gp.tmp";
  write_file_atomic(dat, data);
  std::string body = commands;
  const std::string file = quoted(dat);
  for (std::size_t at = body.find("DATA"); at != std::string::npos;
       at = body.find("DATA", at + file.size())) {
    body.replace(at, 4, file);
  }
  bool ok = true;
  for (const std::string ext : {"svg", "png"}) {
    const std::string target = base + "." + ext;
    try {
      write_atomic_with(target, [&](const std::string& tmp) {
        std::ofstream g(gp);
        g << (ext == "svg" ? "set terminal svg size 720,440 dynamic background rgb 'white'\n"
                           : "set terminal pngcairo size 720,440\n");
        g << "set output " << quoted(tmp) << "\n" << body;
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

std::string labels(const std::string& title, const std::string& xlabel, const std::string& ylabel) {
  return "set title " + quoted(title) + "\nset xlabel " + quoted(xlabel) + "\nset ylabel " +
         quoted(ylabel) + "\nset grid\n";
}

}  // namespace

namespace {

// plot_lines and plot_bands: `bands` empty, or one (lo, hi) pair per series.
bool plot_series(const std::string& base, const std::string& title, const std::string& xlabel,
                 const std::string& ylabel, bool log_y, const std::vector<Series>& series,
                 const std::vector<std::pair<std::vector<double>, std::vector<double>>>& bands) {
  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    if (s.x.size() != s.y.size()) throw InternalError("plot_lines: x and y differ in size");
    if (!bands.empty() && (bands[i].first.size() != s.x.size() || bands[i].second.size() != s.x.size())) {
      throw InternalError("plot_bands: x, y, lo and hi differ in size");
    }
  }
  if (warn_if_missing()) return false;
  std::ostringstream data, cmds;
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      data << s.x[i] << " " << s.y[i];
      if (!bands.empty()) data << " " << bands[k].first[i] << " " << bands[k].second[i];
      data << "\n";
    }
    data << "\n\n";  // gnuplot data-set separator, addressed by `index`
  }
  // Band plots name metrics (valid_acc): literal text, not enhanced-text subscripts.
  if (!bands.empty()) cmds << "set termoption noenhanced\n";
  cmds << labels(title, xlabel, ylabel) << "set key outside right\n";
  if (log_y) cmds << "set logscale y\n";
  cmds << "plot ";
  for (std::size_t i = 0; i < series.size(); ++i) {
    if (i) cmds << ", ";
    // Line type i + 1 for a band and its line alike, so that they share a colour.
    if (!bands.empty()) {
      cmds << "DATA index " << i << " using 1:3:4 with filledcurves lt " << i + 1
           << " fs transparent solid 0.2 notitle, ";
    }
    cmds << "DATA index " << i << " using 1:2 with linespoints lt " << i + 1 << " lw 2 title "
         << quoted(series[i].name);
  }
  cmds << "\n";
  return render(base, data.str(), cmds.str());
}

}  // namespace

bool plot_lines(const std::string& base, const PlotSpec& spec) {
  return plot_series(base, spec.title, spec.xlabel, spec.ylabel, spec.log_y, spec.series, {});
}

bool plot_bands(const std::string& base, const BandSpec& spec) {
  std::vector<Series> lines;
  std::vector<std::pair<std::vector<double>, std::vector<double>>> bands;
  for (const auto& s : spec.series) {
    lines.push_back(Series{s.name, s.x, s.y});
    bands.emplace_back(s.lo, s.hi);
  }
  return plot_series(base, spec.title, spec.xlabel, spec.ylabel, false, lines, bands);
}

bool plot_bars(const std::string& base, const BarSpec& spec) {
  if (spec.labels.size() != spec.values.size()) {
    throw InternalError("plot_bars: labels and values differ in size");
  }
  if (warn_if_missing()) return false;
  std::ostringstream data;
  for (std::size_t i = 0; i < spec.labels.size(); ++i) {
    data << quoted(spec.labels[i]) << " " << spec.values[i] << "\n";
  }
  const std::string cmds = labels(spec.title, "", spec.ylabel) +
                           "set style data histograms\nset style fill solid 0.8 border -1\n"
                           "set boxwidth 0.7\nset yrange [0:*]\nset key off\n"
                           "plot DATA using 2:xtic(1) lc rgb '#4477aa'\n";
  return render(base, data.str(), cmds);
}

}  // namespace nc
