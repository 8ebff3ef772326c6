// neurocore simulate: a compiled model on the simulated accelerator, fed the user's own inputs
// (docs/cm.md, "neurocore simulate"). Flags -> cm::compile -> the user's arrays split into
// samples (cm::split_samples) -> cm::simulate_samples -> outputs.npy and a top-k table.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <filesystem>

#include "commands.h"
#include "hw_flags.h"
#include "neurocore/cm/compiled.h"
#include "neurocore/cm/simulate.h"
#include "neurocore/cm/torch/torch_eval.h"
#include "neurocore/core/array_file.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/seed.h"
#include "neurocore/core/strings.h"
#include "neurocore/core/threads.h"
#include "neurocore/data/encoder.h"

namespace nc::cli {

namespace {

namespace fs = std::filesystem;

struct SimulateArgs {
  std::string model, out, input_shape, normalize = "auto";
  HwFlags hw;
  std::vector<std::string> inputs;
  bool ideal = false, compare = false;
  double programming_noise = 0.02, read_noise = 0.01;
  int64_t seed = 1, top = 5;
};

struct Sample {
  std::string file;
  int64_t index = 0;  // within its file
  std::vector<float> values;
};

bool is_image_file(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  return ext != ".npy";
}

void validate(const SimulateArgs& a) {
  if (!fs::exists(a.model)) {
    // A zoo name is fine; resolve_kind names the closest one otherwise.
    cm::resolve_kind(cm::ModelSource(a.model));
  }
  if (a.inputs.empty()) throw UserError("--input: give at least one input file (.npy, .png, .pgm or IDX)");
  for (const auto& f : a.inputs) {
    if (!fs::is_regular_file(f)) throw UserError("--input: no such file '" + f + "'");
  }
  if (a.top < 1) throw UserError("--top must be at least 1, got " + std::to_string(a.top));
  if (a.normalize != "auto" && a.normalize != "yes" && a.normalize != "no") {
    throw UserError("--normalize: expected auto, yes or no, got '" + a.normalize + "'");
  }
  validate_noise(a.programming_noise, a.read_noise, a.seed);
  if (!a.input_shape.empty()) parse_shape(a.input_shape);
}

// Every input file read and split before the simulation starts, so a bad file costs nothing.
std::vector<Sample> read_samples(const SimulateArgs& a, const cm::Compiled& c) {
  const auto graph_inputs = c.graph().inputs();
  if (graph_inputs.size() != 1) {
    throw UserError(a.model + ": the model has " + std::to_string(graph_inputs.size()) +
                    " inputs; simulate feeds models with exactly one");
  }
  const cm::Shape& input = c.graph().value(graph_inputs[0]).shape;
  std::vector<Sample> samples;
  for (const auto& f : a.inputs) {
    const FloatArray arr = read_array(f);
    auto split = cm::split_samples(input, arr.shape, arr.data, f);
    // Images are pixels in [0, 1]: a run directory's model expects its training
    // normalisation; a .npy array is taken as the model's input unless --normalize yes.
    const bool norm = a.normalize == "yes" || (a.normalize == "auto" && is_image_file(f));
    if (norm && c.input.from_run && !c.graph().temporal()) {
      for (auto& s : split) {
        for (auto& v : s) v = static_cast<float>((v - c.input.mean) / c.input.std);
      }
    }
    for (std::size_t i = 0; i < split.size(); ++i) {
      samples.push_back({f, static_cast<int64_t>(i), std::move(split[i])});
    }
  }
  return samples;
}

// A temporal graph's T frames per sample: the run's encoder (rate coding by default).
torch::Tensor frames_of(const cm::Compiled& c, const torch::Tensor& x, uint64_t seed) {
  if (!c.graph().temporal()) return x;
  data::EncoderOptions e;
  if (!c.input.coding.empty()) e.coding = c.input.coding;
  if (c.input.from_run) e.gain = c.input.gain;
  e.steps = c.graph().time_steps();
  return data::encode(x, e, make_generator(seed, "simulate-encode"));  // [T, N, ...]
}

void run_simulate(const SimulateArgs& a, const Global& global) {
  validate(a);
  const cm::Hardware hw = a.hw.load();
  if (global.threads >= 0) set_threads(global.threads);
  cm::ModelSource source(a.model);
  if (!a.input_shape.empty()) source.input_shape = parse_shape(a.input_shape);
  const cm::Compiled c = cm::compile(source, hw);
  for (const auto& n : c.notes) spdlog::info("import: {}", n);
  const std::vector<Sample> samples = read_samples(a, c);
  const cm::Shape& input = c.graph().value(c.graph().inputs()[0]).shape;
  std::vector<int64_t> batch_shape{static_cast<int64_t>(samples.size())};
  batch_shape.insert(batch_shape.end(), input.begin(), input.end());
  torch::Tensor x = torch::empty(batch_shape);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    std::copy(samples[i].values.begin(), samples[i].values.end(),
              x[static_cast<int64_t>(i)].data_ptr<float>());
  }
  const torch::Tensor frames = frames_of(c, x, static_cast<uint64_t>(a.seed));
  // The simulator takes each sample's frames in order: [T, N, ...] -> N x T frames.
  const torch::Tensor ordered = c.graph().temporal() ? frames.transpose(0, 1).contiguous() : frames.contiguous();
  const int64_t per_frame = cm::numel(input);
  std::vector<std::vector<float>> feed(static_cast<std::size_t>(ordered.numel() / per_frame));
  const float* p = ordered.data_ptr<float>();
  for (std::size_t i = 0; i < feed.size(); ++i) feed[i].assign(p + i * per_frame, p + (i + 1) * per_frame);

