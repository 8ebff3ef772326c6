// neurocore quantize: PTQ, EfQAT or full QAT of a trained run (docs/quant.md).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <filesystem>

#include "commands.h"
#include "dist_flags.h"
#include "load_config.h"
#include "neurocore/compress/quantize_stage.h"
#include "neurocore/compress/torchscript_export.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/report.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/dist/runtime.h"
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
  bool bias_correction = false, freeze_quant = false, freeze_bias = false, dry_run = false;
  std::vector<std::string> sets;
  DistArgs dist;
};

void quantize_into(RunDir& run, const QuantizeArgs& a, learn::Experiment& exp, const RunDir& src,
                   const std::string& ckpt, const QuantConfig& qc, SelectMode mode,
                   const std::string& tag, const decltype(QuantizeOptions::parallel)& parallel);

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
  std::string tag = a.method + "-" + to_string(qc.bits);
  if (a.method == "efqat") tag += fmt::format("-{}-{:g}", a.mode, a.fraction);
  const fs::path out = a.out.empty() ? fs::path(exp.runs_dir) / (fs::path(src.path()).filename().string() + "-" + tag)
                                     : fs::path(a.out);
  if (exp.model->temporal()) {  // before the run directory is created
    throw UserError("quantize: " + exp.model_name +
                    " is a temporal (spiking) model; quantize supports mlp, lenet5 and resnet*");
  }
  if (a.dry_run) return;  // validated: what `neurocore sweep` checks before its runs
  const std::string parent = out.parent_path().empty() ? "." : out.parent_path().string();
  if (a.dist.nproc > 0) return launch_workers(a.dist, g);
  if (dist::launched_as_worker()) {
    // Every rank calibrates the same model identically; only the fine-tuning is shared. The
    // other ranks write into a scratch run directory (dist::RankRun).
    return as_worker(a.dist, g, [&](dist::Group& group, const dist::World& world) {
      share_cores(world);
      dist::RankRun run(group, parent, out.filename().string(), "", exp.effective_yaml);
      quantize_into(run.run(), a, exp, src, ckpt, qc, mode, tag, [&](std::vector<torch::Tensor> params) {
        return std::make_unique<dist::Runtime>(group, std::move(params), a.dist.bucket_bytes());
      });
      group.barrier("end of quantization");
    });
  }
  RunDir run = RunDir::create(parent, out.filename().string());
  write_file_atomic(run.file("config.yaml"), exp.effective_yaml);
  spdlog::info("run directory: {}", run.path());
  quantize_into(run, a, exp, src, ckpt, qc, mode, tag, {});
}

