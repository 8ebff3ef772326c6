// neurocore compile: compile a model for a computational-memory accelerator (docs/cm.md,
// "neurocore compile"): import (run directory, TorchScript or ONNX), fold BatchNorms, map onto
// crossbars, run the isl dependency analysis and the timing simulator, optionally measure the
// test accuracy of the functional simulation (--eval), and write a report.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "commands.h"
#include "neurocore/cm/accuracy.h"
#include "neurocore/cm/control.h"
#include "neurocore/cm/graph.h"
#include "neurocore/cm/hardware.h"
#include "neurocore/cm/mapping.h"
#include "neurocore/cm/mapping_picture.h"
#include "neurocore/cm/onnx_import.h"
#include "neurocore/cm/poly.h"
#include "neurocore/cm/timing.h"
#include "neurocore/cm/torch_import.h"
#include "neurocore/cm/torchscript_import.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/plot.h"
#include "neurocore/core/strings.h"
#include "neurocore/core/threads.h"
#include "neurocore/core/seed.h"
#include "neurocore/data/encoder.h"
#include "neurocore/data/registry.h"

namespace nc::cli {

namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& emit_kinds() {
  static const std::vector<std::string> kinds{"control", "dot", "json"};
  return kinds;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

struct CompileArgs {
  std::string model, hw, out;
  int64_t images = 10;
  std::vector<std::string> emit;
  std::string input_shape;  // "C,H,W" or "F": needed for TorchScript (it records no shape)
  // --eval: accuracy of the functional simulation with the non-idealities below.
  std::string eval;
  int64_t eval_images = 200;
  bool ideal = false;  // no DAC/ADC quantization and no noise
  double programming_noise = 0.02, read_noise = 0.01;  // the pipeline's defaults
  int64_t seed = 1;
};

// "1,28,28" -> {1, 28, 28}; every entry a positive integer.
cm::Shape parse_shape(const std::string& text) {
  cm::Shape s;
  std::string item;
  auto fail = [&] {
    return UserError("--input-shape: expected C,H,W or F (positive integers, e.g. 1,28,28), got '" +
                     text + "'");
  };
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != ',') {
      item += text[i];
      continue;
    }
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos) throw fail();
    s.push_back(std::stoll(item));
    if (s.back() <= 0) throw fail();
    item.clear();
  }
  if (s.size() != 1 && s.size() != 3) throw fail();
  return s;
}

