// The compile report (see the header).
#include "neurocore/cm/torch/compile_report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "neurocore/cm/control.h"
#include "neurocore/cm/graphviz.h"
#include "neurocore/cm/mapping_picture.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/plot.h"
#include "neurocore/core/seed.h"
#include "neurocore/core/strings.h"
#include "neurocore/data/encoder.h"
#include "neurocore/data/registry.h"

namespace nc::cm {

namespace fs = std::filesystem;

const std::vector<std::string>& emit_kinds() {
  static const std::vector<std::string> kinds{"control", "dot", "json"};
  return kinds;
}

const std::vector<std::string>& eval_data_names() {
  static const std::vector<std::string> names{"fashion-mnist", "mnist-10k"};
  return names;
}

void check_eval_data(const std::string& name) {
  const auto& names = eval_data_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string hint = closest_match(name, names);
    for (const auto& n : names) {  // "fashion" -> "fashion-mnist": too far for edit distance
      if (hint.empty() && n.rfind(name, 0) == 0) hint = n;
    }
    throw UserError("--eval: unknown data set '" + name + "'; known: " + join(names) +
                    (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
}

Shape eval_data_shape(const std::string& name) {
  check_eval_data(name);
  data::DataOptions d;
  d.name = name;
  return data::load_dataset(d, "test").images.sizes().slice(1).vec();
}

DataEval evaluate_on_data(const Compiled& c, const DataEvalOptions& options) {
  check_eval_data(options.data);
  const Graph& g = c.graph();
  data::DataOptions d;
  d.name = options.data;
  spdlog::info("loading {} for --eval", options.data);
  const data::Dataset test = data::load_dataset(d, "test");
  const auto graph_inputs = g.inputs();
  const Shape data_shape = test.images.sizes().slice(1).vec();
  if (graph_inputs.size() != 1 || g.value(graph_inputs[0]).shape != data_shape) {
    throw UserError(fmt::format("--eval {}: its images are {}, the model's input is {}", options.data,
                                shape_str(data_shape),
                                graph_inputs.size() == 1 ? shape_str(g.value(graph_inputs[0]).shape)
                                                         : std::to_string(graph_inputs.size()) + " inputs"));
  }
  DataEval out;
  out.options = options;
  out.norm_from_run = c.input.from_run;
  if (c.input.from_run) {
    out.norm_mean = c.input.mean;
    out.norm_std = c.input.std;
  } else {
    const data::Normalization n = data::normalization(data::load_dataset(d, "train"));
    out.norm_mean = n.mean;
    out.norm_std = n.std;
  }
  AccuracyOptions ao;
  ao.sim_images = options.sim_images;
  ao.analog = options.analog;
  spdlog::info("--eval {}: float model on {} test images (LibTorch), functional simulation on {}", options.data,
               test.size(), std::min(options.sim_images, test.size()));
  torch::Tensor inputs;
  if (g.temporal()) {  // a spiking model's images become spike trains [T, N, ...] by the run's encoder
    data::EncoderOptions e;
    e.coding = c.input.coding.empty() ? e.coding : c.input.coding;
    e.steps = c.input.steps > 0 ? c.input.steps : g.time_steps();
    e.gain = c.input.from_run ? c.input.gain : e.gain;
    inputs = data::encode(test.images, e, make_generator(options.analog.seed, "eval-encode"));
  } else {
    inputs = (test.images - out.norm_mean) / out.norm_std;
  }
  out.accuracy = evaluate_accuracy(c, inputs, test.labels, ao);
  spdlog::info("accuracy: float model {:.2f}%, functional simulation {:.2f}% on {} images (float on the same: {:.2f}%)",
               out.accuracy.compiled_accuracy, out.accuracy.accelerator_accuracy, out.accuracy.sim_images,
               out.accuracy.float_accuracy_same_images);
  return out;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Pipeline occupancy over time from the simulator's per-iteration trace: in each of `bins` time
// bins, the mean number of crossbar cores busy (an MVM iteration of a layer occupies all its
// cores) and of digital nodes busy.
std::vector<Series> occupancy(const Graph& g, const Mapping& m, const TimingReport& t, double us_per_cycle,
                              int bins = 200) {
  std::vector<Series> out(2);
  out[0].name = "crossbar cores busy";
  out[1].name = "digital nodes busy";
  if (t.nodes.empty() || t.total_cycles <= 0) return {};
  const int64_t width = std::max<int64_t>(1, (t.total_cycles + bins - 1) / bins);
  std::vector<double> busy[2] = {std::vector<double>(static_cast<std::size_t>(bins), 0.0),
                                 std::vector<double>(static_cast<std::size_t>(bins), 0.0)};
  std::vector<int64_t> cores(g.nodes().size(), 0);
  for (const auto& l : m.layers) cores[static_cast<std::size_t>(l.node)] = l.cores;
  for (std::size_t n = 0; n < t.nodes.size() && n < g.nodes().size(); ++n) {
    const Node& node = g.nodes()[n];
    if (node.kind == OpKind::kInput) continue;
    const int k = node.has_matrix() ? 0 : 1;
    const double weight = node.has_matrix() ? static_cast<double>(cores[n]) : 1.0;
    const auto& tr = t.nodes[n];
    for (std::size_t i = 0; i < tr.start.size(); ++i) {
      for (int64_t a = tr.start[i]; a < tr.finish[i];) {
        const int64_t b = std::min(tr.finish[i], (a / width + 1) * width);
        const auto bin = static_cast<std::size_t>(std::min<int64_t>(a / width, bins - 1));
        busy[k][bin] += weight * static_cast<double>(b - a);
        a = b;
      }
    }
  }
  for (int b = 0; b < bins; ++b) {
    for (int k = 0; k < 2; ++k) {
      out[static_cast<std::size_t>(k)].x.push_back((b + 0.5) * static_cast<double>(width) * us_per_cycle);
      out[static_cast<std::size_t>(k)].y.push_back(busy[k][static_cast<std::size_t>(b)] / static_cast<double>(width));
    }
  }
  return out;
}

// Iterations of one image over all nodes: the occupancy trace keeps 16 bytes for each.
int64_t iterations_per_image(const Graph& g) {
  int64_t iterations = 0;
  for (const auto& n : g.nodes()) {
    const auto& sh = g.value(n.output).shape;
    iterations += sh.size() == 3 ? sh[1] * sh[2] : 1;
  }
  return iterations;
}

std::string core_name(int64_t core) { return core < 0 ? std::string("GCU") : std::to_string(core); }

std::string accuracy_section(const Compiled& c, const DataEval& e) {
  const AccuracyReport& acc = e.accuracy;
  std::string md = fmt::format("## Accuracy on {} (test split)\n\n", e.options.data);
  md += "| model | images | accuracy |\n|---|---|---|\n";
  md += fmt::format("| float model (compiled graph, LibTorch) | {} | {:.2f}% |\n", acc.images, acc.compiled_accuracy);
  md += fmt::format("| float model, the simulated images only | {} | {:.2f}% |\n", acc.sim_images,
                    acc.float_accuracy_same_images);
  md += fmt::format("| **functional simulation** (accelerator) | {} | **{:.2f}%** |\n\n", acc.sim_images,
                    acc.accelerator_accuracy);
  md += fmt::format("- non-idealities: {}{}\n", acc.non_idealities, e.options.ideal ? " (--ideal)" : "");
  md += fmt::format("- predictions equal to the float model's: {:.2f}% of the simulated images\n", acc.agreement);
  if (c.graph().temporal()) {
    md += fmt::format("- input: {} coding over {} time steps (the run's encoder, seed {})\n",
                      c.input.coding.empty() ? "rate" : c.input.coding, c.graph().time_steps(), e.options.analog.seed);
  } else {
    md += fmt::format("- input normalisation: (pixel - {:.4f}) / {:.4f}, {}\n", e.norm_mean, e.norm_std,
                      e.norm_from_run ? "the run's own" : "from the training split");
  }
  md += fmt::format("- functional simulation: {} MVMs in {:.1f} s\n\n", acc.mvms, acc.sim_seconds);
  return md;
}

std::string timing_section(const TimingReport& timing, const Hardware& hw, int64_t peak, int64_t peak_core) {
  const double ns_per_cycle = 1.0 / hw.clock_ghz;
  std::string md = "## Timing\n\n| metric | value |\n|---|---|\n";
  md += fmt::format("| latency of the first image | {} cycles ({} us) |\n", timing.first_latency_cycles,
                    format_num(timing.first_latency_cycles * ns_per_cycle / 1e3));
  md += fmt::format("| throughput | {} images/s (period {} cycles/image) |\n",
                    format_num(timing.throughput_images_per_s), format_num(timing.period_cycles, "{:.0f}"));
  md += fmt::format("| total for {} images | {} cycles |\n", timing.images, timing.total_cycles);
  md += fmt::format("| peak buffer | {} bytes (core {}), {} of {} bytes per core |\n", peak, core_name(peak_core),
                    format_num(100.0 * static_cast<double>(peak) / static_cast<double>(hw.buffer_bytes), "{:.1f}%"),
                    hw.buffer_bytes);
  const auto& e = timing.energy;
  md += fmt::format("| energy per image | {} nJ: MVM {}, ADC {}, digital {}, communication {} |\n\n",
                    format_num(e.total_pj() / 1e3), format_num(e.mvm_pj / 1e3), format_num(e.adc_pj / 1e3),
                    format_num(e.digital_pj / 1e3), format_num(e.comm_pj / 1e3));
  return md;
}

}  // namespace

std::string CompileReport::overflow_message(const Hardware& hw) const {
  if (overflows.empty()) return "";
  return fmt::format("{}, buffer.bytes_per_core is {}; the model fits with buffer.bytes_per_core >= {} "
                     "(e.g. --hw-set buffer.bytes_per_core={})",
                     join(overflows, "; "), hw.buffer_bytes, peak_buffer_bytes, peak_buffer_bytes);
}

CompileReport write_compile_report(const Compiled& c, const CompileReportOptions& o, const std::string& dir) {
  for (const auto& k : o.emit) {
    if (std::find(emit_kinds().begin(), emit_kinds().end(), k) == emit_kinds().end()) {
      throw UserError("--emit: unknown kind '" + k + "'; valid kinds: " + join(emit_kinds()));
    }
  }
  const Graph& g = c.graph();
  const Mapping& mapping = c.mapping();
  const Hardware& hw = c.hardware();
  const auto file = [&](const std::string& name) { return (fs::path(dir) / name).string(); };
  const auto want = [&](const char* k) { return std::find(o.emit.begin(), o.emit.end(), k) != o.emit.end(); };

  // Control programs: generated only when emitted (the timing simulator runs on tables).
  const auto t_gen0 = std::chrono::steady_clock::now();
  std::vector<CoreProgram> programs;
  if (want("control")) programs = generate_control(c);
  const double t_control = seconds_since(t_gen0);

  const auto t3 = std::chrono::steady_clock::now();
  TimingOptions topt;
  topt.images = o.images;
  topt.check_buffers = false;  // report the peaks first; the caller decides about an overflow
  const int64_t iterations = iterations_per_image(g);
  topt.trace = iterations * o.images <= 4'000'000;  // the occupancy plot's trace: below ~64 MB
  CompileReport out;
  out.timing = simulate_timing(c, topt);
  const TimingReport& timing = out.timing;
  const double t_sim = seconds_since(t3);

  std::vector<std::string> written;
  for (const auto& k : o.emit) {
    if (k == "dot") write_file_atomic(file("graph.dot"), g.to_dot()), written.push_back("graph.dot");
    if (k == "json") write_file_atomic(file("graph.json"), g.to_json()), written.push_back("graph.json");
    if (k == "control") {
      fs::create_directories(file("control"));
      for (const auto& p : programs) {
        write_file_atomic(file("control/" + control_file_name(p)), p.code);
        written.push_back("control/" + control_file_name(p));
      }
    }
  }
  write_file_atomic(file("hw.yaml"), hw.to_yaml());
  written.push_back("hw.yaml");
  write_file_atomic(file("mapping.dot"), mapping_dot(mapping));
  written.push_back("mapping.dot");
  const bool mapping_svg = render_svg(file("mapping.dot"), file("mapping.svg"));
  if (mapping_svg) written.push_back("mapping.svg");

  int64_t& peak = out.peak_buffer_bytes;
  int64_t peak_core = -1;
  for (const auto& core : timing.cores) {
    if (core.max_buffer_bytes > peak) peak = core.max_buffer_bytes, peak_core = core.core;
    if (core.max_buffer_bytes > hw.buffer_bytes) {
      out.overflows.push_back(fmt::format("core {} ({}) needs a buffer of {} bytes", core_name(core.core), core.nodes,
                                          core.max_buffer_bytes));
    }
  }

  const std::string stem = fs::path(c.source.empty() ? std::string("model") : c.source).stem().string();
  bool plotted = false;
  {
    Series s;
    s.name = "utilisation";
    for (const auto& core : timing.cores) {
      if (core.core < 0) continue;
      s.x.push_back(static_cast<double>(core.core));
      s.y.push_back(100.0 * core.utilisation);
    }
    if (!s.x.empty()) {
      PlotSpec spec;
      spec.title = fmt::format("{}: per-core utilisation, {} images", stem, o.images);
      spec.xlabel = "core";
      spec.ylabel = "utilisation (%)";
      spec.series.push_back(std::move(s));
      plotted = plot_lines(file("utilisation"), spec);
      if (plotted) written.insert(written.end(), {"utilisation.svg", "utilisation.png"});
    }
  }
  const double ns_per_cycle = 1.0 / hw.clock_ghz;
  bool occupancy_plotted = false;
  {
    std::vector<Series> series = occupancy(g, mapping, timing, ns_per_cycle / 1e3);
    if (!series.empty()) {
      PlotSpec spec;
      spec.title = fmt::format("{}: pipeline occupancy, {} images", stem, o.images);
      spec.xlabel = "time (us)";
      spec.ylabel = "busy (mean per time bin)";
      spec.series = std::move(series);
      occupancy_plotted = plot_lines(file("occupancy"), spec);
      if (occupancy_plotted) written.insert(written.end(), {"occupancy.svg", "occupancy.png"});
    }
  }

  std::string md = fmt::format("# neurocore compile: {}\n\n", stem);
  md += fmt::format("- model: `{}`{}, {} nodes, {} BatchNorm(s) folded after import\n", c.source,
                    c.opset > 0 ? fmt::format(" (ONNX opset {})", c.opset) : "", g.nodes().size(),
                    c.folded_batch_norms);
  for (const auto& n : c.notes) md += "- import note: " + n + "\n";
  md += fmt::format("- hardware: `{}` ({}): {}x{} crossbars, {} cores, clock {} GHz, buffer {} bytes per core, fabric {}\n",
                    o.hw_path, hw.name, hw.crossbar_rows, hw.crossbar_cols,
                    hw.cores == 0 ? std::string("unlimited") : std::to_string(hw.cores), format_num(hw.clock_ghz),
                    hw.buffer_bytes, hw.topology);
  md += fmt::format("- images streamed: {}\n", o.images);
  md += fmt::format("- compile time: import {} s, mapping {} s, dependency analysis {} s ({} edges), control programs "
                    "{} s{}, timing simulation {} s\n\n",
                    format_num(c.times.import_s, "{:.3f}"), format_num(c.times.map_s, "{:.3f}"),
                    format_num(c.poly_seconds(), "{:.3f}"), c.poly().edges().size(), format_num(t_control, "{:.3f}"),
                    want("control") ? fmt::format(" ({} cores)", programs.size()) : " (not emitted)",
                    format_num(t_sim, "{:.3f}"));
  md += "## Mapping\n\n" + mapping.report_markdown() + "\n";
  if (mapping_svg) {
    md += "![the mapping: each layer's crossbar tiles (row blocks x column blocks) on their cores, "
          "shaded by utilisation](mapping.svg)\n\n";
  } else {
    md += "Picture: Graphviz source [mapping.dot](mapping.dot) (render with `dot -Tsvg`).\n\n";
  }
  if (o.eval) md += accuracy_section(c, *o.eval);
  md += timing_section(timing, hw, peak, peak_core);
  if (!out.overflows.empty()) {
    md += "**Buffer overflow** (buffer.bytes_per_core = " + std::to_string(hw.buffer_bytes) +
          "): " + join(out.overflows, "; ") + ".\n\n";
  }
  if (occupancy_plotted) {
    md += "![pipeline occupancy over time: crossbar cores and digital nodes busy](occupancy.svg)\n\n";
  } else if (!topt.trace) {
    md += fmt::format("(No occupancy plot: {} images x {} iterations is too long a trace; use fewer --images.)\n\n",
                      o.images, iterations);
  }
  if (plotted) md += "![per-core utilisation](utilisation.svg)\n\n";
  md += "### Per core\n\n" + timing.per_core_markdown();
  md += "\n## Files\n\n";
  for (const auto& w : written) md += "- `" + w + "`\n";

  nlohmann::json j;
  j["model"] = c.source;
  j["model_kind"] = source_kind_name(c.kind);
  j["opset"] = c.opset;
  j["import_notes"] = c.notes;
  j["hardware"] = {{"path", o.hw_path}, {"name", hw.name}, {"buffer_bytes_per_core", hw.buffer_bytes}};
  j["images"] = o.images;
  j["nodes"] = g.nodes().size();
  j["cores"] = mapping.total_cores;
  j["mapping"] = nlohmann::json::parse(mapping.to_json());
  j["timing"] = nlohmann::json::parse(timing.to_json());
  j["buffer_overflows"] = out.overflows;
  j["compile_seconds"] = {{"import", c.times.import_s}, {"mapping", c.times.map_s},
                          {"dependency_analysis", c.poly_seconds()}, {"control_programs", t_control},
                          {"timing_simulation", t_sim}};
  j["files"] = written;
  if (o.eval) {
    j["eval"] = o.eval->accuracy.to_json();
    j["eval"]["data"] = o.eval->options.data;
    j["eval"]["normalisation"] = {{"mean", o.eval->norm_mean}, {"std", o.eval->norm_std}};
  }
  write_file_atomic(file("report.json"), j.dump(2) + "\n");
  out.markdown_path = file("report.md");
  write_file_atomic(out.markdown_path, md);
  return out;
}

}  // namespace nc::cm
