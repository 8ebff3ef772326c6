#include "neurocore/core/report.h"

#include <fmt/format.h>

#include <map>

#include "neurocore/core/io.h"
#include "neurocore/core/plot.h"
#include "neurocore/core/run_dir.h"

namespace nc {

namespace {

PlotSpec plot_of(const std::vector<nlohmann::json>& epochs, const std::string& needle,
                 const std::string& title) {
  PlotSpec spec{title, "epoch", needle == "loss" ? "loss" : "accuracy (%)", {}, false};
  std::map<std::string, Series> by_key;
  std::vector<std::string> order;
  for (const auto& r : epochs) {
    for (const auto& [k, v] : r.items()) {
      if (!v.is_number() || k.find(needle) == std::string::npos) continue;
      if (!by_key.count(k)) order.push_back(k);
      auto& s = by_key[k];
      s.name = k;
      s.x.push_back(r.value("epoch", 0.0));
      s.y.push_back(v.get<double>());
    }
  }
  for (const auto& k : order) spec.series.push_back(by_key[k]);
  return spec;
}

std::string cell(const nlohmann::json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return fmt::format("{:.4g}", v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return v.is_null() ? "" : v.dump();
}

}  // namespace

void write_run_report(const RunDir& run, const std::string& title,
                      const std::vector<std::string>& summary) {
  std::vector<nlohmann::json> epochs;
  for (const auto& r : run.metrics())
    if (r.value("kind", "") == "epoch") epochs.push_back(r);

  std::vector<std::string> columns;
  for (const auto& r : epochs)
    for (const auto& [k, v] : r.items())
      if (k != "kind" && std::find(columns.begin(), columns.end(), k) == columns.end())
        columns.push_back(k);

  std::string md = "# " + title + "\n\n";
  for (const auto& s : summary) md += "- " + s + "\n";
  md += "\n## Metrics per epoch\n\n";
  if (epochs.empty()) {
    md += "(no epoch finished yet)\n";
  } else {
    md += "|";
    for (const auto& c : columns) md += " " + c + " |";
    md += "\n|";
    for (std::size_t i = 0; i < columns.size(); ++i) md += "---|";
    md += "\n";
    for (const auto& r : epochs) {
      md += "|";
      for (const auto& c : columns) md += " " + (r.contains(c) ? cell(r[c]) : "") + " |";
      md += "\n";
    }
  }

  md += "\n## Plots\n\n";
  bool any = false;
  for (const auto& [needle, name] : {std::pair<std::string, std::string>{"loss", "loss"},
                                     {"acc", "accuracy"}}) {
    const PlotSpec spec = plot_of(epochs, needle, title + ": " + name);
    if (spec.series.empty()) continue;
    if (plot_lines(run.file(name), spec)) {
      md += "![" + name + "](" + name + ".svg)\n\n";
      any = true;
    }
  }
  if (!any) md += "(no plots: gnuplot missing or no epochs yet)\n";
  write_file_atomic(run.file("report.md"), md);
}

}  // namespace nc
