#include "neurocore/cm/fabric_report.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "neurocore/cm/graphviz.h"
#include "neurocore/core/io.h"
#include "neurocore/core/strings.h"

namespace nc::cm {

namespace {


std::string core_label(const CoreGraph& cg, int core) {
  return "core " + std::to_string(core) + " (" + cg.core_layer.at(static_cast<std::size_t>(core)) + ")";
}

// Grey (idle) -> yellow -> red (busiest), as #rrggbb.
std::string load_colour(int64_t bits, int64_t max_bits) {
  if (bits <= 0 || max_bits <= 0) return "#cccccc";
  const double x = static_cast<double>(bits) / static_cast<double>(max_bits);
  const int g = static_cast<int>(std::lround(220.0 * (1.0 - x)));
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", 240, g, 0);
  return buf;
}

// Positions in inches for neato's pinned layout (pos="x,y!").
std::pair<double, double> position(const Topology& t, int v) {
  switch (t.kind) {
    case TopologyKind::kMesh:
    case TopologyKind::kMeshDiag:
    case TopologyKind::kTorus:
      return {1.6 * static_cast<double>(v % t.dim_x), 1.2 * static_cast<double>(t.dim_y - 1 - v / t.dim_x)};
    case TopologyKind::kPrism: {
      // Stage s is a column; its pentagon is drawn as a vertical line of 5.
      return {1.8 * static_cast<double>(v / 5), 1.0 * static_cast<double>(4 - v % 5)};
    }
    case TopologyKind::kBand: {
      // Pipeline order snakes through rows of 10 (boustrophedon) so that the band's links
      // stay short, also where a row turns.
      const int row = v / 10, col = row % 2 == 0 ? v % 10 : 9 - v % 10;
      return {1.6 * static_cast<double>(col), 1.4 * static_cast<double>((t.nodes - 1) / 10 - row)};
    }
    default: {
      const double a = 2.0 * M_PI * static_cast<double>(v) / static_cast<double>(std::max<int64_t>(t.nodes, 1));
      const double radius = std::max(2.0, 0.35 * static_cast<double>(t.nodes));
      return {radius * std::cos(a), radius * std::sin(a)};
    }
  }
}

}  // namespace

FabricRun run_fabric(const std::string& topology, const CoreGraph& cg, const PlacementOptions& options) {
  FabricRun r;
  r.topology = Topology::make(topology, cg.cores);
  r.placement = place(r.topology, cg, options);
  Router router(r.topology);
  r.load = route_flows(router, cg, r.placement.node_of);
  return r;
}

TimingReport simulate_on_fabric(const Graph& g, const Mapping& m, const PolyModel& poly, const Hardware& hw,
                                const FabricRun& r, TimingOptions options) {
  options.fabric = &r.topology;
  options.node_of = r.placement.node_of;
  options.check_buffers = false;
  return simulate_timing(g, m, poly, hw, options);
}

FabricSpeed fabric_speed(const TimingReport& ideal, const TimingReport& placed) {
  const double us = 1e-3 / placed.clock_ghz;
  return {placed.throughput_images_per_s, ideal.throughput_images_per_s,
          static_cast<double>(placed.first_latency_cycles) * us, static_cast<double>(ideal.first_latency_cycles) * us,
          placed.busiest_channel_utilisation};
}

std::string fabric_table_header(bool speed) {
  return std::string("| topology | nodes | links | links/node | max degree | cores | method | monomorphism search | "
                     "max load (bits/img) | mean load (bits/img) | max hops | mean hops | links used | place time (s) |") +
         (speed ? " throughput / ideal | latency / ideal |\n" : "\n") +
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + (speed ? "---|---|\n" : "\n");
}

std::string fabric_table_row(const FabricRun& r, const CoreGraph& cg, const FabricSpeed* speed) {
  const Topology& t = r.topology;
  std::ostringstream s;
  s << "| " << t.name << " | " << t.nodes << " | " << t.link_count() << " | "
    << format_num(static_cast<double>(t.link_count()) / static_cast<double>(std::max<int64_t>(t.nodes, 1)), "{:.2f}")
    << " | " << t.max_degree() << " | " << cg.cores << " | " << r.placement.method << " | "
    << mono_status_name(r.placement.mono) << " | " << r.load.max_bits << " | "
    << format_num(r.load.mean_bits, "{:.0f}") << " | " << r.load.max_hops << " | "
    << format_num(r.load.mean_hops, "{:.2f}") << " | " << r.load.links_used << " | "
    << format_num(r.placement.seconds, "{:.2f}") << " |";
  if (speed) {
    s << " " << format_num(speed->throughput / speed->ideal_throughput, "{:.4f}") << " | "
      << format_num(speed->latency_us / speed->ideal_latency_us, "{:.4f}") << " |";
  }
  s << "\n";
  return s.str();
}

std::string link_load_table(const FabricRun& r, const CoreGraph& cg) {
  const Topology& t = r.topology;
  std::vector<int> core_on(static_cast<std::size_t>(t.nodes), -1);
  for (std::size_t c = 0; c < r.placement.node_of.size(); ++c) core_on[static_cast<std::size_t>(r.placement.node_of[c])] = static_cast<int>(c);
  // Which flows cross each link: re-route (cached paths, cheap next to placement).
  Router router(t);
  std::vector<std::vector<int>> flows_on(t.links.size());
  for (std::size_t f = 0; f < cg.flows.size(); ++f) {
    const auto& fl = cg.flows[f];
    for (int ch : router.channels(r.placement.node_of[static_cast<std::size_t>(fl.src)],
                                  r.placement.node_of[static_cast<std::size_t>(fl.dst)])) {
      flows_on[static_cast<std::size_t>(ch / 2)].push_back(static_cast<int>(f));
    }
  }
  const auto& bits = r.load.channel_bits;
  std::vector<std::size_t> order;
  for (std::size_t l = 0; l < t.links.size(); ++l)
    if (bits[2 * l] > 0 || bits[2 * l + 1] > 0) order.push_back(l);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::max(bits[2 * a], bits[2 * a + 1]) > std::max(bits[2 * b], bits[2 * b + 1]);
  });
  auto who = [&](int node) {
    const int c = core_on[static_cast<std::size_t>(node)];
    return "node " + std::to_string(node) + (c < 0 ? std::string(" (free)") : ": " + core_label(cg, c));
  };
  std::ostringstream s;
  s << "| link | u | v | u -> v (bits/img) | v -> u (bits/img) | flows (src core -> dst core, kind) |\n"
    << "|---|---|---|---|---|---|\n";
  for (std::size_t l : order) {
    const auto [u, v] = t.links[l];
    s << "| " << l << " | " << who(u) << " | " << who(v) << " | " << bits[2 * l] << " | " << bits[2 * l + 1] << " | ";
    const auto& fs = flows_on[l];
    for (std::size_t k = 0; k < fs.size(); ++k) {
      const auto& fl = cg.flows[static_cast<std::size_t>(fs[k])];
      s << (k ? ", " : "") << fl.src << " -> " << fl.dst << " " << flow_name(fl.kind);
    }
    s << " |\n";
  }
  return s.str();
}

