// neurocore quantize: PTQ, EfQAT or full QAT of a trained run (docs/quant.md).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <filesystem>

#include "commands.h"
#include "load_config.h"
#include "neurocore/compress/efqat.h"
#include "neurocore/compress/int_export.h"
#include "neurocore/compress/torchscript_export.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/report.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/learn/checkpoint.h"
#include "neurocore/learn/experiment.h"

namespace nc::cli {

namespace {

namespace fs = std::filesystem;
using namespace nc::compress;

struct QuantizeArgs {
  std::string run_dir, method = "efqat", bits = "W4A4", mode = "cwpn", out;
  std::string weight_range = "mse", act_range = "mse";
  double fraction = 0.1, lr = -1;
  int64_t epochs = 1, calib = 1024, reselect = 4096, batch = -1, max_steps = -1;
  int first_bits = 8, last_bits = 8;
  bool bias_correction = false, freeze_quant = false, freeze_bias = false;
  std::vector<std::string> sets;
};

struct Accuracy {
  double acc = 0, loss = 0;
};

Accuracy evaluate(nn::NetImpl& net, const torch::Tensor& images, const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  net.eval();
  Accuracy r;
  const int64_t n = images.size(0);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; i += 1000) {
    const int64_t end = std::min(n, i + 1000);
    const auto out = net.forward(images.slice(0, i, end));
    const auto y = labels.slice(0, i, end);
    r.loss += torch::cross_entropy_loss(out, y).item<double>() * static_cast<double>(end - i);
    correct += out.argmax(1).eq(y).sum().item<int64_t>();
  }
  r.loss /= static_cast<double>(std::max<int64_t>(1, n));
  r.acc = 100.0 * static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(1, n));
  return r;
}

