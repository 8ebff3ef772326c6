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
#include "neurocore/cm/graphviz.h"
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
  int64_t images = 4;  // simulated per fabric; 0: no timing simulation
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
  if (a.images < 0) throw UserError("--images must be >= 0 (0: no timing simulation), got " + std::to_string(a.images));
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

std::string file_stem(std::string name) {
  std::replace(name.begin(), name.end(), ' ', '-');
  return name;
}

// The timing simulation's comparison of every placed fabric with the ideal one.
std::string speed_section(const FabricArgs& a, const cm::Hardware& hw, const cm::TimingReport& ideal,
                          const std::string& rows) {
  if (a.images == 0) return "";
  const double us = 1e-3 / ideal.clock_ghz;
  return fmt::format(
      "## The pipeline on each fabric (timing simulation)\n\n"
      "{} images simulated on the ideal fabric (every transfer on a channel of its own) and on each "
      "placement: every transfer between cores follows its route and holds each channel on it for "
      "bits / {} Gbit/s, {} ns latency per hop; transfers sharing a channel serialize "
      "(docs/fabric.md, \"Contention in the timing simulator\"). Ideal fabric: {:.6g} images/s, "
      "first image {:.6g} us.\n\n"
      "| topology | throughput (images/s) | / ideal | first-image latency (us) | / ideal | busiest channel busy |\n"
      "|---|---|---|---|---|---|\n{}\n",
      a.images, hw.link_bandwidth_gbps, hw.link_latency_ns, ideal.throughput_images_per_s,
      static_cast<double>(ideal.first_latency_cycles) * us, rows);
}

void run_fabric_cmd(const FabricArgs& a) {
  const std::vector<std::string> topologies = validate(a);
  cm::Hardware hw = cm::Hardware::load(a.hw);
  if (a.crossbar != 0) hw.crossbar_rows = hw.crossbar_cols = a.crossbar;
  cm::Graph g = load_model(a.model);
  g.fold_batch_norms();
  const cm::Mapping m = cm::map_graph(g, hw);
  const cm::CoreGraph cg = cm::build_core_graph(g, m, hw);
  // Bits per second need the pipeline's rate: the timing simulation's on the ideal fabric when
  // it runs, else the spec's analytic one.
  double throughput = cm::pipeline_throughput(m, hw);
  spdlog::info("{}: {} cores, {} flows at {}x{} crossbars", a.model, cg.cores, cg.flows.size(),
               hw.crossbar_rows, hw.crossbar_cols);

  const std::string stem = fs::path(a.model).stem().string();
  const std::string dir = create_fresh_dir(a.out.empty() ? "runs/fabric-" + stem : a.out);
  auto file = [&](const std::string& name) { return (fs::path(dir) / name).string(); };
  // The timing simulation on the ideal fabric, the reference of every topology's speed.
  std::unique_ptr<cm::PolyModel> poly;
  cm::TimingReport ideal;
  cm::TimingOptions to;
  to.images = a.images;
  to.check_buffers = false;
  if (a.images > 0) {
    spdlog::info("timing simulation of {} images on the ideal fabric", a.images);
    poly = std::make_unique<cm::PolyModel>(g);
    ideal = cm::simulate_timing(g, m, *poly, hw, to);
    throughput = ideal.throughput_images_per_s;
  }

  cm::PlacementOptions po;
  po.time_budget_s = a.budget_s;
  std::string table = cm::fabric_table_header(a.images > 0), bandwidth, speeds, pictures;
  for (const std::string& name : topologies) {
    spdlog::info("placing on {}", name);
    const cm::FabricRun r = cm::run_fabric(name, cg, po);
    if (a.images > 0) {
      const cm::FabricSpeed sp = cm::fabric_speed(ideal, cm::simulate_on_fabric(g, m, *poly, hw, r, to));
      table += cm::fabric_table_row(r, cg, &sp);
      speeds += fmt::format("| {} | {:.6g} | {:.4f} | {:.6g} | {:.4f} | {:.1f} % |\n", r.topology.name, sp.throughput,
                            sp.throughput / sp.ideal_throughput, sp.latency_us, sp.latency_us / sp.ideal_latency_us,
                            100.0 * sp.busiest_channel);
    } else {
      table += cm::fabric_table_row(r, cg);
    }
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
    if (cm::render_svg(file(base + ".dot"), file(base + ".svg"))) picture = "![" + r.topology.name + "](" + base + ".svg)";
    pictures += fmt::format("### {}\n\n{}\n\nPer-link loads: [links-{}.md](links-{}.md)\n\n", r.topology.name,
                            picture, file_stem(name), file_stem(name));
  }

  std::string md = fmt::format(
      "# neurocore fabric: {}\n\n"
      "Hardware: {} ({}x{} crossbars, {}-bit activations, {}-bit partial sums). Cores: {}; "
      "core-to-core flows: {}; bits per image over all flows: {}. Pipeline throughput "
      "({}): {:.4g} images/s.\n\n"
      "5pp-band and 5pp-prism are neurocore's reconstructions of 5PP (docs/fabric.md), not the "
      "paper's exact topology. Loads are bits per image on one directed channel; \"monomorphism "
      "search\" is VF2's outcome (budget {} s): found, none (impossible) or unknown (budget spent).\n\n"
      "## Topologies\n\n{}\n"
      "## Busiest channel at the pipeline's throughput\n\n"
      "| topology | max channel bandwidth (Gbit/s) | within the link's {} Gbit/s | images/s with the busiest "
      "channel at link bandwidth | fraction of the pipeline's rate |\n|---|---|---|---|---|\n{}\n"
      "(An analytic bound: flows sharing a channel split its bandwidth. The timing simulation below "
      "schedules every transfer on its route instead.)\n\n{}"
      "## Placements\n\nNodes: core id and layer (grey: unused). Links: grey idle, yellow to red by load.\n\n{}",
      a.model, hw.name, hw.crossbar_rows, hw.crossbar_cols, hw.activation_bits, hw.psum_bits, cg.cores,
      cg.flows.size(), cg.total_bits(),
      a.images > 0 ? "timing simulation on the ideal fabric" : "1 / (mvm_ns x max MVMs per image), no replication",
      throughput, a.budget_s, table, hw.link_bandwidth_gbps, bandwidth,
      speed_section(a, hw, ideal, speeds), pictures);
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
      "hypercube, full, the 5PP reconstructions, ...), route the flows, compare channel loads "
      "and simulate the pipeline on each fabric against the ideal one; writes report.md, per-link "
      "load tables and Graphviz pictures (docs/fabric.md).\n\n"
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
  cmd->add_option("--images", args->images,
                  "images for the timing simulation on the ideal fabric and on each placement (default 4; "
                  "0: no simulation)");
  cmd->add_option("--out", args->out,
                  "output directory (default runs/fabric-<model>; an existing one is kept and -2, -3, "
                  "... appended)");
  cmd->callback([args] { run_fabric_cmd(*args); });
}

}  // namespace nc::cli
