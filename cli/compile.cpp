// neurocore compile: compile a model for a computational-memory accelerator (docs/cm.md,
// "neurocore compile"). Flags become a ModelSource, a Hardware and report options; the flow
// (load, fold, map, isl analysis, timing, accuracy, report) is the library's:
// cm::compile, cm::evaluate_on_data and cm::write_compile_report.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "commands.h"
#include "hw_flags.h"
#include "neurocore/cm/compiled.h"
#include "neurocore/cm/torch/compile_report.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/strings.h"
#include "neurocore/core/threads.h"

namespace nc::cli {

namespace {

namespace fs = std::filesystem;

struct CompileArgs {
  std::string model, out;
  HwFlags hw;
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

// Validates every flag before any work; returns the emit kinds, deduplicated, in order.
std::vector<std::string> validate(const CompileArgs& a) {
  if (a.model.empty()) throw UserError("compile: give a MODEL (a run directory or an ONNX file)");
  if (!fs::exists(a.model)) cm::resolve_kind(cm::ModelSource(a.model));  // a zoo name, or the closest one named
  if (a.images < 1) throw UserError("--images must be at least 1, got " + std::to_string(a.images));
  if (a.eval_images < 1) throw UserError("--eval-images must be at least 1, got " + std::to_string(a.eval_images));
  validate_noise(a.programming_noise, a.read_noise, a.seed);
  if (!a.input_shape.empty()) parse_shape(a.input_shape);
  if (!a.eval.empty()) cm::check_eval_data(a.eval);
  std::vector<std::string> kinds;
  for (const auto& k : a.emit) {
    if (k.empty()) continue;
    if (std::find(cm::emit_kinds().begin(), cm::emit_kinds().end(), k) == cm::emit_kinds().end()) {
      throw UserError("--emit: unknown kind '" + k + "'; valid kinds: " + join(cm::emit_kinds()));
    }
    if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) kinds.push_back(k);
  }
  return kinds;
}

void run_compile(const CompileArgs& a, const Global& global) {
  cm::CompileReportOptions report;
  report.emit = validate(a);
  report.images = a.images;
  report.hw_path = a.hw.path;
  const cm::Hardware hw = a.hw.load();
  if (global.threads >= 0) set_threads(global.threads);
  cm::ModelSource source(a.model);
  if (!a.input_shape.empty()) {
    source.input_shape = parse_shape(a.input_shape);
  } else if (!a.eval.empty() && cm::resolve_kind(source) == cm::SourceKind::kTorchScript) {
    source.input_shape = cm::eval_data_shape(a.eval);  // only TorchScript needs it: no second data read
  }
  spdlog::info("importing {}", a.model);
  const cm::Compiled c = cm::compile(source, hw);
  for (const auto& n : c.notes) spdlog::info("import: {}", n);
  spdlog::info("mapped {} layers onto {} cores; dependency analysis: {} edges", c.mapping().layers.size(),
               c.mapping().total_cores, c.poly().edges().size());

  std::optional<cm::DataEval> eval;
  if (!a.eval.empty()) {
    cm::DataEvalOptions e;
    e.data = a.eval;
    e.sim_images = a.eval_images;
    e.ideal = a.ideal;
    e.analog = analog_options(a.ideal, a.programming_noise, a.read_noise, a.seed);
    eval = cm::evaluate_on_data(c, e);
    report.eval = &*eval;
  }
  const std::string stem = fs::path(a.model).stem().string();
  const std::string dir = create_fresh_dir(a.out.empty() ? "runs/compile-" + stem : a.out);
  const cm::CompileReport r = cm::write_compile_report(c, report, dir);
  spdlog::info("{} cores; first image {} cycles, {} images/s; report: {}", c.mapping().total_cores,
               r.timing.first_latency_cycles, format_num(r.timing.throughput_images_per_s), r.markdown_path);
  if (!r.overflows.empty()) throw UserError(r.overflow_message(hw) + " (report written to " + dir + ")");
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
                  "a run directory of `neurocore train` (mlp, lenet5, resnet) or `neurocore quantize`, "
                  "a TorchScript file (.pt, needs --input-shape or --eval), an ONNX file or a zoo model "
                  "(resnet20, resnet50, mobilenet_v2, ...; random weights)")
      ->required();
  args->hw.add_to(cmd);
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
  add_noise_flags(cmd, args->ideal, args->programming_noise, args->read_noise, args->seed);
  cmd->add_option("--out", args->out,
                  "output directory (default runs/compile-<model stem>; an existing one is kept "
                  "and -2, -3, ... appended)");
  cmd->callback([args, &global] { run_compile(*args, global); });
}

}  // namespace nc::cli
