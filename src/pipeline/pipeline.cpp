// The pipeline's stages (see the header and docs/pipeline.md). Each stage body writes its
// files into the directory StageRunner gives it and returns the numbers the report shows.
#include "neurocore/pipeline/pipeline.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "neurocore/cm/compiled.h"
#include "neurocore/cm/torch/accuracy.h"
#include "neurocore/cm/fabric.h"
#include "neurocore/cm/fabric_report.h"
#include "neurocore/cm/graphviz.h"
#include "neurocore/cm/mapping.h"
#include "neurocore/cm/placement.h"
#include "neurocore/cm/poly.h"
#include "neurocore/cm/timing.h"
#include "neurocore/cm/topology.h"
#include "neurocore/cm/torch/torch_import.h"
#include "neurocore/compress/int_model.h"
#include "neurocore/compress/prune/prune_run.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/learn/checkpoint.h"
#include "neurocore/learn/experiment.h"
#include "neurocore/learn/trainer.h"
#include "neurocore/pipeline/stages.h"
#include "onnx_source.h"
#include "quantize_stage.h"
#include "report.h"
#include "settings.h"

namespace nc::pipeline {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::vector<std::string>& stage_names() {
  static const std::vector<std::string> s{"train", "prune",    "quantize", "compile",
                                          "place", "simulate", "evaluate"};
  return s;
}

namespace {

std::string in_dir(const std::string& dir, const std::string& file) {
  return (fs::path(dir) / file).string();
}

json train_stage(learn::Experiment& exp, const std::string& out) {
  write_file_atomic(in_dir(out, "config.yaml"), exp.effective_yaml);
  fs::create_directories(in_dir(out, "checkpoints"));  // RunDir::open expects a created run
  RunDir run = RunDir::open(out);
  learn::Trainer trainer(exp, run);
  trainer.fit();
  const auto r = trainer.evaluate(exp.test_set);
  return {{"model", exp.model_name},
          {"data", exp.data.name},
          {"epochs", exp.train.epochs},
          {"parameters", nn::count_parameters(*exp.model)},
          {"test_accuracy", r.accuracy}};
}

// The prune stage's final model (an ordinary run: shrunk shape in its config.yaml).
learn::Experiment load_pruned(const std::string& run_dir) {
  Config c = Config::load(in_dir(run_dir, "config.yaml"));
  learn::Experiment e = learn::Experiment::build(c);
  const std::string ckpt = learn::last_checkpoint(in_dir(run_dir, "checkpoints"));
  if (ckpt.empty()) throw UserError(run_dir + ": the prune stage left no checkpoint");
  learn::load_checkpoint(ckpt, *e.model, nullptr);
  e.model->eval();
  return e;
}

// Cores, latency and energy of a float model on the accelerator (for the prune stage's before /
// after comparison; the compile and simulate stages report the final, quantized model).
json chip_numbers(nn::NetImpl& model, const learn::Experiment& exp, const Settings& s) {
  const auto& images = exp.test_set.images;
  const cm::Compiled c = cm::compile_graph(
      cm::import_model(model, {images.size(1), images.size(2), images.size(3)}), s.compile.hw, "");
  cm::TimingOptions to;
  to.images = s.simulate.images;
  const cm::TimingReport r = cm::simulate_timing(c, to);
  return {{"cores", c.mapping().total_cores},
          {"first_latency_us", static_cast<double>(r.first_latency_cycles) / r.clock_ghz / 1e3},
          {"throughput_images_per_s", r.throughput_images_per_s},
          {"energy_nj", r.energy.total_pj() / 1e3}};
}

compress::prune::PruneRunOptions prune_options(const PruneSettings& p) {
  using namespace compress::prune;
  PruneRunOptions o;
  o.prune.method = parse_method(p.method, "prune.method");
  o.prune.budget = p.budget;
  o.prune.kind = parse_budget_kind(p.budget_kind, "prune.budget_kind");
  o.prune.granularity = parse_granularity(p.granularity, "prune.granularity");
  o.prune.epochs = p.epochs;
  o.lr = p.lr > 0 ? p.lr : -1;
  return o;
}

// Prunes the train stage's run into `out`/run (docs/prune.md) and compiles and simulates the
// float model before and after, so the report shows what pruning saves on the chip.
json prune_stage(learn::Experiment& exp, const Settings& s, const std::string& train_dir,
                 const std::string& out) {
  const json before = chip_numbers(*exp.model, exp, s);
  auto o = prune_options(s.prune);
  o.out = in_dir(out, "run");
  const auto r = compress::prune::prune_run(train_dir, o);
  auto pruned = load_pruned(in_dir(out, "run"));
  const json after = chip_numbers(*pruned.model, pruned, s);
  const auto& p = r.result;
  return {{"method", s.prune.method},
          {"budget", s.prune.budget},
          {"budget_kind", s.prune.budget_kind},
          {"granularity", s.prune.granularity},
          {"epochs", s.prune.epochs},
          {"shrunk", r.shrunk},
          {"accuracy_before", p.acc_before},
          {"test_accuracy", p.acc_after},
          {"params_before", p.params_before},
          {"params_after", p.params_after},
          {"flops_before", p.flops_before},
          {"flops_after", p.flops_after},
          {"chip_before", before},
          {"chip_after", after}};
}

int64_t weight_count(const cm::Graph& g) {
  int64_t n = 0;
  for (const auto& node : g.nodes()) {
    if (node.has_matrix()) n += static_cast<int64_t>(node.weight.size() + node.bias.size());
  }
  return n;
}

// `model_bits`: the quantized model's size, or -1 for a float model (32 bits per value).
json compile_stage(const cm::Compiled& c, int64_t model_bits,
                   const std::string& out) {
  const cm::Graph& g = c.graph();
  const cm::Mapping& m = c.mapping();
  write_file_atomic(in_dir(out, "graph.txt"), g.to_string());
  write_file_atomic(in_dir(out, "graph.dot"), g.to_dot());
  write_file_atomic(in_dir(out, "graph.json"), g.to_json());
  write_file_atomic(in_dir(out, "mapping.md"), m.report_markdown());
  write_file_atomic(in_dir(out, "mapping.json"), m.to_json());
  const int64_t weights = weight_count(g);
  return {{"nodes", g.nodes().size()},
          {"time_steps", g.time_steps()},
          {"batch_norms_folded", c.folded_batch_norms},
          {"layers", m.layers.size()},
          {"cores", m.total_cores},
          {"crossbar", fmt::format("{}x{}", c.hardware().crossbar_rows, c.hardware().crossbar_cols)},
          {"crossbar_utilisation", m.utilisation},
          {"weights", weights},
          {"model_bits", model_bits >= 0 ? model_bits : weights * 32},
          {"quantized", model_bits >= 0},
          {"dependency_edges", c.poly().edges().size()}};
}

// placement.dot (and .svg when Graphviz is installed) and links.md, as `neurocore fabric`.
void write_placement_files(const std::string& out, const cm::FabricRun& run,
                           const cm::CoreGraph& cg) {
  write_file_atomic(in_dir(out, "placement.dot"), cm::placement_dot(run, cg));
  write_file_atomic(in_dir(out, "links.md"), cm::link_load_table(run, cg));
  cm::render_svg(in_dir(out, "placement.dot"), in_dir(out, "placement.svg"));
}

json place_stage(const cm::Compiled& c, const Settings& s, const std::string& out) {
  const cm::CoreGraph cg = cm::build_core_graph(c);
  cm::PlacementOptions po;
  po.time_budget_s = s.place.time_budget_s;
  const cm::FabricRun run = cm::run_fabric(s.place.topology, cg, po);
  write_placement_files(out, run, cg);
  const auto& topo = run.topology;
  return {{"topology", topo.name},
          {"fabric_nodes", topo.nodes},
          {"fabric_links", topo.link_count()},
          {"max_degree", topo.max_degree()},
          {"method", run.placement.method},
          {"homomorphic", run.placement.homomorphic},
          {"placement_seconds", run.placement.seconds},
          {"max_channel_bits_per_image", run.load.max_bits},
          {"mean_channel_bits_per_image", run.load.mean_bits},
          {"max_hops", run.load.max_hops},
          {"links_used", run.load.links_used},
          {"node_of", run.placement.node_of}};  // for the simulate stage's run on this fabric
}

// The ideal fabric's timing (the headline numbers), and, when the place stage's placement is
// at hand, the same images on the placed fabric with link contention (docs/fabric.md).
json simulate_stage(const cm::Compiled& c, const Settings& s, const json& place, const std::string& out) {
  cm::TimingOptions to;
  to.images = s.simulate.images;
  const cm::TimingReport r = cm::simulate_timing(c, to);
  write_file_atomic(in_dir(out, "timing.md"), r.report_markdown());
  write_file_atomic(in_dir(out, "timing.json"), r.to_json());
  const double ns_per_cycle = 1.0 / r.clock_ghz;
  json on_fabric;
  if (place.contains("node_of")) {
    const cm::Topology topo = cm::Topology::make(s.place.topology, c.mapping().total_cores);
    to.fabric = &topo;
    to.node_of = place["node_of"].get<std::vector<int>>();
    to.check_buffers = false;  // the ideal run above checked them
    const cm::TimingReport f = cm::simulate_timing(c, to);
    write_file_atomic(in_dir(out, "timing-fabric.md"), f.report_markdown());
    on_fabric = {{"topology", f.fabric},
                 {"first_latency_us", static_cast<double>(f.first_latency_cycles) * ns_per_cycle / 1e3},
                 {"throughput_images_per_s", f.throughput_images_per_s},
                 {"busiest_channel_utilisation", f.busiest_channel_utilisation}};
  }
  return {{"fabric", on_fabric},
          {"images", r.images},
          {"first_latency_us", static_cast<double>(r.first_latency_cycles) * ns_per_cycle / 1e3},
          {"period_cycles", r.period_cycles},
          {"throughput_images_per_s", r.throughput_images_per_s},
          {"energy_nj",
           {{"mvm", r.energy.mvm_pj / 1e3},
            {"adc", r.energy.adc_pj / 1e3},
            {"digital", r.energy.digital_pj / 1e3},
            {"communication", r.energy.comm_pj / 1e3},
            {"total", r.energy.total_pj() / 1e3}}}};
}

// The first `limit` images (0: all).
torch::Tensor limited(const torch::Tensor& images, int64_t limit) {
  return limit > 0 ? images.slice(0, 0, std::min(limit, images.size(0))) : images;
}

// Accuracy of the compiled graph (BatchNorms folded) on the test set, by the one evaluation
// `neurocore compile --eval` uses too (cm/accuracy.h): LibTorch's kernels on `limit` images
// (exact arithmetic: checks that compilation kept the function), and the functional simulator
// with the accelerator's non-idealities on the first `images` of them (what the chip would
// score), next to the float model on the same ones.
// A spiking model sees the spike trains its trained accuracy was measured on (only the
// `limit` images are encoded: T frames of every image are large).
json evaluate_stage(const cm::Compiled& c, const learn::Experiment& exp, const Settings& s,
                    const std::string& out) {
  const auto& test = exp.test_set;
  cm::AccuracyOptions o;
  o.sim_images = s.evaluate.images;
  o.full_if_under_s = s.evaluate.full_if_under_s;
  o.analog = s.evaluate.analog;
  const int64_t limit = s.evaluate.limit;
  const cm::AccuracyReport a = cm::evaluate_accuracy(
      c, learn::evaluation_input(exp, limited(test.images, limit)), limited(test.labels, limit), o);
  const json r = a.to_json();
  write_file_atomic(in_dir(out, "evaluate.json"), r.dump(2) + "\n");
  return r;
}

}  // namespace

namespace {

struct Prepared {
  learn::Experiment exp;  // from an ONNX model: no model, data only when the config names it
  Settings settings;
  std::unique_ptr<OnnxSource> onnx;  // set when the model is an ONNX file (no train, quantize)
};

// Everything is validated (and the data loaded) before the first stage runs.
Prepared prepare(Config& config) {
  if (config_uses_onnx(config)) {
    Prepared p;
    p.onnx = std::make_unique<OnnxSource>(prepare_onnx(config, p.exp, settings_sections()));
    p.settings = Settings::from_config(config);
    if (p.settings.prune.method != "none") {
      throw UserError(config.origin() + ": prune.method: the pipeline does not prune an ONNX model "
                      "(model.onnx); expected none, got '" + p.settings.prune.method + "'");
    }
    if (p.settings.quantize.method != "none") {
      throw UserError(config.origin() + ": quantize.method: the pipeline does not quantize an "
                      "ONNX model (model.onnx); expected none, got '" +
                      p.settings.quantize.method + "'");
    }
    return p;
  }
  Prepared p{learn::Experiment::build(config, settings_sections()), {}, nullptr};
  p.settings = Settings::from_config(config);
  if (p.settings.prune.method != "none") {
    // The options' checks against the model (granularity, method), before any stage runs.
    const auto& images = p.exp.test_set.images;
    compress::prune::validate(
        prune_options(p.settings.prune).prune,
        compress::prune::model_structure(*p.exp.model, {images.size(1), images.size(2), images.size(3)}));
    if (p.exp.modulation && p.settings.prune.granularity == "channel") {
      throw UserError(config.origin() + ": prune.granularity: channel masks use the hidden-layer hook, "
                      "which learn.modulation " + p.exp.modulation->name() + " uses too; set learn.modulation: none");
    }
  }
  if (p.exp.model->temporal()) {
    if (p.settings.quantize.method != "none") {
      throw UserError(config.origin() + ": quantize.method: the spiking model '" +
                      p.exp.model_name + "' cannot be quantized yet; expected none, got '" +
                      p.settings.quantize.method + "'");
    }
    // Refuses what the compiler cannot map (recurrent SNU layers) before training starts.
    const auto& images = p.exp.test_set.images;
    cm::import_model(*p.exp.model, {images.size(1), images.size(2), images.size(3)},
                     p.exp.encoder.steps);
  }
  return p;
}

}  // namespace

void validate_pipeline_config(Config& config) { prepare(config); }

PipelineResult run_pipeline(Config& config, const std::string& until) {
  const auto& names = stage_names();
  if (!until.empty() && std::find(names.begin(), names.end(), until) == names.end()) {
    throw UserError("--until: unknown stage '" + until +
                    "'; stages: train, prune, quantize, compile, place, simulate, evaluate");
  }
  Prepared prepared = prepare(config);
  learn::Experiment& exp = prepared.exp;
  const Settings& s = prepared.settings;
  const OnnxSource* onnx = prepared.onnx.get();

  PipelineResult result;
  result.dir = (fs::path(exp.runs_dir) / (exp.name.empty() ? "pipeline" : exp.name)).string();
  StageRunner runner(result.dir);
  spdlog::info("pipeline directory: {}", result.dir);
  auto done = [&](const std::string& stage) { return stage == until; };

  std::string int_model;  // the quantize stage's integer model, when it quantizes
  if (!onnx) {
    result.summary["train"] = runner.run(
        "train", exp.effective_yaml, [&](const std::string& out) { return train_stage(exp, out); });
    const std::string ckpt = learn::last_checkpoint(in_dir(runner.stage_dir("train"), "checkpoints"));
    if (ckpt.empty()) throw UserError(runner.stage_dir("train") + ": the train stage left no checkpoint");
    learn::load_checkpoint(ckpt, *exp.model, nullptr);
    exp.model->eval();
    if (!done("train") && s.prune.method != "none") {
      // The pruned (shrunk) model replaces the trained one for every later stage.
      result.summary["prune"] = runner.run("prune", s.prune.text(), [&](const std::string& out) {
        return prune_stage(exp, s, runner.stage_dir("train"), out);
      });
      exp.model = load_pruned(in_dir(runner.stage_dir("prune"), "run")).model;
    }
    if (!done("train") && !done("prune")) {
      result.summary["quantize"] = runner.run("quantize", s.quantize.text(), [&](const std::string& out) {
        if (s.quantize.method == "none") return json{{"method", "none"}};
        return quantize_model(exp, s.quantize, out);
      });
      if (s.quantize.method != "none") {
        int_model = in_dir(runner.stage_dir("quantize"), compress::kIntModelFile);
      }
    }
  }
  std::optional<cm::Compiled> compiled;
  if (!done("train") && !done("prune") && !done("quantize")) {
    // From an ONNX model, the file's content is part of the compile stage's key.
    std::string key = s.compile.text();
    cm::Graph graph;
    if (onnx) {
      graph = onnx->graph;
      key = "onnx=" + onnx->file_key + "\n" + key;
    } else {
      const auto& images = exp.test_set.images;
      graph = cm::import_model(*exp.model, {images.size(1), images.size(2), images.size(3)},
                               exp.model->temporal() ? exp.encoder.steps : 0);
    }
    compiled.emplace(cm::compile_graph(std::move(graph), s.compile.hw, int_model));
    result.summary["compile"] = runner.run("compile", key, [&](const std::string& out) {
      const int64_t bits = result.summary.contains("quantize")
                               ? result.summary["quantize"].value("model_bits", int64_t{-1})
                               : -1;
      json r = compile_stage(*compiled, bits, out);
      if (onnx) {
        r["onnx"] = onnx->path;
        r["opset"] = onnx->opset;
        r["import_notes"] = onnx->notes;
      }
      return r;
    });
  }
  const std::vector<std::pair<std::string, std::function<json(const std::string&)>>> rest{
      {"place", [&](const std::string& out) { return place_stage(*compiled, s, out); }},
      {"simulate", [&](const std::string& out) { return simulate_stage(*compiled, s, result.summary.value("place", json::object()), out); }},
      {"evaluate", [&](const std::string& out) {
         if (onnx && !onnx->evaluate_skipped.empty()) {
           const json r{{"skipped", onnx->evaluate_skipped}};
           write_file_atomic(in_dir(out, "evaluate.json"), r.dump(2) + "\n");
           return r;
         }
         return evaluate_stage(*compiled, exp, s, out);
       }}};
  // From an ONNX model, the data settings are not in the (absent) train stage's key: here.
  const std::vector<std::string> rest_settings{
      s.place.text(), s.simulate.text(),
      s.evaluate.text() + (onnx ? "\n" + exp.effective_yaml : std::string())};
  bool stop = !compiled || done("compile");
  for (std::size_t i = 0; i < rest.size() && !stop; ++i) {
    result.summary[rest[i].first] = runner.run(rest[i].first, rest_settings[i], rest[i].second);
    stop = done(rest[i].first);
  }
  result.ran = runner.ran();
  const Report report = build_report(result.dir, result.summary);
  result.report_md = in_dir(result.dir, "report.md");
  result.report_html = in_dir(result.dir, "report.html");
  write_file_atomic(result.report_md, report.markdown());
  write_file_atomic(result.report_html, report.html());
  return result;
}

}  // namespace nc::pipeline
