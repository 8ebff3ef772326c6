// The sweep's plan: its spec (from a sweep file or flags), the settings and each run's
// command line.
#include <algorithm>

#include <filesystem>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"
#include "neurocore/learn/sweep.h"

namespace nc::learn {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kCommands = {"train", "lm", "continual", "quantize", "prune", "pipeline"};
// Keys the sweep sets on every run itself.
const std::vector<std::string> kOwnKeys = {"seed", "name", "runs_dir"};

bool is_flag(const std::string& key) { return key.rfind("--", 0) == 0; }

}  // namespace

SweepAxis parse_axis(const std::string& text, const std::string& what) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UserError(what + " '" + text + "': expected key=v1,v2,..., e.g. train.learning_rate=0.001,0.002");
  }
  SweepAxis axis{text.substr(0, eq), {}};
  std::string value;
  int depth = 0;
  for (char c : text.substr(eq + 1) + ",") {
    if (c == '[' || c == '{') ++depth;
    if (c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      if (value.empty()) throw UserError(what + " '" + text + "': empty value in the list");
      axis.values.push_back(value);
      value.clear();
    } else {
      value += c;
    }
  }
  return axis;
}

bool SweepSpec::is_sweep_file(const std::string& path) {
  return Config::load(path).root().has("command");
}

SweepSpec SweepSpec::from_file(const std::string& path) {
  Config config = Config::load(path);
  auto root = config.root();
  SweepSpec s;
  s.command = root.choice("command", s.command, kCommands);
  s.target = root.string("config", "");
  if (s.target.empty()) throw UserError(path + ": config must name the command's config file, got none");
  if (fs::path(s.target).is_relative()) s.target = (fs::path(path).parent_path() / s.target).string();
  s.args = root.strings("args", {});
  s.sets = root.strings("set", {});
  for (const auto& g : root.strings("grid", {})) s.grid.push_back(parse_axis(g, path + ": grid"));
  s.seeds = root.integer("seeds", s.seeds, 1, 1000);
  s.first_seed = root.integer("first_seed", s.first_seed, 0);
  s.jobs = root.integer("jobs", s.jobs, 1, 256);
  s.out = root.string("out", s.out);
  s.select = root.string("select", s.select);
  s.select_mode = root.string("select_mode", s.select_mode);
  s.test_metric = root.string("test_metric", s.test_metric);
  root.finish();
  return s;
}

void SweepSpec::finalize() {
  if (std::find(kCommands.begin(), kCommands.end(), command) == kCommands.end()) {
    const std::string hint = closest_match(command, kCommands);
    throw UserError("sweep: command '" + command + "' does not write a run directory, expected one of " +
                    join(kCommands) + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
  if (target.empty()) throw UserError("sweep: give the command's CONFIG (quantize, prune: its RUN_DIR)");
  if (seeds < 1) throw UserError("sweep: --seeds must be >= 1, got " + std::to_string(seeds));
  if (jobs < 1) throw UserError("sweep: --jobs must be >= 1, got " + std::to_string(jobs));
  for (const auto& set : sets) {
    if (set.find('=') == std::string::npos) throw UserError("sweep: set '" + set + "': expected key=value");
  }
  for (std::size_t i = 0; i < grid.size(); ++i) {
    const auto& key = grid[i].key;
    for (std::size_t j = 0; j < i; ++j) {
      if (grid[j].key == key) throw UserError("sweep: grid key '" + key + "' appears twice");
    }
    if (std::find(kOwnKeys.begin(), kOwnKeys.end(), key) != kOwnKeys.end()) {
      throw UserError("sweep: grid key '" + key + "' is set by the sweep itself (seeds: --seeds, "
                      "--first-seed; run directories: --out)");
    }
    for (const auto& set : sets) {
      if (set.substr(0, set.find('=')) == key) {
        throw UserError("sweep: '" + key + "' is both a grid key and a fixed --set");
      }
    }
  }
  if (out.empty()) out = (fs::path("sweeps") / fs::path(target).stem()).string();
  if (select.empty()) select = command == "lm" ? "valid_bpc" : "valid_acc";
  if (select_mode.empty()) {
    const bool lower = select.find("loss") != std::string::npos ||
                       select.find("bpc") != std::string::npos ||
                       select.find("error") != std::string::npos;
    select_mode = lower ? "min" : "max";
  }
  if (select_mode != "max" && select_mode != "min") {
    throw UserError("sweep: select_mode must be max or min, got '" + select_mode + "'");
  }
  if (test_metric.empty()) {
    test_metric = select;
    const auto at = test_metric.find("valid");
    if (at != std::string::npos) test_metric.replace(at, 5, "test");
  }
}

std::vector<SweepSetting> sweep_settings(const SweepSpec& spec) {
  std::vector<SweepSetting> out{{"", {}}};
  for (const auto& axis : spec.grid) {
    std::vector<SweepSetting> next;
    for (const auto& s : out) {
      for (const auto& v : axis.values) {
        SweepSetting t = s;
        t.values.emplace_back(axis.key, v);
        next.push_back(std::move(t));
      }
    }
    out = std::move(next);
  }
  for (std::size_t i = 0; i < out.size(); ++i) out[i].id = "s" + std::to_string(i);
  return out;
}

std::vector<std::string> run_arguments(const SweepSpec& spec, const SweepSetting& setting,
                                       int64_t seed, const std::string& run_dir) {
  std::vector<std::string> a = {spec.command, spec.target};
  a.insert(a.end(), spec.args.begin(), spec.args.end());
  for (const auto& set : spec.sets) a.insert(a.end(), {"--set", set});
  for (const auto& [key, value] : setting.values) {
    if (is_flag(key)) {
      a.push_back(key + "=" + value);
    } else {
      a.insert(a.end(), {"--set", key + "=" + value});
    }
  }
  a.insert(a.end(), {"--set", "seed=" + std::to_string(seed)});
  const fs::path dir(run_dir);
  if (spec.command == "quantize" || spec.command == "prune") {  // RUN_DIR commands take --out
    a.insert(a.end(), {"--out", dir.string()});
  } else {
    a.insert(a.end(), {"--set", "runs_dir=" + dir.parent_path().string(), "--set",
                       "name=" + dir.filename().string()});
  }
  return a;
}

}  // namespace nc::learn
