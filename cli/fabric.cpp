// neurocore fabric: place a model's cores on communication-fabric topologies and compare the
// channel loads (docs/fabric.md, "neurocore fabric"). No LibTorch on this path: the model is a
// zoo network or an ONNX file, mapped by the cm core.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "neurocore/cm/fabric_report.h"
#include "neurocore/cm/hardware.h"
#include "neurocore/cm/mapping.h"
#include "neurocore/cm/model_zoo.h"
#include "neurocore/cm/onnx_import.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/strings.h"

namespace nc::cli {

namespace {

namespace fs = std::filesystem;

struct FabricArgs {
  std::string model, hw, topology = "all", out;
  int64_t crossbar = 0;  // 0: the hardware spec's crossbar
  double budget_s = 5.0;
};

const std::vector<std::string>& crossbars() {
  static const std::vector<std::string> v{"256", "512"};
  return v;
}

// The topologies to run, validated before any work.
std::vector<std::string> validate(const FabricArgs& a) {
  if (!fs::is_regular_file(a.hw)) {
    throw UserError(a.hw + ": no such hardware spec file (--hw; examples in configs/hw/)");
  }
  if (a.crossbar != 0 && a.crossbar != 256 && a.crossbar != 512) {
    throw UserError("--crossbar: unsupported size " + std::to_string(a.crossbar) + "; valid values: " +
                    join(crossbars()));
  }
  if (!(a.budget_s >= 0)) throw UserError("--budget must be >= 0 seconds, got " + fmt::format("{}", a.budget_s));
  const auto& names = cm::Topology::names();
  if (a.topology == "all") return names;
  if (a.topology == "5pp" || std::find(names.begin(), names.end(), a.topology) != names.end()) return {a.topology};
  const std::string c = closest_match(a.topology, names);
  throw UserError("--topology: unknown topology '" + a.topology + "'" + (c.empty() ? "" : " (did you mean '" + c + "'?)") +
                  "; valid values: " + join(names) + ", 5pp, all");
}

// A zoo name, else an ONNX file.
cm::Graph load_model(const std::string& model) {
  const auto& zoo = cm::zoo_names();
  if (std::find(zoo.begin(), zoo.end(), model) != zoo.end()) return cm::zoo_model(model);
  if (!fs::is_regular_file(model)) {
    const std::string c = closest_match(model, zoo);
    throw UserError("MODEL: unknown model '" + model + "'" + (c.empty() ? "" : " (did you mean '" + c + "'?)") +
                    ": neither an ONNX file nor a zoo model; valid zoo models: " + join(zoo));
  }
  cm::OnnxImport imported = cm::import_onnx(model);
  for (const auto& n : imported.notes) spdlog::info("import: {}", n);
  return std::move(imported.graph);
}

bool have_graphviz() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  for (std::size_t b = 0; b <= dirs.size();) {
    const std::size_t e = std::min(dirs.find(':', b), dirs.size());
    if (e > b && fs::exists(fs::path(dirs.substr(b, e - b)) / "dot")) return true;
    b = e + 1;
  }
  return false;
}

std::string file_stem(std::string name) {
  std::replace(name.begin(), name.end(), ' ', '-');
  return name;
}

void run_fabric_cmd(const FabricArgs& a) {
  const std::vector<std::string> topologies = validate(a);
  cm::Hardware hw = cm::Hardware::load(a.hw);
  if (a.crossbar != 0) hw.crossbar_rows = hw.crossbar_cols = a.crossbar;
  cm::Graph g = load_model(a.model);
  g.fold_batch_norms();
  const cm::Mapping m = cm::map_graph(g, hw);
  const cm::CoreGraph cg = cm::build_core_graph(g, m, hw);
  const double throughput = cm::pipeline_throughput(m, hw);
  spdlog::info("{}: {} cores, {} flows at {}x{} crossbars", a.model, cg.cores, cg.flows.size(),
               hw.crossbar_rows, hw.crossbar_cols);

  const std::string stem = fs::path(a.model).stem().string();
  const std::string dir = create_fresh_dir(a.out.empty() ? "runs/fabric-" + stem : a.out);
  auto file = [&](const std::string& name) { return (fs::path(dir) / name).string(); };
  const bool render = have_graphviz();
  if (!render) spdlog::warn("graphviz `dot` not found: writing .dot files only (scripts/install-deps.sh installs it)");

  cm::PlacementOptions po;
  po.time_budget_s = a.budget_s;
  std::string table = cm::fabric_table_header(), bandwidth, pictures;
  for (const std::string& name : topologies) {
    spdlog::info("placing on {}", name);
    const cm::FabricRun r = cm::run_fabric(name, cg, po);
    table += cm::fabric_table_row(r, cg);
    const double gbps = r.load.max_bits_per_s(throughput) * 1e-9;
    // A channel moves at most link_bandwidth_gbps: the busiest one caps the image rate.
    const double capped = r.load.max_bits > 0
        ? std::min(throughput, hw.link_bandwidth_gbps * 1e9 / static_cast<double>(r.load.max_bits)) : throughput;
    bandwidth += fmt::format("| {} | {:.4g} | {} | {:.4g} | {:.3f} |\n", r.topology.name, gbps,
                             gbps <= hw.link_bandwidth_gbps ? "yes" : "no", capped, capped / throughput);
    const std::string base = "placement-" + file_stem(name);
    write_file_atomic(file(base + ".dot"), cm::placement_dot(r, cg));
    write_file_atomic(file("links-" + file_stem(name) + ".md"),
                      "# Per-link load: " + a.model + " on " + r.topology.name + "\n\n" + cm::link_load_table(r, cg));
    std::string picture = "Graphviz source: [" + base + ".dot](" + base + ".dot) (render with `dot -Tsvg`)";
    if (render) {
      const std::string cmd = "dot -Tsvg '" + file(base + ".dot") + "' -o '" + file(base + ".svg") + "' 2>/dev/null";
      if (std::system(cmd.c_str()) == 0) {
        picture = "![" + r.topology.name + "](" + base + ".svg)";
      } else {
        spdlog::warn("dot could not render {}", base + ".dot");
      }
    }
    pictures += fmt::format("### {}\n\n{}\n\nPer-link loads: [links-{}.md](links-{}.md)\n\n", r.topology.name,
                            picture, file_stem(name), file_stem(name));
  }

  std::string md = fmt::format(
      "# neurocore fabric: {}\n\n"
      "Hardware: {} ({}x{} crossbars, {}-bit activations, {}-bit partial sums). Cores: {}; "
      "core-to-core flows: {}; bits per image over all flows: {}. Pipeline throughput "
      "(1 / (mvm_ns x max MVMs per image), no replication): {:.4g} images/s.\n\n"
      "5pp-band and 5pp-prism are neurocore's reconstructions of 5PP (docs/fabric.md), not the "
      "paper's exact topology. Loads are bits per image on one directed channel; \"monomorphism "
      "search\" is VF2's outcome (budget {} s): found, none (impossible) or unknown (budget spent).\n\n"
      "## Topologies\n\n{}\n"
      "## Busiest channel at the pipeline's throughput\n\n"
      "| topology | max channel bandwidth (Gbit/s) | within the link's {} Gbit/s | images/s with the busiest "
      "channel at link bandwidth | fraction of the pipeline's rate |\n|---|---|---|---|---|\n{}\n"
      "(An analytic bound: flows sharing a channel split its bandwidth; the timing simulator does "
      "not model link contention yet.)\n\n"
      "## Placements\n\nNodes: core id and layer (grey: unused). Links: grey idle, yellow to red by load.\n\n{}",
      a.model, hw.name, hw.crossbar_rows, hw.crossbar_cols, hw.activation_bits, hw.psum_bits, cg.cores,
      cg.flows.size(), cg.total_bits(), throughput, a.budget_s, table, hw.link_bandwidth_gbps, bandwidth, pictures);
  write_file_atomic(file("report.md"), md);
  spdlog::info("wrote {}", file("report.md"));
  std::printf("%s", table.c_str());
}

}  // namespace

