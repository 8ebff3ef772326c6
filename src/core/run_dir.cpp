#include "neurocore/core/run_dir.h"

#include <ctime>
#include <filesystem>
#include <sstream>

#include "neurocore/core/build_info.h"
#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/threads.h"

namespace nc {

namespace fs = std::filesystem;

RunKeys RunKeys::from_config(ConfigSection root) {
  RunKeys k;
  k.name = root.string("name", k.name);
  k.seed = static_cast<uint64_t>(root.integer("seed", static_cast<int64_t>(k.seed), 0));
  k.threads = set_threads(static_cast<int>(root.integer("threads", k.threads, 0, 1024)));
  k.runs_dir = root.string("runs_dir", k.runs_dir);
  return k;
}

RunDir::RunDir(std::string path) : path_(std::move(path)) {}

RunDir RunDir::create(const std::string& parent, const std::string& name) {
  std::string base = name;
  if (base.empty()) {
    char buf[32];
    const std::time_t t = std::time(nullptr);
    std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", std::localtime(&t));
    base = buf;
  }
  if (base.find('/') != std::string::npos || base == "." || base == "..") {
    throw UserError("name: a run name must not contain '/', got '" + base + "'");
  }
  const std::string path = create_fresh_dir((fs::path(parent) / base).string());
  std::error_code ec;
  fs::create_directories(fs::path(path) / "checkpoints", ec);
  if (ec) throw UserError(path + ": cannot create the run directory (" + ec.message() + ")");
  // Which code made the run: results tables name the commit of every run they use.
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  write_file_atomic((fs::path(path) / "provenance.json").string(),
                    nlohmann::json{{"commit", build_commit()}, {"created", when}}.dump(2) + "\n");
  return RunDir(path);
}

RunDir RunDir::open(const std::string& path) {
  if (!fs::is_directory(path)) throw UserError(path + ": no such run directory");
  if (!fs::exists(fs::path(path) / "config.yaml")) {
    throw UserError(path + ": not a run directory (no config.yaml inside)");
  }
  RunDir r(path);
  r.load_metrics();
  return r;
}

std::string RunDir::file(const std::string& relative) const {
  return (fs::path(path_) / relative).string();
}

std::string RunDir::checkpoints() const { return file("checkpoints"); }

void RunDir::log_metrics(const nlohmann::json& record) {
  metrics_.push_back(record);
  save_metrics();
}

void RunDir::save_metrics() const {
  std::string text;
  for (const auto& r : metrics_) text += r.dump() + "\n";
  write_file_atomic(file("metrics.jsonl"), text);
}

void RunDir::load_metrics() {
  metrics_.clear();
  const std::string f = file("metrics.jsonl");
  if (!fs::exists(f)) return;
  std::stringstream ss(read_file(f));
  std::string line;
  int n = 0;
  while (std::getline(ss, line)) {
    ++n;
    if (line.empty()) continue;
    try {
      metrics_.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      throw UserError(f + ": line " + std::to_string(n) + " is not valid JSON: " + e.what());
    }
  }
}

}  // namespace nc
