#include "neurocore/learn/sweep_report.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/plot.h"
#include "neurocore/core/strings.h"
#include "neurocore/learn/sweep_stats.h"

namespace nc::learn {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kXKeys = {"epoch", "task", "chars"};
const std::vector<std::string> kNotMetrics = {"epoch", "task", "chars", "window"};

std::string metrics_file(const std::string& run_dir) {
  const fs::path root = fs::path(run_dir) / "metrics.jsonl";
  std::error_code ec;
  if (fs::is_regular_file(root, ec)) return root.string();
  std::set<std::string> subs;
  for (const auto& e : fs::directory_iterator(run_dir, ec)) {
    if (e.is_directory() && fs::is_regular_file(e.path() / "metrics.jsonl", ec)) {
      subs.insert((e.path() / "metrics.jsonl").string());
    }
  }
  return subs.empty() ? "" : *subs.begin();
}

// The effective config a run wrote: config.yaml at its root or in its first sub-directory.
std::string config_file(const std::string& run_dir) {
  std::error_code ec;
  if (fs::is_regular_file(fs::path(run_dir) / "config.yaml", ec)) {
    return (fs::path(run_dir) / "config.yaml").string();
  }
  std::set<std::string> subs;
  for (const auto& e : fs::directory_iterator(run_dir, ec)) {
    if (e.is_directory() && fs::is_regular_file(e.path() / "config.yaml", ec)) {
      subs.insert((e.path() / "config.yaml").string());
    }
  }
  return subs.empty() ? "" : *subs.begin();
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json summary_json(const MetricSummary& s) {
  return {{"n", s.n}, {"mean", s.mean}, {"std", number_or_null(s.std)},
          {"ci95", {number_or_null(s.ci_low), number_or_null(s.ci_high)}}};
}

std::string rel(const std::string& path, const std::string& base) {
  return fs::path(path).lexically_relative(base).string();
}

// Mean and std over runs of a curve, point by point (runs aligned by position; x from the
// longest run).
nlohmann::json mean_curve(const std::vector<std::vector<std::pair<double, double>>>& curves) {
  std::size_t len = 0;
  const std::vector<std::pair<double, double>>* longest = nullptr;
  for (const auto& c : curves) {
    if (c.size() > len) {
      len = c.size();
      longest = &c;
    }
  }
  nlohmann::json j = {{"x", nlohmann::json::array()}, {"mean", nlohmann::json::array()},
                      {"std", nlohmann::json::array()}};
  for (std::size_t i = 0; i < len; ++i) {
    std::vector<double> ys;
    for (const auto& c : curves)
      if (i < c.size()) ys.push_back(c[i].second);
    const MetricSummary s = summarize(ys);
    j["x"].push_back((*longest)[i].first);
    j["mean"].push_back(s.mean);
    j["std"].push_back(s.n > 1 ? s.std : 0.0);
  }
  return j;
}

std::string cell(const nlohmann::json& m) {
  if (m.is_null()) return "";
  const double mean = m["mean"].get<double>();
  if (m["std"].is_null()) return fmt::format("{:.4g} (n=1)", mean);
  return fmt::format("{:.4g} ± {:.2g} [{:.4g}, {:.4g}] (n={})", mean, m["std"].get<double>(),
                     m["ci95"][0].get<double>(), m["ci95"][1].get<double>(), m["n"].get<int64_t>());
}

std::string overrides_text(const nlohmann::json& overrides) {
  std::string s;
  for (const auto& [k, v] : overrides.items()) s += (s.empty() ? "" : ", ") + k + "=" + v.get<std::string>();
  return s.empty() ? "(base config)" : s;
}

// A commit as tables show it: 10 hex digits (and -dirty); sweep.json keeps it whole.
std::string short_commit(const std::string& c) {
  const auto dash = c.find('-');
  const std::string hash = c.substr(0, dash);
  return (hash.size() > 10 ? hash.substr(0, 10) : hash) + (dash == std::string::npos ? "" : c.substr(dash));
}

}  // namespace

RunMetrics read_run_metrics(const std::string& run_dir) {
  RunMetrics m;
  const std::string file = metrics_file(run_dir);
  if (file.empty()) return m;
  std::stringstream ss(read_file(file));
  std::string line;
  int n = 0;
  while (std::getline(ss, line)) {
    ++n;
    if (line.empty()) continue;
    nlohmann::json r;
    try {
      r = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw UserError(file + ": line " + std::to_string(n) + " is not valid JSON: " + e.what());
    }
    if (!r.is_object()) continue;
    const nlohmann::json* x = nullptr;
    for (const auto& k : kXKeys) {
      if (r.contains(k) && r[k].is_number()) {
        x = &r[k];
        break;
      }
    }
    for (const auto& [k, v] : r.items()) {
      if (!v.is_number()) continue;
      if (std::find(kNotMetrics.begin(), kNotMetrics.end(), k) != kNotMetrics.end()) continue;
      m.final[k] = v.get<double>();
      if (x) m.curves[k].emplace_back(x->get<double>(), v.get<double>());
    }
  }
  return m;
}

nlohmann::json summarize_sweep(const SweepSpec& spec, const std::vector<SweepSetting>& settings,
                               const std::vector<std::vector<SweepRunStatus>>& runs,
                               const std::string& commit) {
  nlohmann::json out = {{"command", spec.command},
                        {"target", spec.target},
                        {"args", spec.args},
                        {"set", spec.sets},
                        {"seeds", nlohmann::json::array()},
                        {"commit_at_start", commit},
                        {"select", {{"metric", spec.select}, {"mode", spec.select_mode},
                                    {"test_metric", spec.test_metric}}},
                        {"settings", nlohmann::json::array()}};
  for (int64_t k = 0; k < spec.seeds; ++k) out["seeds"].push_back(spec.first_seed + k);
  nlohmann::json grid = nlohmann::json::array();
  for (const auto& axis : spec.grid) grid.push_back({{"key", axis.key}, {"values", axis.values}});
  out["grid"] = grid;
  std::set<std::string> all_commits;
  int64_t done = 0, failed = 0, total = 0;
  for (std::size_t i = 0; i < settings.size(); ++i) {
    nlohmann::json s = {{"id", settings[i].id}, {"overrides", nlohmann::json::object()},
                        {"runs", nlohmann::json::array()}, {"metrics", nlohmann::json::object()},
                        {"curves", nlohmann::json::object()}};
    for (const auto& [k, v] : settings[i].values) s["overrides"][k] = v;
    std::map<std::string, std::vector<double>> finals;
    std::map<std::string, std::vector<std::vector<std::pair<double, double>>>> curves;
    std::set<std::string> commits;
    for (const auto& r : runs[i]) {
      ++total;
      const std::string dir = (fs::path(spec.out) / "runs" / r.name).string();
      nlohmann::json j = {{"name", r.name}, {"seed", r.seed}, {"status", r.status},
                          {"dir", rel(dir, spec.out)}, {"log", rel(r.log, spec.out)}};
      if (r.status == "failed") ++failed;
      if (r.status == "done") {
        ++done;
        const auto marker = nlohmann::json::parse(read_file((fs::path(dir) / kSweepMarker).string()));
        j["commit"] = marker.value("commit", "unknown");
        j["args"] = marker.value("args", nlohmann::json::array());
        j["seconds"] = marker.value("seconds", 0.0);
        const std::string cfg = config_file(dir);
        j["config"] = cfg.empty() ? nlohmann::json() : nlohmann::json(rel(cfg, spec.out));
        commits.insert(j["commit"].get<std::string>());
        const RunMetrics m = read_run_metrics(dir);
        j["final"] = m.final;
        for (const auto& [k, v] : m.final) finals[k].push_back(v);
        for (const auto& k : {spec.select, spec.test_metric}) {
          if (m.curves.count(k)) curves[k].push_back(m.curves.at(k));
        }
      }
      s["runs"].push_back(j);
    }
    for (const auto& [k, values] : finals) s["metrics"][k] = summary_json(summarize(values));
    for (const auto& [k, c] : curves) s["curves"][k] = mean_curve(c);
    s["commits"] = commits;
    s["mixed_commits"] = commits.size() > 1;
    all_commits.insert(commits.begin(), commits.end());
    out["settings"].push_back(s);
  }
  out["runs"] = {{"total", total}, {"done", done}, {"failed", failed}};
  out["commits"] = all_commits;
  out["mixed_commits"] = all_commits.size() > 1;

  const bool maximize = spec.select_mode == "max";
  const nlohmann::json* best = nullptr;
  for (const auto& s : out["settings"]) {
    if (!s["metrics"].contains(spec.select)) continue;
    const double m = s["metrics"][spec.select]["mean"].get<double>();
    if (!best || (maximize ? m > (*best)["metrics"][spec.select]["mean"].get<double>()
                           : m < (*best)["metrics"][spec.select]["mean"].get<double>())) {
      best = &s;
    }
  }
  if (best) {
    nlohmann::json b = {{"setting", (*best)["id"]}, {"overrides", (*best)["overrides"]},
                        {spec.select, (*best)["metrics"][spec.select]}};
    if ((*best)["metrics"].contains(spec.test_metric)) {
      b[spec.test_metric] = (*best)["metrics"][spec.test_metric];
    }
    out["best"] = b;
  }
  return out;
}

void write_sweep_report(const SweepSpec& spec, const std::vector<SweepSetting>& settings,
                        const nlohmann::json& summary) {
  const bool mixed = summary["mixed_commits"].get<bool>();
  if (mixed) {
    spdlog::warn("sweep {}: finished runs come from {} different commits (marked in report.md)",
                 spec.out, summary["commits"].size());
  }
  std::ostringstream md;
  md << "# Sweep: neurocore " << spec.command << " " << spec.target << "\n\n"
     << "- commit at the start of this sweep: `" << summary["commit_at_start"].get<std::string>() << "`\n"
     << "- runs: " << summary["runs"]["done"] << " done, " << summary["runs"]["failed"]
     << " failed, of " << summary["runs"]["total"] << " (" << settings.size() << " settings x "
     << spec.seeds << " seeds, first seed " << spec.first_seed << ")\n";
  for (const auto& a : spec.grid) md << "- grid: `" << a.key << "` in {" << join(a.values) << "}\n";
  if (!spec.sets.empty()) md << "- every run: `--set " << join(spec.sets, "`, `--set ") << "`\n";
  if (!spec.args.empty()) md << "- arguments of every run: `" << join(spec.args, " ") << "`\n";
  md << "- cells: mean ± sample std [95 % t-interval] (n runs); machine-readable: "
        "[sweep.json](sweep.json)\n";
  if (mixed) {
    md << "\n**Warning: the finished runs come from " << summary["commits"].size()
       << " different commits (" << join(summary["commits"].get<std::vector<std::string>>())
       << "); settings marked † mix commits, or differ from another setting's.**\n";
  }

  // The columns: the selection and test metrics first, then every other metric.
  std::vector<std::string> columns = {spec.select, spec.test_metric};
  for (const auto& s : summary["settings"])
    for (const auto& [k, v] : s["metrics"].items())
      if (std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
  md << "\n## Settings\n\n| setting | overrides | commit |";
  for (const auto& c : columns) md << " " << c << " |";
  md << "\n|---|---|---|";
  for (std::size_t i = 0; i < columns.size(); ++i) md << "---|";
  md << "\n";
  for (const auto& s : summary["settings"]) {
    std::vector<std::string> commits;
    for (const auto& c : s["commits"]) commits.push_back(short_commit(c.get<std::string>()));
    std::string commit = join(commits, " ");
    if (mixed && !commits.empty()) commit += " †";
    md << "| " << s["id"].get<std::string>() << " | " << overrides_text(s["overrides"]) << " | "
       << commit << " |";
    for (const auto& c : columns) md << " " << (s["metrics"].contains(c) ? cell(s["metrics"][c]) : "") << " |";
    md << "\n";
  }

  md << "\n## Selection\n\n";
  if (summary.contains("best")) {
    const auto& b = summary["best"];
    md << "Best setting on `" << spec.select << "` (" << (spec.select_mode == "max" ? "highest" : "lowest")
       << " mean): **" << b["setting"].get<std::string>() << "** (" << overrides_text(b["overrides"])
       << "): " << spec.select << " " << cell(b[spec.select]) << ".\n\nIts `" << spec.test_metric
       << "`, reported once for the selected setting: "
       << (b.contains(spec.test_metric) ? cell(b[spec.test_metric]) : "(not measured)") << ".\n";
  } else {
    md << "No setting has the metric `" << spec.select << "`: nothing selected (a training run "
          "reports valid_acc with `--set data.validation=true`).\n";
  }

  md << "\n## Curves\n\n";
  bool any = false;
  for (const auto& metric : {spec.select, spec.test_metric}) {
    BandSpec plot{"sweep: " + metric + " (mean over seeds, band: ± 1 std)",
                  "epoch / task / characters", metric, {}};
    for (const auto& s : summary["settings"]) {
      if (!s["curves"].contains(metric)) continue;
      const auto& c = s["curves"][metric];
      BandSeries series{s["id"].get<std::string>() + " " + overrides_text(s["overrides"]),
                        c["x"].get<std::vector<double>>(), c["mean"].get<std::vector<double>>(), {}, {}};
      const auto sd = c["std"].get<std::vector<double>>();
      for (std::size_t i = 0; i < sd.size(); ++i) {
        series.lo.push_back(series.y[i] - sd[i]);
        series.hi.push_back(series.y[i] + sd[i]);
      }
      plot.series.push_back(std::move(series));
    }
    if (plot.series.empty()) continue;
    if (plot_bands((fs::path(spec.out) / metric).string(), plot)) {
      md << "![" << metric << "](" << metric << ".svg)\n\n";
      any = true;
    }
  }
  if (!any) md << "(no curves: gnuplot missing or no run finished yet)\n";

  md << "\n## Runs\n\n| run | seed | status | commit | effective config | log |\n|---|---|---|---|---|---|\n";
  for (const auto& s : summary["settings"]) {
    for (const auto& r : s["runs"]) {
      md << "| " << r["name"].get<std::string>() << " | " << r["seed"] << " | "
         << r["status"].get<std::string>() << " | " << short_commit(r.value("commit", std::string())) << " | "
         << (r.contains("config") && r["config"].is_string() ? "[config](" + r["config"].get<std::string>() + ")" : "")
         << " | [log](" << r["log"].get<std::string>() << ") |\n";
    }
  }
  write_file_atomic((fs::path(spec.out) / "sweep.json").string(), summary.dump(2) + "\n");
  write_file_atomic((fs::path(spec.out) / "report.md").string(), md.str());
}

}  // namespace nc::learn
