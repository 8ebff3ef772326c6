#pragma once
// What a sweep found: each run's metrics, their mean, spread and 95 % interval per setting,
// the best setting on the validation metric, written as sweep.json and report.md.
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "neurocore/learn/sweep.h"

namespace nc::learn {

/// The file in a run directory that says the sweep saw the run finish (exit code 0).
inline const char* const kSweepMarker = "sweep_run.json";

/// The numbers of one run directory, from its metrics.jsonl (or, when it has none, the first
/// `<sub>/metrics.jsonl` in name order: the pipeline's train stage).
struct RunMetrics {
  /// Per numeric key: its value in the last record that holds it. The x keys (epoch, task,
  /// window, chars) are left out.
  std::map<std::string, double> final;
  /// Per numeric key: (x, value) for each record that holds it and an x (the first of epoch,
  /// task, chars present), in file order: the curves.
  std::map<std::string, std::vector<std::pair<double, double>>> curves;
};

/// Reads a run directory's metrics as above; empty when it has no metrics.jsonl. Throws
/// UserError naming the file and line when a line is not JSON.
RunMetrics read_run_metrics(const std::string& run_dir);

/// One run of a sweep as the report sees it.
struct SweepRunStatus {
  std::string name;      ///< "s0-seed1"
  int64_t seed = 0;
  std::string status;    ///< done (marker present), failed (exited non-zero now), pending
  std::string log;       ///< its log file
};

/// The summary of a sweep directory: for each setting, its overrides, its runs (with the
/// commit and args from their markers, the effective config's path and final metrics), and
/// per metric over its finished runs: n, mean, std, ci95 (sweep_stats.h); the commits seen
/// ("mixed_commits" true, per setting and overall, when finished runs come from more than
/// one); "best": the setting with the highest (select_mode max) or lowest mean of
/// spec.select, with that metric's and spec.test_metric's summaries (absent when no setting
/// has the metric). Paths are relative to spec.out.
nlohmann::json summarize_sweep(const SweepSpec& spec, const std::vector<SweepSetting>& settings,
                               const std::vector<std::vector<SweepRunStatus>>& runs,
                               const std::string& commit);

/// Writes spec.out/sweep.json, spec.out/report.md and a plot per selection and test metric
/// (mean curve over seeds of each setting with a mean -/+ std band; nc::plot_lines), all
/// atomically. Warns (and marks the table) when runs of different commits are mixed.
void write_sweep_report(const SweepSpec& spec, const std::vector<SweepSetting>& settings,
                        const nlohmann::json& summary);

}  // namespace nc::learn