// Validates every flag before any work; returns the emit kinds, deduplicated, in order.
std::vector<std::string> validate(const CompileArgs& a) {
  if (a.model.empty()) throw UserError("compile: give a MODEL (a run directory or an ONNX file)");
  if (!fs::exists(a.model)) throw UserError(a.model + ": no such model file or run directory");
  if (a.hw.empty()) throw UserError("compile: give the hardware spec with --hw HW.yaml");
  if (!fs::is_regular_file(a.hw)) {
    throw UserError(a.hw + ": no such hardware spec file (--hw; examples in configs/hw/)");
  }
  if (a.images < 1) {
    throw UserError("--images must be at least 1, got " + std::to_string(a.images));
  }
  if (a.eval_images < 1) {
    throw UserError("--eval-images must be at least 1, got " + std::to_string(a.eval_images));
  }
  if (a.programming_noise < 0 || a.programming_noise > 10) {
    throw UserError(fmt::format("--programming-noise must be in [0, 10] (relative to w_max), got {}",
                                a.programming_noise));
  }
  if (a.read_noise < 0 || a.read_noise > 10) {
    throw UserError(fmt::format("--read-noise must be in [0, 10] (relative to w_max), got {}", a.read_noise));
  }
  if (a.seed < 0) throw UserError("--seed must be >= 0, got " + std::to_string(a.seed));
  if (!a.eval.empty()) {
    const std::vector<std::string> names{"fashion-mnist", "mnist-10k"};  // registry names with a test split
    if (std::find(names.begin(), names.end(), a.eval) == names.end()) {
      std::string hint = closest_match(a.eval, names);
      for (const auto& n : names) {  // "fashion" -> "fashion-mnist": too far for edit distance
        if (hint.empty() && n.rfind(a.eval, 0) == 0) hint = n;
      }
      throw UserError("--eval: unknown data set '" + a.eval + "'; known: " + join(names, ", ") +
                      (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
    }
  }
  if (!a.input_shape.empty()) parse_shape(a.input_shape);
  std::vector<std::string> kinds;
  for (const auto& k : a.emit) {
    if (k.empty()) continue;
    if (std::find(emit_kinds().begin(), emit_kinds().end(), k) == emit_kinds().end()) {
      throw UserError("--emit: unknown kind '" + k + "'; valid kinds: " + join(emit_kinds(), ", "));
    }
    if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) kinds.push_back(k);
  }
  return kinds;
}

enum class ModelKind { kRunDir, kTorchScript, kOnnx };

// A directory is a run of `neurocore train`; a zip archive (or a .pt/.pth/.ts/.torchscript
// name) is TorchScript; anything else is read as ONNX.
ModelKind model_kind(const std::string& path) {
  if (fs::is_directory(path)) return ModelKind::kRunDir;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot read the model file");
  char magic[4] = {0, 0, 0, 0};
  in.read(magic, 4);
  const std::string ext = fs::path(path).extension().string();
  const bool zip = magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
  if (zip || ext == ".pt" || ext == ".pth" || ext == ".ts" || ext == ".torchscript") {
    return ModelKind::kTorchScript;
  }
  return ModelKind::kOnnx;
}

const char* kind_name(ModelKind k) {
  return k == ModelKind::kRunDir ? "run directory" : k == ModelKind::kTorchScript ? "torchscript" : "onnx";
}

struct Imported {
  cm::OnnxImport model;                      // graph, opset (ONNX only) and notes
  std::optional<data::Normalization> norm;   // a run directory's own input normalisation
  data::EncoderOptions encoder;              // a spiking run's: its graph's input frames
};

// Every kind ends as an OnnxImport-shaped record for the report. `shape`: the input shape a
// TorchScript file needs (empty: none known).
Imported import_model_file(const std::string& path, ModelKind kind, const cm::Shape& shape) {
  Imported out;
  if (kind == ModelKind::kOnnx) {
    out.model = cm::import_onnx(path);
    return out;
  }
  if (kind == ModelKind::kTorchScript) {
    if (shape.empty()) {
      throw UserError(path + ": a TorchScript file records no input shape; give --input-shape "
                      "C,H,W (e.g. 1,28,28), or --eval DATA to take the data's");
    }
    cm::TorchScriptImport t = cm::import_torchscript(path, shape);
    out.model.graph = std::move(t.graph);
    out.model.notes = std::move(t.notes);
    out.model.notes.push_back("TorchScript, frozen, input " + cm::shape_str(shape));
    return out;
  }
  cm::RunImport r = cm::import_run_dir(path);
  out.model.graph = std::move(r.graph);
  out.model.notes.push_back(fmt::format("run directory: model {} trained on {}, {}", r.model_name, r.data_name,
                                        r.int_model.empty() ? fmt::format("checkpoint after epoch {}", r.epochs)
                                                            : "integer weights from " + r.int_model));
  out.norm = r.norm;
  out.encoder = r.encoder;
  return out;
}

// Renders Graphviz source with `dot -Tsvg`; false (and no .svg left) when dot is missing or fails.
bool render_dot(const std::string& dot_file, const std::string& svg_file) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) return false;
  const std::string cmd = "dot -Tsvg '" + dot_file + "' -o '" + svg_file + "' 2>/dev/null";
  if (std::system(cmd.c_str()) == 0) return true;
  fs::remove(svg_file);
  return false;
}

// The test split of `name`, normalised as the model expects: a run directory's own statistics,
// else the training split's pixel mean and std (what `neurocore train` uses).
struct EvalData {
  data::DataOptions options;
  data::Dataset test;
  data::Normalization norm{0.0, 1.0};
  bool norm_from_run = false;
};