std::string placement_dot(const FabricRun& r, const CoreGraph& cg, int64_t max_idle_links) {
  const Topology& t = r.topology;
  std::vector<int> core_on(static_cast<std::size_t>(t.nodes), -1);
  for (std::size_t c = 0; c < r.placement.node_of.size(); ++c) core_on[static_cast<std::size_t>(r.placement.node_of[c])] = static_cast<int>(c);
  const auto& bits = r.load.channel_bits;
  const bool draw_idle = t.link_count() <= max_idle_links;
  std::ostringstream s;
  s << "graph fabric {\n  layout=neato; overlap=false; splines=line; outputorder=edgesfirst;\n"
    << "  label=\"" << t.name << ": " << cg.cores << " cores, " << r.placement.method
    << ", max load " << r.load.max_bits << " bits/image" << (draw_idle ? "" : " (idle links not drawn)")
    << "\"; labelloc=t;\n"
    << "  node [shape=box, style=filled, fontsize=9, width=0.5, height=0.3];\n";
  for (int v = 0; v < t.nodes; ++v) {
    const auto [x, y] = position(t, v);
    const int c = core_on[static_cast<std::size_t>(v)];
    s << "  n" << v << " [pos=\"" << format_num(x, "{:.2f}") << "," << format_num(y, "{:.2f}") << "!\", ";
    if (c < 0) {
      s << "label=\"" << v << "\", fillcolor=\"#eeeeee\", fontcolor=\"#999999\"];\n";
    } else {
      s << "label=\"" << c << "\\n" << cg.core_layer.at(static_cast<std::size_t>(c)) << "\", fillcolor=\"#dde8ff\"];\n";
    }
  }
  for (std::size_t l = 0; l < t.links.size(); ++l) {
    const int64_t b = std::max(bits[2 * l], bits[2 * l + 1]);
    if (b == 0 && !draw_idle) continue;
    const double width = b == 0 ? 0.5 : 1.0 + 4.0 * static_cast<double>(b) / static_cast<double>(std::max<int64_t>(r.load.max_bits, 1));
    s << "  n" << t.links[l].first << " -- n" << t.links[l].second << " [color=\"" << load_colour(b, r.load.max_bits)
      << "\", penwidth=" << format_num(width, "{:.2f}");
    if (b > 0) s << ", tooltip=\"" << bits[2 * l] << " / " << bits[2 * l + 1] << " bits/image\"";
    s << "];\n";
  }
  s << "}\n";
  return s.str();
}

