#pragma once
// A run directory: runs/<name>/ holding config.yaml (the effective config), metrics.jsonl
// (one JSON object per epoch or evaluation), checkpoints/ and report.md with plots.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace nc {

class RunDir {
 public:
  /// Creates a new run directory under `parent`. If `name` is empty, a timestamp is used;
  /// if the directory exists, "-2", "-3", ... is appended so nothing is overwritten.
  static RunDir create(const std::string& parent, const std::string& name);
  /// Opens an existing run directory (for --resume and eval). Throws UserError when it
  /// does not exist or holds no config.yaml.
  static RunDir open(const std::string& path);

  const std::string& path() const { return path_; }
  std::string file(const std::string& relative) const;
  std::string checkpoints() const;

  /// Appends one record to metrics.jsonl (rewritten atomically).
  void log_metrics(const nlohmann::json& record);
  /// Records read back from metrics.jsonl.
  const std::vector<nlohmann::json>& metrics() const { return metrics_; }
  /// Keeps only the records for which keep(record) is true (used when resuming, to drop
  /// records of an epoch that will be redone).
  template <class Pred>
  void filter_metrics(Pred keep) {
    std::vector<nlohmann::json> kept;
    for (const auto& r : metrics_)
      if (keep(r)) kept.push_back(r);
    metrics_ = std::move(kept);
    save_metrics();
  }

 private:
  explicit RunDir(std::string path);
  void save_metrics() const;
  void load_metrics();
  std::string path_;
  std::vector<nlohmann::json> metrics_;
};

}  // namespace nc