void run_quantize(const QuantizeArgs& a, const Global& g) {
  // Every argument is checked before the data and model are loaded.
  if (a.method != "ptq" && a.method != "efqat" && a.method != "qat") {
    throw UserError("--method: expected ptq, efqat or qat, got '" + a.method + "'");
  }
  QuantConfig qc;
  qc.bits = parse_bits(a.bits, "--bits");
  qc.first_bits = a.first_bits;
  qc.last_bits = a.last_bits;
  check_bits(a.first_bits, "--first-bits");
  check_bits(a.last_bits, "--last-bits");
  qc.weight_range = parse_range_method(a.weight_range, "--weight-range");
  qc.act_range = parse_range_method(a.act_range, "--act-range");
  const SelectMode mode = parse_select_mode(a.mode, "--mode");
  if (!(a.fraction >= 0 && a.fraction <= 1)) {
    throw UserError(fmt::format("--fraction: expected a value in [0, 1], got {}", a.fraction));
  }
  if (a.calib < 1) throw UserError(fmt::format("--calib: expected >= 1, got {}", a.calib));
  if (a.epochs < 0) throw UserError(fmt::format("--epochs: expected >= 0, got {}", a.epochs));

  RunDir src = RunDir::open(a.run_dir);
  Config config = load_config(src.file("config.yaml"), a.sets, g);
  learn::Experiment exp = learn::Experiment::build(config);
  const std::string ckpt = learn::last_checkpoint(src.checkpoints());
  if (ckpt.empty()) throw UserError(src.path() + ": no checkpoint yet (train at least one epoch)");
  learn::load_checkpoint(ckpt, *exp.model, nullptr);
  if (exp.model->temporal()) {
    throw UserError("quantize: " + exp.model_name +
                    " is a temporal (spiking) model; quantize supports mlp, lenet5 and resnet*");
  }

  auto norm = [&](const torch::Tensor& x) { return (x - exp.norm.mean) / exp.norm.std; };
  const auto train_x = norm(exp.train_set.images), test_x = norm(exp.test_set.images);
  const auto &train_y = exp.train_set.labels, &test_y = exp.test_set.labels;

  std::string tag = a.method + "-" + to_string(qc.bits);
  if (a.method == "efqat") tag += fmt::format("-{}-{:g}", a.mode, a.fraction);
  const fs::path out = a.out.empty() ? fs::path(exp.runs_dir) / (fs::path(src.path()).filename().string() + "-" + tag)
                                     : fs::path(a.out);
  RunDir run = RunDir::create(out.parent_path().empty() ? "." : out.parent_path().string(),
                              out.filename().string());
  write_file_atomic(run.file("config.yaml"), exp.effective_yaml);
  spdlog::info("run directory: {}", run.path());

  const Accuracy fp32 = evaluate(*exp.model, test_x, test_y);
  run.log_metrics({{"kind", "quantize"}, {"stage", "fp32"}, {"acc", fp32.acc}, {"loss", fp32.loss}});
  fmt::print("FP32: test accuracy {:.2f}%\n", fp32.acc);

  QuantNet q(exp.model, qc);
  const int64_t calib = std::min(a.calib, train_x.size(0));
  std::vector<torch::Tensor> batches;
  for (int64_t i = 0; i < calib; i += 256) batches.push_back(train_x.slice(0, i, std::min(calib, i + 256)));
  q->calibrate(batches, a.bias_correction);
  const Accuracy ptq = evaluate(*q, test_x, test_y);
  run.log_metrics({{"kind", "quantize"}, {"stage", "ptq"}, {"acc", ptq.acc}, {"loss", ptq.loss}});
  fmt::print("PTQ {}: test accuracy {:.2f}%\n", to_string(qc.bits), ptq.acc);

  std::vector<std::string> summary{
      fmt::format("source run: `{}` (checkpoint `{}`), model {}", src.path(), ckpt, exp.model_name),
      fmt::format("method {}, bits {} (first layer {} bit, last layer {} bit), weight range {}, "
                  "activation range {}, {} calibration images, bias correction {}",
                  a.method, to_string(qc.bits), a.first_bits, a.last_bits, a.weight_range,
                  a.act_range, calib, a.bias_correction ? "on" : "off"),
      fmt::format("FP32 test accuracy {:.2f}%", fp32.acc),
      fmt::format("PTQ test accuracy {:.2f}%", ptq.acc)};
  Accuracy final_acc = ptq;
  if (a.method != "ptq") {
    QatOptions o;
    o.epochs = a.epochs;
    o.max_steps = a.max_steps;
    o.batch_size = a.batch > 0 ? a.batch : exp.train.batch_size;
    o.learning_rate = a.lr > 0 ? a.lr : exp.train.learning_rate / 10;
    o.momentum = exp.train.momentum;
    o.seed = exp.seed;
    o.efqat = a.method == "efqat";
    o.efqat_options.mode = mode;
    o.efqat_options.rho = a.fraction;
    o.efqat_options.reselect_every = a.reselect;
    o.efqat_options.train_quant_params = !a.freeze_quant;
    o.efqat_options.train_biases = !a.freeze_bias;
    const QatStats st = train_quantized(*q, train_x, train_y, o);
    final_acc = evaluate(*q, test_x, test_y);
    run.log_metrics({{"kind", "quantize"},
                     {"stage", a.method},
                     {"acc", final_acc.acc},
                     {"loss", final_acc.loss},
                     {"steps", st.steps},
                     {"train_loss", st.mean_loss},
                     {"backward_seconds", st.backward_seconds},
                     {"backward_macs", st.backward_macs},
                     {"full_backward_macs", st.full_backward_macs}});
    fmt::print("{} ({} steps, lr {:g}): test accuracy {:.2f}%; backward GEMM MACs {:.3f} of full QAT\n",
               a.method, st.steps, o.learning_rate, final_acc.acc,
               st.full_backward_macs ? static_cast<double>(st.backward_macs) / st.full_backward_macs : 0.0);
    summary.push_back(fmt::format(
        "{}{}: {} steps, batch {}, SGD lr {:g} momentum {:g}; test accuracy {:.2f}%; backward "
        "GEMM MACs {} ({:.3f} of full QAT's {}); backward time {:.2f} s",
        a.method,
        a.method == "efqat" ? fmt::format(" (mode {}, rho {:g}, reselect every {} steps)", a.mode,
                                          a.fraction, a.reselect)
                            : "",
        st.steps, o.batch_size, o.learning_rate, o.momentum, final_acc.acc, st.backward_macs,
        st.full_backward_macs ? static_cast<double>(st.backward_macs) / st.full_backward_macs : 0.0,
        st.full_backward_macs, st.backward_seconds));
  }
  write_atomic_with(run.file("quantized.pt"), [&](const std::string& tmp) { torch::save(q, tmp); });
  summary.push_back("fake-quant model state (QuantNet parameters and buffers): `quantized.pt`");
  // The integer model: what `neurocore compile` of this run directory maps onto the crossbars.
  const IntModel int_model = export_int_model(*q, exp.model_name);
  save_int_model(run.file(kIntModelFile), int_model);
  summary.push_back(fmt::format("integer model (int8/int4 codes, scales, zero points; "
                                "docs/quant.md): `{}` ({} bytes)",
                                kIntModelFile, fs::file_size(run.file(kIntModelFile))));
  save_torchscript(*q, run.file("quantized_torchscript.pt"));
  summary.push_back("the fake-quant model as TorchScript (torch.jit.load): `quantized_torchscript.pt`");
  write_run_report(run, "quantize " + tag, summary);
  write_file_atomic(run.file("report.md"),
                    read_file(run.file("report.md")) + "\n## Quantized layers\n\n" + q->summary());
  fmt::print("report: {}\n", run.file("report.md"));
}

}  // namespace