TimingReport simulate_on_fabric(const Compiled& c, const FabricRun& r, TimingOptions options) {
  return simulate_on_fabric(c.graph(), c.mapping(), c.poly(), c.hardware(), r, std::move(options));
}

namespace {

std::string file_stem(std::string name) {
  std::replace(name.begin(), name.end(), ' ', '-');
  return name;
}

// The timing simulation's comparison of every placed fabric with the ideal one.
std::string speed_section(int64_t images, const Hardware& hw, const TimingReport& ideal,
                          const std::string& rows) {
  if (images == 0) return "";
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
      images, hw.link_bandwidth_gbps, hw.link_latency_ns, ideal.throughput_images_per_s,
      static_cast<double>(ideal.first_latency_cycles) * us, rows);
}

}  // namespace

FabricReport write_fabric_report(const Compiled& c, const FabricReportOptions& o, const std::string& dir) {
  const Hardware& hw = c.hardware();
  const CoreGraph cg = build_core_graph(c);
  auto file = [&](const std::string& name) { return (std::filesystem::path(dir) / name).string(); };
  const auto& a = o;
  const std::vector<std::string>& topologies = o.topologies;
  // Bits per second need the pipeline's rate: the timing simulation's on the ideal fabric when
  // it runs, else the spec's analytic one.
  double throughput = pipeline_throughput(c.mapping(), hw);
  spdlog::info("{}: {} cores, {} flows at {}x{} crossbars", a.title, cg.cores, cg.flows.size(),
               hw.crossbar_rows, hw.crossbar_cols);
  // The timing simulation on the ideal fabric, the reference of every topology's speed.
  TimingReport ideal;
  TimingOptions to;
  to.images = a.images;
  to.check_buffers = false;
  if (a.images > 0) {
    spdlog::info("timing simulation of {} images on the ideal fabric", a.images);
    ideal = simulate_timing(c, to);
    throughput = ideal.throughput_images_per_s;
  }

  PlacementOptions po;
  po.time_budget_s = a.budget_s;
  std::string table = fabric_table_header(a.images > 0), bandwidth, speeds, pictures;
  for (const std::string& name : topologies) {
    spdlog::info("placing on {}", name);
    const FabricRun r = run_fabric(name, cg, po);
    if (a.images > 0) {
      const FabricSpeed sp = fabric_speed(ideal, simulate_on_fabric(c, r, to));
      table += fabric_table_row(r, cg, &sp);
      speeds += fmt::format("| {} | {:.6g} | {:.4f} | {:.6g} | {:.4f} | {:.1f} % |\n", r.topology.name, sp.throughput,
                            sp.throughput / sp.ideal_throughput, sp.latency_us, sp.latency_us / sp.ideal_latency_us,
                            100.0 * sp.busiest_channel);
    } else {
      table += fabric_table_row(r, cg);
    }
    const double gbps = r.load.max_bits_per_s(throughput) * 1e-9;
    // A channel moves at most link_bandwidth_gbps: the busiest one caps the image rate.
    const double capped = r.load.max_bits > 0
        ? std::min(throughput, hw.link_bandwidth_gbps * 1e9 / static_cast<double>(r.load.max_bits)) : throughput;
    bandwidth += fmt::format("| {} | {:.4g} | {} | {:.4g} | {:.3f} |\n", r.topology.name, gbps,
                             gbps <= hw.link_bandwidth_gbps ? "yes" : "no", capped, capped / throughput);
    const std::string base = "placement-" + file_stem(name);
    write_file_atomic(file(base + ".dot"), placement_dot(r, cg));
    write_file_atomic(file("links-" + file_stem(name) + ".md"),
                      "# Per-link load: " + a.title + " on " + r.topology.name + "\n\n" + link_load_table(r, cg));
    std::string picture = "Graphviz source: [" + base + ".dot](" + base + ".dot) (render with `dot -Tsvg`)";
    if (render_svg(file(base + ".dot"), file(base + ".svg"))) picture = "![" + r.topology.name + "](" + base + ".svg)";
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
      a.title, hw.name, hw.crossbar_rows, hw.crossbar_cols, hw.activation_bits, hw.psum_bits, cg.cores,
      cg.flows.size(), cg.total_bits(),
      a.images > 0 ? "timing simulation on the ideal fabric" : "1 / (mvm_ns x max MVMs per image), no replication",
      throughput, a.budget_s, table, hw.link_bandwidth_gbps, bandwidth,
      speed_section(a.images, hw, ideal, speeds), pictures);
  write_file_atomic(file("report.md"), md);
  spdlog::info("wrote {}", file("report.md"));
  return {table, file("report.md")};
}

}  // namespace nc::cm
