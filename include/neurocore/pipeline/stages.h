#pragma once
// Stages of a pipeline that skip themselves when their outputs are up to date
// (docs/pipeline.md, "Resuming").
//
// Each stage writes into its own sub-directory of the pipeline's directory. A stage's key is a
// fingerprint of everything its outputs depend on: its own settings and the key of the stage
// before it, so changing a late stage's settings re-runs that stage and those after it, and
// changing an early one re-runs everything from there. A stage first writes into
// `.<name>.partial/` and renames it into place with its `stage.json` (key and summary) only when
// it has finished, so an interrupted pipeline never mistakes a half-written stage for a done one.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace nc::pipeline {

/// 64-bit FNV-1a of `text` as 16 hex digits: stable across builds and machines (std::hash is not).
std::string fingerprint(const std::string& text);

class StageRunner {
 public:
  /// `dir` is the pipeline's directory (created when missing). Stage events are appended to
  /// `dir`/pipeline.log, one line each: "run <stage> <key>" or "skip <stage> <key>".
  explicit StageRunner(std::string dir);

  /// The stage's body writes its outputs into the directory it is given and returns a summary
  /// (numbers for the report). Runs `body` unless `<dir>/<name>/stage.json` holds `settings`'
  /// key chained to the previous stage's; returns the summary either way. The key of this stage
  /// becomes the upstream key of the next call.
  nlohmann::json run(const std::string& name, const std::string& settings,
                     const std::function<nlohmann::json(const std::string& out_dir)>& body);

  /// `<dir>/<name>`: where a finished stage's outputs are.
  std::string stage_dir(const std::string& name) const;
  const std::string& dir() const { return dir_; }
  /// Names of the stages that ran (not skipped) in this process, in order.
  const std::vector<std::string>& ran() const { return ran_; }

 private:
  void log(const std::string& line) const;

  std::string dir_;
  std::string upstream_key_;
  std::vector<std::string> ran_;
};

}  // namespace nc::pipeline
