#pragma once
// The pipeline's consolidated report (report.md and a self-contained report.html) and the
// placement picture (docs/pipeline.md, "Report").
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>


namespace nc::pipeline {

struct Report {
  struct Section {
    std::string title;
    std::vector<std::pair<std::string, std::string>> rows;  // (quantity, value)
    std::vector<std::string> images;                        // SVG files, shown below the table
  };
  std::string title;
  std::string dir;  // the images are read from here (the HTML embeds them)
  std::vector<Section> sections;

  std::string markdown() const;
  /// One file that opens offline: the SVGs are inlined.
  std::string html() const;
};

/// The report of a pipeline run from its stages' summaries (stages not run yet are left out).
/// Also writes the plots it shows into `dir`.
Report build_report(const std::string& dir, const nlohmann::json& summary);

}  // namespace nc::pipeline
