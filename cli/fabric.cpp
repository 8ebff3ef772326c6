// neurocore fabric: place a model's cores on communication-fabric topologies and compare the
// channel loads (docs/fabric.md, "neurocore fabric"). Flags -> cm::compile ->
// cm::write_fabric_report.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "hw_flags.h"
#include "neurocore/cm/compiled.h"
#include "neurocore/cm/fabric_report.h"
#include "neurocore/cm/model_zoo.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/strings.h"

namespace nc::cli {

namespace {

namespace fs = std::filesystem;

struct FabricArgs {
  std::string model, topology = "all", out;
  HwFlags hw;
  int64_t crossbar = 0;  // 0: the hardware spec's crossbar
  double budget_s = 5.0;
  int64_t images = 4;  // simulated per fabric; 0: no timing simulation
};

const std::vector<std::string>& crossbars() {
  static const std::vector<std::string> v{"256", "512"};
  return v;
}

// The topologies to run, validated before any work.
std::vector<std::string> validate(const FabricArgs& a) {
  if (a.crossbar != 0 && a.crossbar != 256 && a.crossbar != 512) {
    throw UserError("--crossbar: unsupported size " + std::to_string(a.crossbar) + "; valid values: " +
                    join(crossbars()));
  }
  if (a.images < 0) throw UserError("--images must be >= 0 (0: no timing simulation), got " + std::to_string(a.images));
  if (!(a.budget_s >= 0)) throw UserError("--budget must be >= 0 seconds, got " + fmt::format("{}", a.budget_s));
  const auto& names = cm::Topology::names();
  if (a.topology == "all") return names;
  if (a.topology == "5pp" || std::find(names.begin(), names.end(), a.topology) != names.end()) return {a.topology};
  const std::string c = closest_match(a.topology, names);
  throw UserError("--topology: unknown topology '" + a.topology + "'" + (c.empty() ? "" : " (did you mean '" + c + "'?)") +
                  "; valid values: " + join(names) + ", 5pp, all");
}

void run_fabric_cmd(const FabricArgs& a) {
  cm::FabricReportOptions o;
  o.topologies = validate(a);
  o.budget_s = a.budget_s;
  o.images = a.images;
  o.title = a.model;
  cm::Hardware hw = a.hw.load();
  if (a.crossbar != 0) hw.crossbar_rows = hw.crossbar_cols = a.crossbar;
  cm::CompileOptions co;
  co.dependency_analysis = a.images > 0;  // placement alone needs no isl model
  const cm::Compiled c = cm::compile(cm::ModelSource(a.model), hw, co);
  for (const auto& n : c.notes) spdlog::info("import: {}", n);
  const std::string stem = fs::path(a.model).stem().string();
  const std::string dir = create_fresh_dir(a.out.empty() ? "runs/fabric-" + stem : a.out);
  const cm::FabricReport r = cm::write_fabric_report(c, o, dir);
  std::printf("%s", r.table.c_str());
}

}  // namespace

void add_fabric(CLI::App& app, const Global& /*global*/) {
  auto args = std::make_shared<FabricArgs>();
  auto* cmd = app.add_subcommand(
      "fabric",
      "Place a model's crossbar cores on communication-fabric topologies (ring, mesh, torus, "
      "hypercube, full, the 5PP reconstructions, ...), route the flows, compare channel loads "
      "and simulate the pipeline on each fabric against the ideal one; writes report.md, per-link "
      "load tables and Graphviz pictures (docs/fabric.md).\n\n"
      "Examples:\n"
      "  neurocore fabric resnet32 --hw configs/hw/default.yaml --topology all\n"
      "  neurocore fabric resnet50 --hw configs/hw/default.yaml --topology 5pp-band --crossbar 512\n"
      "  neurocore fabric tests/cm/data/resnet20-cifar.onnx --hw configs/hw/default.yaml --out runs/f20");
  cmd->add_option("MODEL", args->model,
                  "a zoo model (" + join(cm::zoo_names()) + "), an ONNX or TorchScript file (with "
                  "--input-shape) or a run directory")
      ->required();
  args->hw.add_to(cmd);
  cmd->add_option("--topology", args->topology, "a topology name (" + join(cm::Topology::names()) + ", 5pp) or all");
  cmd->add_option("--crossbar", args->crossbar, "crossbar size, 256 or 512 (default: the hardware spec's)");
  cmd->add_option("--budget", args->budget_s, "seconds for the monomorphism (VF2) search per topology");
  cmd->add_option("--images", args->images,
                  "images for the timing simulation on the ideal fabric and on each placement (default 4; "
                  "0: no simulation)");
  cmd->add_option("--out", args->out,
                  "output directory (default runs/fabric-<model>; an existing one is kept and -2, -3, "
                  "... appended)");
  cmd->callback([args] { run_fabric_cmd(*args); });
}

}  // namespace nc::cli