void add_quantize(CLI::App& app, const Global& global) {
  auto a = std::make_shared<QuantizeArgs>();
  auto* cmd = app.add_subcommand(
      "quantize",
      "Quantize a trained run: PTQ (calibration only), EfQAT (PTQ, then train only the most "
      "important channels or layers) or full QAT; writes a run directory with report.md.\n\n"
      "Examples:\n  neurocore quantize runs/mlp-mnist10k --method ptq --bits W8A8\n"
      "  neurocore quantize runs/r20 --method efqat --bits W4A4 --mode cwpn --fraction 0.1\n"
      "  neurocore quantize runs/r20 --method qat --bits W4A4 --epochs 1");
  cmd->add_option("RUN_DIR", a->run_dir, "a run directory written by `neurocore train`")
      ->required();
  cmd->add_option("--method", a->method, "ptq, efqat or qat (default efqat)");
  cmd->add_option("--bits", a->bits, "W<b>A<b>, 2..8 bits each (default W4A4)");
  cmd->add_option("--mode", a->mode, "efqat selection: cwpn, cwpl or lwpn (default cwpn)");
  cmd->add_option("--fraction", a->fraction, "efqat unfrozen fraction rho in [0, 1] (default 0.1)");
  cmd->add_option("--epochs", a->epochs, "efqat/qat epochs (default 1)");
  cmd->add_option("--max-steps", a->max_steps, "stop efqat/qat after this many steps");
  cmd->add_option("--calib", a->calib, "calibration images from the train split (default 1024)");
  cmd->add_option("--out", a->out, "output run directory (default <runs_dir>/<run>-<method>-<bits>...)");
  cmd->add_option("--lr", a->lr, "efqat/qat SGD learning rate (default train.learning_rate / 10)");
  cmd->add_option("--batch", a->batch, "efqat/qat batch size (default train.batch_size)");
  cmd->add_option("--reselect", a->reselect, "efqat: steps between selections (default 4096)");
  cmd->add_option("--first-bits", a->first_bits, "bits of the first layer (default 8)");
  cmd->add_option("--last-bits", a->last_bits, "bits of the last layer (default 8)");
  cmd->add_option("--weight-range", a->weight_range, "minmax, percentile or mse (default mse)");
  cmd->add_option("--act-range", a->act_range, "minmax, percentile or mse (default mse)");
  cmd->add_flag("--bias-correction", a->bias_correction, "PTQ bias correction");
  cmd->add_flag("--freeze-quant", a->freeze_quant, "efqat: freeze the quantizer scales too");
  cmd->add_flag("--freeze-bias", a->freeze_bias, "efqat: freeze the biases too");
  cmd->add_option("--set", a->sets, "override a value of the run's config (e.g. data.limit_train=512)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->callback([a, &global] { run_quantize(*a, global); });
}

}  // namespace nc::cli