void quantize_into(RunDir& run, const QuantizeArgs& a, learn::Experiment& exp, const RunDir& src,
                   const std::string& ckpt, const QuantConfig& qc, SelectMode mode,
                   const std::string& tag, const decltype(QuantizeOptions::parallel)& parallel) {
  QuantizeOptions o;
  o.parallel = parallel;
  o.method = a.method;
  o.config = qc;
  o.calib = a.calib;
  o.bias_correction = a.bias_correction;
  o.qat.epochs = a.epochs;
  o.qat.max_steps = a.max_steps;
  o.qat.batch_size = a.batch > 0 ? a.batch : exp.train.batch_size;
  o.qat.learning_rate = a.lr > 0 ? a.lr : exp.train.learning_rate / 10;
  o.qat.momentum = exp.train.momentum;
  o.qat.seed = exp.seed;
  o.qat.efqat_options.mode = mode;
  o.qat.efqat_options.rho = a.fraction;
  o.qat.efqat_options.reselect_every = a.reselect;
  o.qat.efqat_options.train_quant_params = !a.freeze_quant;
  o.qat.efqat_options.train_biases = !a.freeze_bias;
  QuantizeResult q = quantize_experiment(exp, o);

  run.log_metrics({{"kind", "quantize"}, {"stage", "fp32"}, {"acc", q.fp32.accuracy}, {"loss", q.fp32.loss}});
  fmt::print("FP32: test accuracy {:.2f}%\n", q.fp32.accuracy);
  run.log_metrics({{"kind", "quantize"}, {"stage", "ptq"}, {"acc", q.ptq.accuracy}, {"loss", q.ptq.loss}});
  fmt::print("PTQ {}: test accuracy {:.2f}%\n", to_string(qc.bits), q.ptq.accuracy);
  std::vector<std::string> summary{
      fmt::format("source run: `{}` (checkpoint `{}`), model {}", src.path(), ckpt, exp.model_name),
      fmt::format("method {}, bits {} (first layer {} bit, last layer {} bit), weight range {}, "
                  "activation range {}, {} calibration images, bias correction {}",
                  a.method, to_string(qc.bits), a.first_bits, a.last_bits, a.weight_range,
                  a.act_range, q.calibration_images, a.bias_correction ? "on" : "off"),
      fmt::format("FP32 test accuracy {:.2f}%", q.fp32.accuracy),
      fmt::format("PTQ test accuracy {:.2f}%", q.ptq.accuracy)};
  if (q.fine_tuned) {
    const QatStats& st = q.stats;
    const double mac_share = st.full_backward_macs ? static_cast<double>(st.backward_macs) / st.full_backward_macs : 0.0;
    run.log_metrics({{"kind", "quantize"},
                     {"stage", a.method},
                     {"acc", q.final.accuracy},
                     {"loss", q.final.loss},
                     {"steps", st.steps},
                     {"train_loss", st.mean_loss},
                     {"backward_seconds", st.backward_seconds},
                     {"backward_macs", st.backward_macs},
                     {"full_backward_macs", st.full_backward_macs}});
    fmt::print("{} ({} steps, lr {:g}): test accuracy {:.2f}%; backward GEMM MACs {:.3f} of full QAT\n",
               a.method, st.steps, o.qat.learning_rate, q.final.accuracy, mac_share);
    summary.push_back(fmt::format(
        "{}{}: {} steps, batch {}, SGD lr {:g} momentum {:g}; test accuracy {:.2f}%; backward "
        "GEMM MACs {} ({:.3f} of full QAT's {}); backward time {:.2f} s",
        a.method,
        a.method == "efqat" ? fmt::format(" (mode {}, rho {:g}, reselect every {} steps)", a.mode,
                                          a.fraction, a.reselect)
                            : "",
        st.steps, o.qat.batch_size, o.qat.learning_rate, o.qat.momentum, q.final.accuracy, st.backward_macs,
        mac_share, st.full_backward_macs, st.backward_seconds));
  }
  // The final model's metrics under the names every command uses, for `neurocore sweep`.
  nlohmann::json last = {{"kind", "quantize"}, {"stage", "final"}, {"test_acc", q.final.accuracy},
                         {"test_loss", q.final.loss}};
  if (q.valid) {
    last["valid_acc"] = q.valid->accuracy;
    last["valid_loss"] = q.valid->loss;
    fmt::print("final: validation accuracy {:.2f}%\n", q.valid->accuracy);
    summary.push_back(fmt::format("validation accuracy at the end {:.2f}%", q.valid->accuracy));
  }
  run.log_metrics(last);
  // The integer model: what `neurocore compile` of this run directory maps onto the crossbars.
  save_quantized(q, run.path());
  summary.push_back("fake-quant model state (QuantNet parameters and buffers): `quantized.pt`");
  summary.push_back(fmt::format("integer model (int8/int4 codes, scales, zero points; "
                                "docs/quant.md): `{}` ({} bytes)",
                                kIntModelFile, fs::file_size(run.file(kIntModelFile))));
  save_torchscript(*q.net, run.file("quantized_torchscript.pt"));
  summary.push_back("the fake-quant model as TorchScript (torch.jit.load): `quantized_torchscript.pt`");
  write_run_report(run, "quantize " + tag, summary);
  write_file_atomic(run.file("report.md"),
                    read_file(run.file("report.md")) + "\n## Quantized layers\n\n" + q.net->summary());
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
  add_dist_options(cmd, a->dist);
  cmd->add_flag("--dry-run", a->dry_run,
               "validate the arguments, the run and its config, then exit without quantizing or "
               "writing anything");
  cmd->callback([a, &global] { run_quantize(*a, global); });
}

}  // namespace nc::cli
