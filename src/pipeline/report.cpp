#include "report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "neurocore/core/io.h"
#include "neurocore/core/plot.h"
#include "neurocore/core/strings.h"
#include "neurocore/pipeline/pipeline.h"

namespace nc::pipeline {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string path_in(const std::string& dir, const std::string& file) {
  return (fs::path(dir) / file).string();
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}


}  // namespace

Report build_report(const std::string& dir, const json& s) {
  Report r;
  r.title = "neurocore pipeline: " + fs::path(dir).filename().string();
  r.dir = dir;
  auto get = [&](const char* stage, const char* key) -> const json* {
    if (!s.contains(stage) || !s[stage].contains(key)) return nullptr;
    return &s[stage][key];
  };
  Report::Section acc{"Accuracy after each stage", {}, {}};
  if (auto* v = get("train", "test_accuracy")) acc.rows.emplace_back("float model (after train)", format_num(v->get<double>()) + " %");
  if (auto* v = get("prune", "test_accuracy")) {
    const auto& p = s["prune"];
    acc.rows.emplace_back(fmt::format("after pruning ({}, {} of the {} kept, {} granularity)",
                                      p["method"].get<std::string>(), format_num(p["budget"].get<double>()),
                                      p["budget_kind"].get<std::string>(), p["granularity"].get<std::string>()),
                          format_num(v->get<double>()) + " %");
  }
  if (auto* v = get("quantize", "method")) acc.rows.emplace_back("quantization", v->get<std::string>());
  if (auto* v = get("quantize", "ptq_accuracy")) acc.rows.emplace_back("after PTQ (" + s["quantize"]["bits"].get<std::string>() + ")", format_num(v->get<double>()) + " %");
  if (auto* v = get("quantize", "test_accuracy")) acc.rows.emplace_back("quantized model (" + s["quantize"]["method"].get<std::string>() + ")", format_num(v->get<double>()) + " %");
  if (auto* v = get("evaluate", "compiled_accuracy")) {
    acc.rows.emplace_back("compiled model (exact arithmetic)", format_num(v->get<double>()) + " % on " +
                          std::to_string(s["evaluate"]["images"].get<int64_t>()) + " test images");
  }
  if (auto* v = get("evaluate", "accelerator_accuracy")) {
    const auto& e = s["evaluate"];
    acc.rows.emplace_back("simulated accelerator (with non-idealities)",
                          fmt::format("{} % on the first {} test images (exact arithmetic on them: {} %)", format_num(v->get<double>()),
                                      e["accelerator_images"].get<int64_t>(),
                                      format_num(e["float_accuracy_same_images"].get<double>())));
    acc.rows.emplace_back("non-idealities", e["non_idealities"].get<std::string>());
  }
  if (auto* v = get("evaluate", "skipped")) acc.rows.emplace_back("accuracy", "not evaluated: " + v->get<std::string>());
  // The same numbers as bars, so a drop at one stage shows at a glance.
  BarSpec bars{"Test accuracy after each stage", "accuracy (%)", {}, {}};
  auto bar = [&](const char* stage, const char* key, const std::string& label) {
    if (auto* v = get(stage, key)) bars.labels.push_back(label), bars.values.push_back(v->get<double>());
  };
  bar("train", "test_accuracy", "float");
  bar("prune", "test_accuracy", "pruned");
  bar("quantize", "ptq_accuracy", "PTQ");
  if (auto* m = get("quantize", "method"); m && m->get<std::string>() != "ptq" && m->get<std::string>() != "none") {
    std::string method = m->get<std::string>();
    bar("quantize", "test_accuracy", method == "efqat" ? "EfQAT" : method == "qat" ? "QAT" : method);
  }
  bar("evaluate", "compiled_accuracy", "compiled");
  bar("evaluate", "accelerator_accuracy", "accelerator");  // short: the labels share one axis
  if (bars.values.size() >= 2 && plot_bars(path_in(dir, "accuracy-by-stage"), bars)) {
    acc.images.push_back("accuracy-by-stage.svg");
  }
  if (!acc.rows.empty()) r.sections.push_back(acc);

  Report::Section curves{"Training curves", {}, {}};
  for (const char* plot : {"train/loss.svg", "train/accuracy.svg"}) {
    if (fs::exists(path_in(dir, plot))) curves.images.emplace_back(plot);
  }
  if (auto* v = get("train", "epochs")) curves.rows.emplace_back("epochs", std::to_string(v->get<int64_t>()));
  if (!curves.images.empty()) r.sections.push_back(curves);

  Report::Section model{"Model and mapping", {}, {}};
  if (auto* v = get("train", "model")) model.rows.emplace_back("model", v->get<std::string>() + " on " + s["train"]["data"].get<std::string>());
  if (auto* v = get("compile", "onnx")) {
    model.rows.emplace_back("model", fmt::format("ONNX file {} (opset {}); train and quantize skipped",
                                                 v->get<std::string>(), s["compile"]["opset"].get<int64_t>()));
    for (const auto& note : s["compile"]["import_notes"]) model.rows.emplace_back("import note", note.get<std::string>());
  }
  if (auto* v = get("train", "parameters")) model.rows.emplace_back("parameters", std::to_string(v->get<int64_t>()));
  if (auto* v = get("compile", "time_steps"); v && v->get<int64_t>() > 0) {
    model.rows.emplace_back("time steps per image", fmt::format("{} (spiking: every MVM, neuron update and transfer "
                                                                "repeats each step; the figures below are per image)",
                                                                v->get<int64_t>()));
  }
  if (auto* v = get("compile", "model_bits")) {
    model.rows.emplace_back("model size", fmt::format("{} bits ({} weights and biases, {})", v->get<int64_t>(),
                            s["compile"]["weights"].get<int64_t>(),
                            s["compile"]["quantized"].get<bool>() ? "quantized weights, 32-bit biases" : "32-bit floats"));
  }
  if (auto* v = get("compile", "cores")) {
    model.rows.emplace_back("cores used", fmt::format("{} ({} crossbars, {:.1f} % of their cells used)", v->get<int64_t>(),
                            s["compile"]["crossbar"].get<std::string>(), 100 * s["compile"]["crossbar_utilisation"].get<double>()));
  }
  if (!model.rows.empty()) r.sections.push_back(model);

  // What pruning saves: the float model before and after, compiled and simulated alike.
  Report::Section pruning{"Pruning: the float model on the accelerator before and after", {}, {}};
  if (auto* b = get("prune", "chip_before")) {
    const auto& p = s["prune"];
    const auto& a = p["chip_after"];
    auto arrow = [](double x, double y, const std::string& unit) {
      return fmt::format("{} -> {}{} ({:.1f} %)", format_num(x), format_num(y), unit, x > 0 ? 100 * y / x : 0.0);
    };
    pruning.rows.emplace_back("weight parameters", arrow(p["params_before"].get<double>(), p["params_after"].get<double>(), ""));
    pruning.rows.emplace_back("MACs per image", arrow(p["flops_before"].get<double>(), p["flops_after"].get<double>(), ""));
    pruning.rows.emplace_back("cores", fmt::format("{} -> {}", (*b)["cores"].get<int64_t>(), a["cores"].get<int64_t>()));
    pruning.rows.emplace_back("latency of the first image", arrow((*b)["first_latency_us"].get<double>(), a["first_latency_us"].get<double>(), " µs"));
    pruning.rows.emplace_back("energy per image", arrow((*b)["energy_nj"].get<double>(), a["energy_nj"].get<double>(), " nJ"));
    pruning.rows.emplace_back("model", p["shrunk"].get<bool>() ? "physically shrunk (smaller layers)" : "dense shape, pruned weights zero");
  }
  if (!pruning.rows.empty()) r.sections.push_back(pruning);

  Report::Section perf{"Simulated accelerator", {}, {}};
  if (auto* v = get("simulate", "first_latency_us")) perf.rows.emplace_back("latency of the first image", format_num(v->get<double>()) + " µs");
  if (auto* v = get("simulate", "throughput_images_per_s")) perf.rows.emplace_back("throughput", format_num(v->get<double>()) + " images/s");
  if (auto* e = get("simulate", "energy_nj")) {
    perf.rows.emplace_back("energy per image", format_num((*e)["total"].get<double>()) + " nJ");
    BarSpec bars{"Energy per image by component", "nJ", {}, {}};
    for (const char* k : {"mvm", "adc", "digital", "communication"}) {
      perf.rows.emplace_back(std::string("  ") + k, format_num((*e)[k].get<double>()) + " nJ");
      bars.labels.emplace_back(k);
      bars.values.push_back((*e)[k].get<double>());
    }
    if (plot_bars(path_in(dir, "energy"), bars)) perf.images.push_back("energy.svg");
  }
  if (!perf.rows.empty()) r.sections.push_back(perf);

  Report::Section fabric{"Communication fabric", {}, {}};
  if (auto* v = get("place", "topology")) {
    fabric.rows.emplace_back("topology", fmt::format("{} ({} nodes, {} links, max degree {})", v->get<std::string>(),
                             s["place"]["fabric_nodes"].get<int64_t>(), s["place"]["fabric_links"].get<int64_t>(),
                             s["place"]["max_degree"].get<int64_t>()));
    fabric.rows.emplace_back("placement", fmt::format("{} ({})", s["place"]["method"].get<std::string>(),
                             s["place"]["homomorphic"].get<bool>() ? "every communicating pair on a direct link" : "some flows routed over several hops"));
    const auto max_bits = s["place"]["max_channel_bits_per_image"].get<int64_t>();
    std::string load = std::to_string(max_bits) + " bits/image";
    if (auto* t = get("simulate", "throughput_images_per_s")) {
      load += fmt::format(" = {:.3g} Gbit/s at the simulated throughput", static_cast<double>(max_bits) * t->get<double>() / 1e9);
    }
    fabric.rows.emplace_back("maximum channel load", load);
    fabric.rows.emplace_back("mean channel load", format_num(s["place"]["mean_channel_bits_per_image"].get<double>()) + " bits/image");
    fabric.rows.emplace_back("maximum hops", std::to_string(s["place"]["max_hops"].get<int64_t>()));
    // The simulate stage's run on this placement (routes shared by several flows serialize).
    auto* f = get("simulate", "fabric");
    auto* t = get("simulate", "throughput_images_per_s");
    auto* l = get("simulate", "first_latency_us");
    if (f && f->contains("throughput_images_per_s") && t && l) {
      const double ft = (*f)["throughput_images_per_s"].get<double>(), fl = (*f)["first_latency_us"].get<double>();
      fabric.rows.emplace_back("simulated on this fabric (link contention)",
                               fmt::format("{} images/s ({:.4f} x the ideal fabric's), first image {} µs ({:.4f} x)",
                                           format_num(ft), ft / t->get<double>(), format_num(fl), fl / l->get<double>()));
    }
    if (fs::exists(path_in(path_in(dir, "place"), "placement.svg"))) fabric.images.push_back("place/placement.svg");
    r.sections.push_back(fabric);
  }

  Report::Section stages{"Stages", {}, {}};
  for (const auto& name : stage_names()) {
    if (!s.contains(name) || !s[name].contains("seconds")) continue;
    stages.rows.emplace_back(name, fmt::format("{:.1f} s when it ran (files in {}/)", s[name]["seconds"].get<double>(), name));
  }
  r.sections.push_back(stages);
  return r;
}