EvalData load_eval_data(const std::string& name) {
  EvalData d;
  d.options.name = name;
  d.test = data::load_dataset(d.options, "test");
  return d;
}

std::string num(double v, const char* f = "{:.4g}") { return fmt::format(fmt::runtime(f), v); }

// Pipeline occupancy over time from the simulator's per-iteration trace: in each of `bins` time
// bins, the mean number of crossbar cores busy (an MVM iteration of a layer occupies all its
// cores) and of digital nodes busy.
std::vector<Series> occupancy(const cm::Graph& g, const cm::Mapping& m, const cm::TimingReport& t,
                              double us_per_cycle, int bins = 200) {
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
    const cm::Node& node = g.nodes()[n];
    if (node.kind == cm::OpKind::kInput) continue;
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

void run_compile(const CompileArgs& a, const Global& global) {
  const std::vector<std::string> emit = validate(a);
  const ModelKind kind = model_kind(a.model);
  const cm::Hardware hw = cm::Hardware::load(a.hw);
  if (global.threads >= 0) set_threads(global.threads);
  std::optional<EvalData> eval;
  if (!a.eval.empty()) {
    spdlog::info("loading {} for --eval", a.eval);
    eval = load_eval_data(a.eval);
  }
  cm::Shape input_shape;
  if (!a.input_shape.empty()) {
    input_shape = parse_shape(a.input_shape);
  } else if (eval) {
    input_shape = eval->test.images.sizes().slice(1).vec();
  }

  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  auto seconds = [](clock::time_point b) {
    return std::chrono::duration<double>(clock::now() - b).count();
  };

  spdlog::info("importing {}", a.model);
  Imported model = import_model_file(a.model, kind, input_shape);
  cm::OnnxImport& imported = model.model;
  cm::Graph& g = imported.graph;
  if (eval) {
    const auto graph_inputs = g.inputs();
    const cm::Shape data_shape = eval->test.images.sizes().slice(1).vec();
    if (graph_inputs.size() != 1 || g.value(graph_inputs[0]).shape != data_shape) {
      throw UserError(fmt::format("--eval {}: its images are {}, the model's input is {}", a.eval,
                                  cm::shape_str(data_shape),
                                  graph_inputs.size() == 1 ? cm::shape_str(g.value(graph_inputs[0]).shape)
                                                           : std::to_string(graph_inputs.size()) + " inputs"));
    }
  }
  const int folded = g.fold_batch_norms();  // the importer folds already; this catches the rest
  for (const auto& n : imported.notes) spdlog::info("import: {}", n);
  const double t_import = seconds(t0);
  if (eval) {  // outside the import time: reads the training split for its statistics
    eval->norm_from_run = model.norm.has_value();
    eval->norm = model.norm ? *model.norm : data::normalization(data::load_dataset(eval->options, "train"));
  }

  const auto t1 = clock::now();
  const cm::Mapping mapping = cm::map_graph(g, hw);
  spdlog::info("mapped {} layers onto {} cores", mapping.layers.size(), mapping.total_cores);
  const double t_map = seconds(t1);

  const auto t2 = clock::now();
  const cm::PolyModel poly(g);
  spdlog::info("dependency analysis: {} edges", poly.edges().size());
  const double t_poly = seconds(t2);

  // Control programs: generated only when emitted (the timing simulator runs on tables).
  const bool want_control = std::find(emit.begin(), emit.end(), "control") != emit.end();
  const auto t_gen0 = clock::now();
  std::vector<cm::CoreProgram> programs;
  if (want_control) programs = cm::generate_control(g, mapping, poly);
  const double t_control = seconds(t_gen0);

  const auto t3 = clock::now();
  cm::TimingOptions topt;
  topt.images = a.images;
  topt.check_buffers = false;  // report the peaks first; an overflow is an error below
  // The occupancy plot needs every iteration's times: 16 bytes each, kept below ~64 MB.
  int64_t iterations = 0;
  for (const auto& n : g.nodes()) {
    const auto& sh = g.value(n.output).shape;
    iterations += sh.size() == 3 ? sh[1] * sh[2] : 1;
  }
  topt.trace = iterations * a.images <= 4'000'000;
  const cm::TimingReport timing = cm::simulate_timing(g, mapping, poly, hw, topt);
  const double t_sim = seconds(t3);

  const std::string stem = fs::path(a.model).stem().string();
  const std::string dir = create_fresh_dir(a.out.empty() ? "runs/compile-" + stem : a.out);
  auto file = [&](const std::string& name) { return (fs::path(dir) / name).string(); };

  // Emitted files.
  std::vector<std::string> written;
  for (const auto& k : emit) {
    if (k == "dot") write_file_atomic(file("graph.dot"), g.to_dot()), written.push_back("graph.dot");
    if (k == "json") write_file_atomic(file("graph.json"), g.to_json()), written.push_back("graph.json");
    if (k == "control") {
      fs::create_directories(file("control"));
      for (const auto& p : programs) {
        write_file_atomic(file("control/" + cm::control_file_name(p)), p.code);
        written.push_back("control/" + cm::control_file_name(p));
      }
    }
  }
  write_file_atomic(file("hw.yaml"), hw.to_yaml());
  written.push_back("hw.yaml");

  // The mapping as a picture: each layer's tiles on their cores.
  write_file_atomic(file("mapping.dot"), cm::mapping_dot(mapping));
  written.push_back("mapping.dot");
  const bool mapping_svg = render_dot(file("mapping.dot"), file("mapping.svg"));
  if (mapping_svg) written.push_back("mapping.svg");

  // Test accuracy of the functional simulation with the non-idealities, against the float model.
  std::optional<cm::AccuracyReport> acc;
  if (eval) {
    cm::AccuracyOptions ao;
    ao.sim_images = a.eval_images;
    ao.analog.quantize = !a.ideal;
    ao.analog.programming_noise = a.ideal ? 0.0 : a.programming_noise;
    ao.analog.read_noise = a.ideal ? 0.0 : a.read_noise;
    ao.analog.seed = static_cast<uint64_t>(a.seed);
    spdlog::info("--eval {}: float model on {} test images (LibTorch), functional simulation on {}",
                 a.eval, eval->test.size(), std::min(a.eval_images, eval->test.size()));
    // A spiking model's test images become spike trains [T, N, ...] by the run's encoder.
    const torch::Tensor inputs =
        g.temporal() ? data::encode(eval->test.images, model.encoder, make_generator(static_cast<uint64_t>(a.seed), "eval-encode"))
                     : (eval->test.images - eval->norm.mean) / eval->norm.std;
    acc = cm::evaluate_accuracy(g, mapping, poly, hw, inputs, eval->test.labels, ao);
    spdlog::info("accuracy: float model {:.2f}%, functional simulation {:.2f}% on {} images "
                 "(float on the same: {:.2f}%)", acc->compiled_accuracy, acc->accelerator_accuracy,
                 acc->sim_images, acc->float_accuracy_same_images);
  }

  // Buffers against the configured size.
  std::vector<std::string> overflows;
  int64_t peak = 0, peak_core = -1;
  for (const auto& c : timing.cores) {
    if (c.max_buffer_bytes > peak) peak = c.max_buffer_bytes, peak_core = c.core;
    if (c.max_buffer_bytes > hw.buffer_bytes) {
      overflows.push_back(fmt::format("core {} ({}) needs a buffer of {} bytes", c.core < 0 ? "GCU" : std::to_string(c.core), c.nodes, c.max_buffer_bytes));
    }
  }

  // Per-core utilisation plot.
  bool plotted = false;
  {
    Series s;
    s.name = "utilisation";
    for (const auto& c : timing.cores) {
      if (c.core < 0) continue;
      s.x.push_back(static_cast<double>(c.core));
      s.y.push_back(100.0 * c.utilisation);
    }
    if (!s.x.empty()) {
      PlotSpec spec;
      spec.title = fmt::format("{}: per-core utilisation, {} images", stem, a.images);
      spec.xlabel = "core";
      spec.ylabel = "utilisation (%)";
      spec.series.push_back(std::move(s));
      plotted = plot_lines(file("utilisation"), spec);
      if (plotted) written.insert(written.end(), {"utilisation.svg", "utilisation.png"});
    }
  }

  const double ns_per_cycle = 1.0 / hw.clock_ghz;

  // Pipeline occupancy over time.
  bool occupancy_plotted = false;
  {
    std::vector<Series> series = occupancy(g, mapping, timing, ns_per_cycle / 1e3);
    if (!series.empty()) {
      PlotSpec spec;
      spec.title = fmt::format("{}: pipeline occupancy, {} images", stem, a.images);
      spec.xlabel = "time (us)";
      spec.ylabel = "busy (mean per time bin)";
      spec.series = std::move(series);
      occupancy_plotted = plot_lines(file("occupancy"), spec);
      if (occupancy_plotted) written.insert(written.end(), {"occupancy.svg", "occupancy.png"});
    }
  }
  std::string md;
  md += fmt::format("# neurocore compile: {}\n\n", stem);
  md += fmt::format("- model: `{}`{}, {} nodes, {} BatchNorm(s) folded after import\n", a.model,
                    imported.opset > 0 ? fmt::format(" (ONNX opset {})", imported.opset) : "",
                    g.nodes().size(), folded);
  for (const auto& n : imported.notes) md += "- import note: " + n + "\n";
  md += fmt::format("- hardware: `{}` ({}): {}x{} crossbars, {} cores, clock {} GHz, buffer {} "
                    "bytes per core, fabric {}\n",
                    a.hw, hw.name, hw.crossbar_rows, hw.crossbar_cols,
                    hw.cores == 0 ? std::string("unlimited") : std::to_string(hw.cores),
                    num(hw.clock_ghz), hw.buffer_bytes, hw.topology);
  md += fmt::format("- images streamed: {}\n", a.images);
  md += fmt::format("- compile time: import {} s, mapping {} s, dependency analysis {} s "
                    "({} edges), control programs {} s{}, timing simulation {} s\n\n",
                    num(t_import, "{:.3f}"), num(t_map, "{:.3f}"), num(t_poly, "{:.3f}"),
                    poly.edges().size(), num(t_control, "{:.3f}"),
                    want_control ? fmt::format(" ({} cores)", programs.size()) : " (not emitted)",
                    num(t_sim, "{:.3f}"));
  md += "## Mapping\n\n" + mapping.report_markdown() + "\n";
  if (mapping_svg) {
    md += "![the mapping: each layer's crossbar tiles (row blocks x column blocks) on their cores, "
          "shaded by utilisation](mapping.svg)\n\n";
  } else {
    md += "Picture: Graphviz source [mapping.dot](mapping.dot) (render with `dot -Tsvg`).\n\n";
  }
  if (acc) {
    md += fmt::format("## Accuracy on {} (test split)\n\n", a.eval);
    md += "| model | images | accuracy |\n|---|---|---|\n";
    md += fmt::format("| float model (compiled graph, LibTorch) | {} | {:.2f}% |\n", acc->images,
                      acc->compiled_accuracy);
    md += fmt::format("| float model, the simulated images only | {} | {:.2f}% |\n", acc->sim_images,
                      acc->float_accuracy_same_images);
    md += fmt::format("| **functional simulation** (accelerator) | {} | **{:.2f}%** |\n\n",
                      acc->sim_images, acc->accelerator_accuracy);
    md += fmt::format("- non-idealities: {}{}\n", acc->non_idealities, a.ideal ? " (--ideal)" : "");
    md += fmt::format("- predictions equal to the float model's: {:.2f}% of the simulated images\n",
                      acc->agreement);
    if (g.temporal()) {
      md += fmt::format("- input: {} coding over {} time steps (the run's encoder, seed {})\n",
                        model.encoder.coding, model.encoder.steps, a.seed);
    } else {
      md += fmt::format("- input normalisation: (pixel - {:.4f}) / {:.4f}, {}\n", eval->norm.mean,
                        eval->norm.std, eval->norm_from_run ? "the run's own" : "from the training split");
    }
    md += fmt::format("- functional simulation: {} MVMs in {:.1f} s\n\n", acc->mvms, acc->sim_seconds);
  }
  md += "## Timing\n\n";
  md += "| metric | value |\n|---|---|\n";
  md += fmt::format("| latency of the first image | {} cycles ({} us) |\n", timing.first_latency_cycles,
                    num(timing.first_latency_cycles * ns_per_cycle / 1e3));
  md += fmt::format("| throughput | {} images/s (period {} cycles/image) |\n",
                    num(timing.throughput_images_per_s), num(timing.period_cycles, "{:.0f}"));
  md += fmt::format("| total for {} images | {} cycles |\n", timing.images, timing.total_cycles);
  md += fmt::format("| peak buffer | {} bytes (core {}), {} of {} bytes per core |\n", peak,
                    peak_core < 0 ? std::string("GCU") : std::to_string(peak_core),
                    num(100.0 * static_cast<double>(peak) / static_cast<double>(hw.buffer_bytes), "{:.1f}%"),
                    hw.buffer_bytes);
  const auto& e = timing.energy;
  md += fmt::format("| energy per image | {} nJ: MVM {}, ADC {}, digital {}, communication {} |\n\n",
                    num(e.total_pj() / 1e3), num(e.mvm_pj / 1e3), num(e.adc_pj / 1e3),
                    num(e.digital_pj / 1e3), num(e.comm_pj / 1e3));
  if (!overflows.empty()) {
    md += "**Buffer overflow** (buffer.bytes_per_core = " + std::to_string(hw.buffer_bytes) +
          "): " + join(overflows, "; ") + ".\n\n";
  }
  if (occupancy_plotted) {
    md += "![pipeline occupancy over time: crossbar cores and digital nodes busy](occupancy.svg)\n\n";
  } else if (!topt.trace) {
    md += fmt::format("(No occupancy plot: {} images x {} iterations is too long a trace; use "
                      "fewer --images.)\n\n", a.images, iterations);
  }
  if (plotted) md += "![per-core utilisation](utilisation.svg)\n\n";
  md += "### Per core\n\n";
  md += "| core | nodes | crossbar busy | digital busy | utilisation | peak buffer (bytes) | of size |\n";
  md += "|---|---|---|---|---|---|---|\n";
  for (const auto& c : timing.cores) {
    md += fmt::format("| {} | {} | {} | {} | {:.1f}% | {} | {:.1f}% |\n",
                      c.core < 0 ? std::string("GCU") : std::to_string(c.core), c.nodes,
                      c.mvm_cycles, c.digital_cycles, 100.0 * c.utilisation, c.max_buffer_bytes,
                      100.0 * static_cast<double>(c.max_buffer_bytes) / static_cast<double>(hw.buffer_bytes));
  }
  md += "\n## Files\n\n";
  for (const auto& w : written) md += "- `" + w + "`\n";

  nlohmann::json j;
  j["model"] = a.model;
  j["model_kind"] = kind_name(kind);
  j["opset"] = imported.opset;
  j["import_notes"] = imported.notes;
  j["hardware"] = {{"path", a.hw}, {"name", hw.name}, {"buffer_bytes_per_core", hw.buffer_bytes}};
  j["images"] = a.images;
  j["nodes"] = g.nodes().size();
  j["cores"] = mapping.total_cores;
  j["mapping"] = nlohmann::json::parse(mapping.to_json());
  j["timing"] = nlohmann::json::parse(timing.to_json());
  j["buffer_overflows"] = overflows;
  j["compile_seconds"] = {{"import", t_import}, {"mapping", t_map}, {"dependency_analysis", t_poly},
                          {"control_programs", t_control}, {"timing_simulation", t_sim}};
  j["files"] = written;
  if (acc) {
    j["eval"] = acc->to_json();
    j["eval"]["data"] = a.eval;
    j["eval"]["normalisation"] = {{"mean", eval->norm.mean}, {"std", eval->norm.std}};
  }
  write_file_atomic(file("report.json"), j.dump(2) + "\n");
  write_file_atomic(file("report.md"), md);
  spdlog::info("{} cores; first image {} cycles, {} images/s; report: {}", mapping.total_cores,
               timing.first_latency_cycles, num(timing.throughput_images_per_s), file("report.md"));

  if (!overflows.empty()) {
    throw UserError(join(overflows, "; ") + ", buffer.bytes_per_core is " +
                    std::to_string(hw.buffer_bytes) + " (report written to " + dir + ")");
  }
}

}  // namespace