  spdlog::info("simulating {} sample(s) on {} cores ({})", samples.size(), c.mapping().total_cores,
               a.ideal ? "ideal" : "with non-idealities");
  const cm::AnalogOptions analog = analog_options(a.ideal, a.programming_noise, a.read_noise, a.seed);
  const std::vector<std::vector<float>> outputs = cm::simulate_samples(c, feed, analog);

  std::vector<double> diffs;
  if (a.compare) {
    torch::NoGradGuard no_grad;
    torch::Tensor ref = cm::evaluate_with_torch(c.graph(), frames)[0];
    if (c.graph().temporal()) ref = ref.sum(0);
    ref = ref.reshape({static_cast<int64_t>(samples.size()), -1}).contiguous();
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const float* r = ref[static_cast<int64_t>(i)].data_ptr<float>();
      diffs.push_back(cm::max_relative_error(outputs[i], std::vector<float>(r, r + ref.size(1))));
    }
  }

  const std::string stem = fs::path(a.model).stem().string();
  const std::string dir = create_fresh_dir(a.out.empty() ? "runs/simulate-" + stem : a.out);
  FloatArray out;
  out.shape = {static_cast<int64_t>(outputs.size()), static_cast<int64_t>(outputs.empty() ? 0 : outputs[0].size())};
  for (const auto& o : outputs) out.data.insert(out.data.end(), o.begin(), o.end());
  write_npy((fs::path(dir) / "outputs.npy").string(), out);

  std::string table = "| input | sample | top classes (index: output) |" + std::string(a.compare ? " max rel. diff vs float |" : "") +
                      "\n|---|---|---|" + (a.compare ? "---|" : "") + "\n";
  for (std::size_t i = 0; i < samples.size(); ++i) {
    std::vector<std::string> top;
    for (const auto& t : cm::top_k(outputs[i], a.top)) top.push_back(fmt::format("{}: {:.4g}", t.index, t.value));
    table += fmt::format("| {} | {} | {} |", fs::path(samples[i].file).filename().string(), samples[i].index, join(top));
    if (a.compare) table += fmt::format(" {:.3g} |", diffs[i]);
    table += "\n";
  }
  std::string md = fmt::format("# neurocore simulate: {}\n\n- model: `{}` ({}), {} cores\n- hardware: `{}` ({})\n"
                               "- non-idealities: {}\n- outputs: [outputs.npy](outputs.npy), shape [{}, {}]\n\n{}",
                               stem, a.model, cm::source_kind_name(c.kind), c.mapping().total_cores, a.hw.path, hw.name,
                               a.ideal ? "none (--ideal)"
                                       : fmt::format("DAC/ADC {}/{} bits, programming noise {}, read noise {}, seed {}",
                                                     hw.dac_bits, hw.adc_bits, a.programming_noise, a.read_noise, a.seed),
                               out.shape[0], out.shape[1], table);
  if (a.compare) {
    const double worst = *std::max_element(diffs.begin(), diffs.end());
    md += fmt::format("\nMaximum relative difference to the float model (LibTorch): {:.3g}\n", worst);
    std::printf("max relative difference to the float model: %.3g\n", worst);
  }
  write_file_atomic((fs::path(dir) / "report.md").string(), md);
  std::printf("%s", table.c_str());
  spdlog::info("wrote {}/outputs.npy and report.md", dir);
}

}  // namespace

void add_simulate(CLI::App& app, const Global& global) {
  auto args = std::make_shared<SimulateArgs>();
  auto* cmd = app.add_subcommand(
      "simulate",
      "Run a model on the simulated accelerator (functional simulator) with your own inputs: "
      ".npy arrays, PNG/PGM images or IDX files, each one sample or [N, ...] samples. Writes "
      "outputs.npy and a table of the top classes (docs/cm.md).\n\nExamples:\n"
      "  neurocore simulate runs/lenet5-fashion --hw configs/hw/default.yaml --input shirt.png\n"
      "  neurocore simulate model.onnx --hw configs/hw/default.yaml --input batch.npy --compare\n"
      "  neurocore simulate model.onnx --hw configs/hw/default.yaml --input x.npy --ideal\n"
      "  neurocore simulate resnet18 --hw configs/hw/imagenet.yaml --input img.npy --hw-set cores=unlimited");
  cmd->add_option("MODEL", args->model,
                  "a run directory, an ONNX or TorchScript file (with --input-shape) or a zoo model")
      ->required();
  args->hw.add_to(cmd);
  cmd->add_option("--input", args->inputs, "input files (.npy, .png, .pgm/.ppm, IDX[.gz]); repeatable")
      ->required();
  cmd->add_option("--input-shape", args->input_shape, "one sample's shape C,H,W or F (TorchScript files)");
  cmd->add_option("--normalize", args->normalize,
                  "apply a run directory's input normalisation: auto (images yes, .npy no), yes, no");
  add_noise_flags(cmd, args->ideal, args->programming_noise, args->read_noise, args->seed);
  cmd->add_flag("--compare", args->compare,
                "also run the float model (LibTorch) and print the maximum relative difference");
  cmd->add_option("--top", args->top, "classes listed per sample");
  cmd->add_option("--out", args->out,
                  "output directory (default runs/simulate-<model stem>; an existing one is kept and -2, ... appended)");
  cmd->callback([args, &global] { run_simulate(*args, global); });
}

}  // namespace nc::cli
