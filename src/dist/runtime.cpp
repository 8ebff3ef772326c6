#include "neurocore/dist/runtime.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <unistd.h>

#include "neurocore/core/io.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/learn/checkpoint.h"
#include "neurocore/learn/trainer.h"

namespace nc::dist {

Runtime::Runtime(Group& group, torch::nn::Module& model, int64_t bucket_bytes)
    : group_(group), sync_(group, model.parameters(), bucket_bytes) {}

Runtime::Runtime(Group& group, std::vector<torch::Tensor> params, int64_t bucket_bytes)
    : group_(group), sync_(group, std::move(params), bucket_bytes, true) {}

void Runtime::start_batch(torch::nn::Module& model, int64_t local, int64_t global) {
  auto buffers = model.buffers();
  if (!buffers.empty()) {
    torch::NoGradGuard no_grad;
    group_.broadcast(buffers, 0, "buffer broadcast");
  }
  sync_.set_weight(global > 0 ? static_cast<double>(local) / global : 0.0);
}

void Runtime::sum(std::vector<double>& values) {
  if (values.empty()) return;
  auto t = torch::tensor(values, torch::kDouble);
  group_.allreduce(t, "metric sum");
  std::copy(t.data_ptr<double>(), t.data_ptr<double>() + t.numel(), values.begin());
}

std::vector<std::pair<std::string, double>> Runtime::epoch_metrics() {
  const double alone_s = sync_.time_bare_allreduce();
  const auto s = sync_.stats();
  sync_.reset_stats();
  const double steps = std::max<int64_t>(s.steps, 1);
  const double exposed_s = s.exposed_s / steps;
  const double hidden = alone_s > 0 ? std::clamp(1.0 - exposed_s / alone_s, 0.0, 1.0) : 0.0;
  return {{"dist_bytes_per_step", s.bytes / steps},
          {"dist_allreduce_ms", 1e3 * alone_s},
          {"dist_exposed_ms", 1e3 * exposed_s},
          {"dist_hidden_fraction", hidden},
          {"dist_overlapped_buckets",
           s.buckets_total ? static_cast<double>(s.buckets_overlapped) / s.buckets_total : 0.0}};
}

void Runtime::broadcast_model(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  auto tensors = model.parameters();
  for (auto& b : model.buffers()) tensors.push_back(b);
  group_.broadcast(tensors, 0, "initial parameter broadcast");
}

namespace {

namespace fs = std::filesystem;

std::string as_string(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }
std::vector<uint8_t> as_bytes(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace

void share_checkpoint(Group& group, const RunDir& run, bool resume) {
  auto& store = group.store();
  const fs::path dir = run.checkpoints();
  if (group.rank() == 0) {
    const std::string path = resume ? learn::last_checkpoint(dir.string()) : "";
    store.set("nc/resume/bytes", path.empty() ? std::vector<uint8_t>{} : as_bytes(read_file(path)));
    store.set("nc/resume/index", path.empty() ? std::vector<uint8_t>{} : as_bytes(read_file((dir / "last.json").string())));
    store.set("nc/resume/name", as_bytes(path.empty() ? "" : fs::path(path).filename().string()));
    return;
  }
  const std::string name = as_string(store.get("nc/resume/name"));
  if (name.empty()) return;
  fs::create_directories(dir);
  write_file_atomic((dir / name).string(), as_string(store.get("nc/resume/bytes")));
  write_file_atomic((dir / "last.json").string(), as_string(store.get("nc/resume/index")));
}

RankRun::RankRun(Group& group, const std::string& runs_dir, const std::string& name,
                 const std::string& resume, const std::string& config_yaml) {
  if (group.rank() == 0) {
    run_ = std::make_unique<RunDir>(resume.empty() ? RunDir::create(runs_dir, name) : RunDir::open(resume));
    write_file_atomic(run_->file("config.yaml"), config_yaml);
    path_ = run_->path();
    group.store().set("nc/run_dir", as_bytes(path_));
    spdlog::info("run directory: {} ({} ranks)", path_, group.size());
    return;
  }
  path_ = as_string(group.store().get("nc/run_dir"));
  scratch_ = (fs::temp_directory_path() /
              fmt::format("neurocore-rank{}-{}", group.rank(), static_cast<long>(getpid())))
                 .string();
  fs::remove_all(scratch_);
  run_ = std::make_unique<RunDir>(RunDir::create(scratch_, "run"));
}

RankRun::~RankRun() {
  std::error_code ec;
  if (!scratch_.empty()) fs::remove_all(scratch_, ec);
}

std::string train(learn::Experiment& exp, Group& group, const std::string& resume, int64_t bucket_bytes) {
  RankRun rank_run(group, exp.runs_dir, exp.name, resume, exp.effective_yaml);
  RunDir& run = rank_run.run();
  share_checkpoint(group, run, !resume.empty());
  Runtime runtime(group, *exp.model, bucket_bytes);
  learn::Trainer trainer(exp, run, &runtime);
  if (!resume.empty()) trainer.resume();
  runtime.broadcast_model(*exp.model);
  if (trainer.epochs_done() >= exp.train.epochs && group.rank() == 0) {
    spdlog::info("all {} epochs already done; raise train.epochs with --set to train more",
                 exp.train.epochs);
  }
  trainer.fit();
  group.barrier("end of training");
  return rank_run.path();
}

}  // namespace nc::dist
