// Regression guards for the headline figures: each figure of tests/regression/figures.yaml is
// run once (seed 1, one thread) with the real executable and its final metric must not fall
// below (or, for a lower-is-better metric, rise above) the floor that
// scripts/reproduce/regression-floors.sh measured over 5 seeds (tests/regression/floors.json).
// A figure without a measured floor fails: a guard that cannot fail is no guard.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/run_cli.h"
#include "neurocore/learn/sweep_report.h"

namespace {

namespace fs = std::filesystem;

const fs::path kRoot = NC_SOURCE_DIR;

struct Figure {
  std::string name, command, config, metric;
  std::vector<std::string> sets;
  bool higher = true;
  std::string file;  ///< a JSON file of the run holding the metric; empty: metrics.jsonl
};

// gtest prints a parameter's name, not its bytes.
void PrintTo(const Figure& f, std::ostream* os) { *os << f.name; }

std::vector<Figure> figures() {
  std::vector<Figure> out;
  const YAML::Node root = YAML::LoadFile((kRoot / "tests/regression/figures.yaml").string());
  for (const auto& f : root["figures"]) {
    Figure fig{f["name"].as<std::string>(), f["command"].as<std::string>(),
               f["config"].as<std::string>(), f["metric"].as<std::string>(),
               f["set"].as<std::vector<std::string>>(), f["higher"].as<bool>(),
               f["file"] ? f["file"].as<std::string>() : std::string()};
    out.push_back(fig);
  }
  return out;
}

class Regression : public testing::TestWithParam<Figure> {};

TEST_P(Regression, FigureStaysAboveItsMeasuredFloor) {
  const Figure& fig = GetParam();
  const nlohmann::json floors =
      nlohmann::json::parse(nc::test::slurp(kRoot / "tests/regression/floors.json"));
  ASSERT_TRUE(floors["figures"].contains(fig.name))
      << "no floor measured for " << fig.name << ": run scripts/reproduce/regression-floors.sh";
  const nlohmann::json& m = floors["figures"][fig.name];

  const fs::path dir = nc::test::fresh_temp_path("regression", fig.name);
  std::string args = "--log-level warn " + fig.command + " " + (kRoot / fig.config).string() +
                     " --set seed=1 --set threads=1 --set runs_dir=" + dir.string() +
                     " --set name=run";
  for (const auto& s : fig.sets) args += " --set " + s;
  // Configs name other files (hardware specs) relative to the repository, as a user runs them.
  const fs::path cwd = fs::current_path();
  fs::current_path(kRoot);
  const auto r = nc::test::run_cli(args);
  fs::current_path(cwd);
  if (r.code == 2 && r.output.find("install-deps.sh") != std::string::npos)
    GTEST_SKIP() << r.output;  // a data set missing on this machine (make test installs it)
  ASSERT_EQ(r.code, 0) << r.output;

  double value = 0;
  if (fig.file.empty()) {
    const auto metrics = nc::learn::read_run_metrics((dir / "run").string());
    ASSERT_TRUE(metrics.final.count(fig.metric)) << fig.metric << " missing in " << dir;
    value = metrics.final.at(fig.metric);
  } else {
    const auto j = nlohmann::json::parse(nc::test::slurp(dir / "run" / fig.file));
    ASSERT_TRUE(j.contains(fig.metric)) << fig.metric << " missing in " << fig.file;
    value = j[fig.metric].get<double>();
  }
  const double floor = m["floor"].get<double>();
  if (fig.higher)
    EXPECT_GE(value, floor) << fig.name << ": " << fig.metric << " " << value << " below the floor "
                            << floor << " (5 seeds at " << floors["commit"] << ": mean "
                            << m["mean"] << ", std " << m["std"] << ")";
  else
    EXPECT_LE(value, floor) << fig.name << ": " << fig.metric << " " << value << " above the floor "
                            << floor << " (5 seeds at " << floors["commit"] << ": mean "
                            << m["mean"] << ", std " << m["std"] << ")";
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Figures, Regression, testing::ValuesIn(figures()),
                         [](const testing::TestParamInfo<Figure>& info) {
                           std::string n = info.param.name;
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
