#pragma once
// A run directory: runs/<name>/ holding config.yaml (the effective config), metrics.jsonl
// (one JSON object per epoch or evaluation), checkpoints/ and report.md with plots.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace nc {

class ConfigSection;

/// The keys at the root of every command's config that say where and how a run goes.
struct RunKeys {
  std::string name;               ///< "" = a timestamp
  uint64_t seed = 42;             ///< >= 0
  int threads = 0;                ///< LibTorch's intra-op pool; 0 = one per core
  std::string runs_dir = "runs";  ///< parent of the run directory

  /// Reads name, seed, threads (0 to 1024) and runs_dir from `root` and sets the thread pool
  /// (set_threads); the returned `threads` is the size set. Throws UserError naming the key.
  static RunKeys from_config(ConfigSection root);
};

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
