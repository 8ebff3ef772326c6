#include "neurocore/pipeline/stages.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"

namespace nc::pipeline {

namespace fs = std::filesystem;

std::string fingerprint(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;  // FNV-1a 64 prime
  }
  return fmt::format("{:016x}", h);
}

StageRunner::StageRunner(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw UserError(dir_ + ": cannot create the pipeline directory: " + ec.message());
}

std::string StageRunner::stage_dir(const std::string& name) const {
  return (fs::path(dir_) / name).string();
}

void StageRunner::log(const std::string& line) const {
  std::ofstream out(fs::path(dir_) / "pipeline.log", std::ios::app);
  out << line << '\n';
  if (!out) throw UserError(dir_ + "/pipeline.log: cannot append to the stage log");
}

nlohmann::json StageRunner::run(
    const std::string& name, const std::string& settings,
    const std::function<nlohmann::json(const std::string& out_dir)>& body) {
  const std::string key = fingerprint(upstream_key_ + "\n" + name + "\n" + settings);
  upstream_key_ = key;
  const fs::path done = fs::path(stage_dir(name));
  const fs::path manifest = done / "stage.json";
  if (fs::exists(manifest)) {
    nlohmann::json m;
    try {
      m = nlohmann::json::parse(read_file(manifest.string()));
    } catch (const nlohmann::json::exception&) {
      m = nullptr;  // unreadable: the stage runs again
    }
    if (m.is_object() && m.value("key", "") == key && m.contains("summary")) {
      spdlog::info("stage {}: up to date, skipped ({})", name, done.string());
      log("skip " + name + " " + key);
      return m["summary"];
    }
  }
  const fs::path partial = fs::path(dir_) / ("." + name + ".partial");
  fs::remove_all(partial);
  fs::create_directories(partial);
  spdlog::info("stage {}: running", name);
  const auto t0 = std::chrono::steady_clock::now();
  nlohmann::json summary = body(partial.string());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summary["seconds"] = seconds;
  nlohmann::json m{{"stage", name}, {"key", key}, {"summary", summary}};
  write_file_atomic((partial / "stage.json").string(), m.dump(2) + "\n");
  fs::remove_all(done);
  fs::rename(partial, done);
  spdlog::info("stage {}: done in {:.1f} s", name, seconds);
  log("run " + name + " " + key);
  ran_.push_back(name);
  return summary;
}

}  // namespace nc::pipeline