void add_compile(CLI::App& app, const Global& global) {
  auto args = std::make_shared<CompileArgs>();
  auto* cmd = app.add_subcommand(
      "compile",
      "Compile a model for a computational-memory accelerator: import, fold BatchNorms, map "
      "onto crossbars, analyse dependencies (isl) and simulate N streamed images; writes "
      "report.md, report.json and the emitted files (docs/cm.md). With --eval DATA, also the "
      "test accuracy of the functional simulation (DAC/ADC bits of the spec, programming and "
      "read noise) against the float model.\n\nExamples:\n"
      "  neurocore compile tests/cm/data/resnet20-cifar.onnx --hw configs/hw/default.yaml\n"
      "  neurocore compile runs/lenet5-fashion --hw configs/hw/default.yaml --eval fashion-mnist\n"
      "  neurocore compile model.pt --input-shape 1,28,28 --hw configs/hw/default.yaml\n"
      "  neurocore compile model.onnx --hw configs/hw/pcm64.yaml --images 100 --emit control,dot\n"
      "  neurocore compile model.onnx --hw configs/hw/xbar512.yaml --out runs/m512");
  cmd->add_option("MODEL", args->model,
                  "a run directory of `neurocore train` (mlp, lenet5, resnet), a TorchScript file "
                  "(.pt, needs --input-shape or --eval) or an ONNX file")
      ->required();
  cmd->add_option("--hw", args->hw, "hardware spec (YAML), see configs/hw/ and docs/cm.md")
      ->required();
  cmd->add_option("--images", args->images, "images streamed through the pipeline (>= 1)");
  cmd->add_option("--emit", args->emit, "extra files to write, comma separated: control (control/<core>.c, one "
                  "program per core), dot, json")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--input-shape", args->input_shape,
                  "input of one sample, C,H,W or F (TorchScript files only; default with --eval: "
                  "the data's image shape)");
  cmd->add_option("--eval", args->eval,
                  "data set (registry name: fashion-mnist, mnist-10k) whose test split measures the "
                  "accuracy of the functional simulation against the float model");
  cmd->add_option("--eval-images", args->eval_images,
                  "test images run through the functional simulator (the float model runs on all)");
  cmd->add_flag("--ideal", args->ideal, "--eval without non-idealities (no DAC/ADC quantization, no noise)");
  cmd->add_option("--programming-noise", args->programming_noise,
                  "--eval: weight programming noise, std relative to the tile's w_max (once per weight)");
  cmd->add_option("--read-noise", args->read_noise,
                  "--eval: read noise, std relative to w_max (every MVM)");
  cmd->add_option("--seed", args->seed, "--eval: seed of the noise");
  cmd->add_option("--out", args->out,
                  "output directory (default runs/compile-<model stem>; an existing one is kept "
                  "and -2, -3, ... appended)");
  cmd->callback([args, &global] { run_compile(*args, global); });
}

}  // namespace nc::cli