void add_fabric(CLI::App& app, const Global& /*global*/) {
  auto args = std::make_shared<FabricArgs>();
  auto* cmd = app.add_subcommand(
      "fabric",
      "Place a model's crossbar cores on communication-fabric topologies (ring, mesh, torus, "
      "hypercube, full, the 5PP reconstructions, ...), route the flows and compare channel "
      "loads; writes report.md, per-link load tables and Graphviz pictures (docs/fabric.md).\n\n"
      "Examples:\n"
      "  neurocore fabric resnet32 --hw configs/hw/default.yaml --topology all\n"
      "  neurocore fabric resnet50 --hw configs/hw/default.yaml --topology 5pp-band --crossbar 512\n"
      "  neurocore fabric tests/cm/data/resnet20-cifar.onnx --hw configs/hw/default.yaml --out runs/f20");
  cmd->add_option("MODEL", args->model,
                  "a zoo model (" + join(cm::zoo_names()) + ") or an ONNX file")
      ->required();
  cmd->add_option("--hw", args->hw, "hardware spec (YAML), see configs/hw/ and docs/cm.md")->required();
  cmd->add_option("--topology", args->topology, "a topology name (" + join(cm::Topology::names()) + ", 5pp) or all");
  cmd->add_option("--crossbar", args->crossbar, "crossbar size, 256 or 512 (default: the hardware spec's)");
  cmd->add_option("--budget", args->budget_s, "seconds for the monomorphism (VF2) search per topology");
  cmd->add_option("--out", args->out,
                  "output directory (default runs/fabric-<model>; an existing one is kept and -2, -3, "
                  "... appended)");
  cmd->callback([args] { run_fabric_cmd(*args); });
}

}  // namespace nc::cli
