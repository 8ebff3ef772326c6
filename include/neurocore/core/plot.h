#pragma once
// Line plots through gnuplot, written as SVG and PNG. When gnuplot is missing, plotting
// warns once and returns false; nothing else fails.
#include <string>
#include <vector>

namespace nc {

struct Series {
  std::string name;
  std::vector<double> x, y;
};

struct PlotSpec {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  bool log_y = false;
};

/// Writes `<base>.svg` and `<base>.png` (atomically). Returns false when gnuplot is not
/// installed or failed (a warning says which); throws InternalError on x/y size mismatch.
bool plot_lines(const std::string& base, const PlotSpec& spec);

/// A line with a shaded band around it (e.g. the mean over seeds -/+ one std).
struct BandSeries {
  std::string name;
  std::vector<double> x, y, lo, hi;  ///< all the same size
};

struct BandSpec {
  std::string title, xlabel, ylabel;
  std::vector<BandSeries> series;
};

/// Like plot_lines, each series' band (lo to hi) shaded in its line's colour. Returns false
/// as plot_lines; throws InternalError when x, y, lo and hi differ in size.
bool plot_bands(const std::string& base, const BandSpec& spec);

struct BarSpec {
  std::string title, ylabel;
  std::vector<std::string> labels;
  std::vector<double> values;
};

/// A bar chart, one bar per label, as `<base>.svg` and `<base>.png`; returns false as plot_lines.
bool plot_bars(const std::string& base, const BarSpec& spec);

/// Whether a gnuplot executable is on PATH.
bool gnuplot_available();

}  // namespace nc