std::string Report::markdown() const {
  std::string md = "# " + title + "\n";
  for (const auto& sec : sections) {
    md += "\n## " + sec.title + "\n\n| quantity | value |\n|---|---|\n";
    for (const auto& [k, v] : sec.rows) md += "| " + k + " | " + v + " |\n";
    for (const auto& img : sec.images) md += "\n![" + sec.title + "](" + img + ")\n";
  }
  return md;
}

std::string Report::html() const {
  std::string h = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
                  "</title>\n<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}"
                  "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;"
                  "text-align:left}svg{max-width:100%;height:auto}</style></head><body>\n<h1>" +
                  html_escape(title) + "</h1>\n";
  for (const auto& sec : sections) {
    h += "<h2>" + html_escape(sec.title) + "</h2>\n<table><tr><th>quantity</th><th>value</th></tr>\n";
    for (const auto& [k, v] : sec.rows) h += "<tr><td>" + html_escape(k) + "</td><td>" + html_escape(v) + "</td></tr>\n";
    h += "</table>\n";
    for (const auto& img : sec.images) {
      std::string svg = read_file(path_in(dir, img));
      const auto start = svg.find("<svg");  // drop the XML prolog and DOCTYPE
      if (start != std::string::npos) h += "<div>" + svg.substr(start) + "</div>\n";
    }
  }
  return h + "</body></html>\n";
}

}  // namespace nc::pipeline
