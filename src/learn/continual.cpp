#include "neurocore/learn/continual.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "neurocore/core/io.h"
#include "neurocore/core/plot.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/core/seed.h"
#include "neurocore/learn/trainer.h"

namespace nc::learn {

ContinualOptions continual_options(ConfigSection section) {
  ContinualOptions o;
  o.tasks = section.integer("tasks", o.tasks, 1, 100);
  o.permutation_seed = static_cast<uint64_t>(section.integer("permutation_seed", 0, 0));
  o.identity_first = section.boolean("identity_first", o.identity_first);
  section.finish();
  return o;
}

torch::Tensor task_permutation(int64_t pixels, const ContinualOptions& options, int64_t task) {
  if (task == 0 && options.identity_first) return torch::arange(pixels, torch::kLong);
  auto gen = make_generator(options.permutation_seed, "pixel-permutation",
                            static_cast<uint64_t>(task));
  return torch::randperm(pixels, gen, torch::kLong);
}

data::Dataset permute_pixels(const data::Dataset& d, const torch::Tensor& perm) {
  data::Dataset out = d;
  const auto flat = d.images.flatten(1);
  TORCH_CHECK(perm.numel() == flat.size(1), "permute_pixels: permutation of ", perm.numel(),
              " positions for images of ", flat.size(1), " pixels");
  out.images = flat.index_select(1, perm).view_as(d.images).contiguous();
  return out;
}

namespace {

std::string report_markdown(const std::string& name, const ContinualOptions& o,
                            const ContinualResult& r, bool plotted) {
  std::ostringstream s;
  s << "# Continual learning: " << name << "\n\n"
    << "- " << o.tasks << " permuted-pixel tasks (permutation seed " << o.permutation_seed
    << (o.identity_first ? ", task 1 unpermuted" : "") << "), trained in sequence; each "
    << "task's training run is in `task-<k>/`.\n"
    << "- Cell (k, j): test accuracy (%) on task j after training on tasks 1..k.\n\n"
    << "| after task |";
  for (int64_t j = 0; j < o.tasks; ++j) s << " task " << j + 1 << " |";
  s << " average over seen tasks |\n|---|";
  for (int64_t j = 0; j <= o.tasks; ++j) s << "---|";
  s << "\n";
  for (std::size_t k = 0; k < r.accuracy.size(); ++k) {
    s << "| " << k + 1 << " |";
    for (double a : r.accuracy[k]) s << fmt::format(" {:.2f} |", a);
    s << fmt::format(" {:.2f} |\n", r.average_seen[k]);
  }
  if (plotted) s << "\n![accuracy per task](continual.svg)\n";
  return s.str();
}

bool plot_result(const std::string& base, const ContinualResult& r) {
  PlotSpec spec{"accuracy on each task as tasks are learnt", "tasks learnt", "test accuracy (%)",
                {}, false};
  const std::size_t n = r.accuracy.size();
  for (std::size_t j = 0; j < n; ++j) {
    Series s{fmt::format("task {}", j + 1), {}, {}};
    for (std::size_t k = j; k < n; ++k) {
      s.x.push_back(static_cast<double>(k + 1));
      s.y.push_back(r.accuracy[k][j]);
    }
    spec.series.push_back(std::move(s));
  }
  Series avg{"average over seen tasks", {}, {}};
  for (std::size_t k = 0; k < n; ++k) {
    avg.x.push_back(static_cast<double>(k + 1));
    avg.y.push_back(r.average_seen[k]);
  }
  spec.series.push_back(std::move(avg));
  return plot_lines(base, spec);
}

}  // namespace

ContinualResult run_continual(Experiment& exp, const ContinualOptions& options, RunDir& run,
                              DataParallel* parallel) {
  const bool writer = !parallel || parallel->writer();
  const data::Dataset train = exp.train_set, test = exp.test_set, valid = exp.valid_set;
  const bool validation = valid.size() > 0;
  const int64_t pixels = train.images.flatten(1).size(1);
  std::vector<torch::Tensor> perms;
  std::vector<data::Dataset> tests, valids;
  for (int64_t k = 0; k < options.tasks; ++k) {
    perms.push_back(task_permutation(pixels, options, k));
    tests.push_back(permute_pixels(test, perms.back()));
    if (validation) valids.push_back(permute_pixels(valid, perms.back()));
  }

  ContinualResult r;
  for (int64_t k = 0; k < options.tasks; ++k) {
    spdlog::info("task {}/{}", k + 1, options.tasks);
    exp.train_set = permute_pixels(train, perms[k]);
    exp.test_set = tests[k];
    if (validation) exp.valid_set = valids[k];
    RunDir task_run = RunDir::create(run.path(), fmt::format("task-{}", k + 1));
    if (writer) write_file_atomic(task_run.file("config.yaml"), exp.effective_yaml);
    Trainer trainer(exp, task_run, parallel);  // a fresh optimizer: naive fine-tuning
    trainer.fit();
    std::vector<double> row;
    double seen = 0;
    for (int64_t j = 0; j < options.tasks; ++j) {
      row.push_back(trainer.evaluate(tests[j]).accuracy);
      if (j <= k) seen += row.back();
    }
    r.accuracy.push_back(row);
    r.average_seen.push_back(seen / static_cast<double>(k + 1));
    // One record per task in the run's own metrics.jsonl: what a sweep summarises and
    // selects on (test_acc, valid_acc: averages over the tasks seen so far).
    nlohmann::json record{{"kind", "task"}, {"task", k + 1}, {"test_acc", r.average_seen.back()}};
    if (validation) {
      double valid_seen = 0;
      for (int64_t j = 0; j <= k; ++j) valid_seen += trainer.evaluate(valids[j]).accuracy;
      record["valid_acc"] = valid_seen / static_cast<double>(k + 1);
    }
    if (!writer) continue;
    run.log_metrics(record);
    spdlog::info("after task {}: average accuracy over tasks 1..{}: {:.2f}%", k + 1, k + 1,
                 r.average_seen.back());
    nlohmann::json j{{"tasks", options.tasks},
                     {"permutation_seed", options.permutation_seed},
                     {"identity_first", options.identity_first},
                     {"accuracy", r.accuracy},
                     {"average_seen", r.average_seen}};
    write_file_atomic(run.file("continual.json"), j.dump(2) + "\n");
  }
  exp.train_set = train;
  exp.test_set = test;
  exp.valid_set = valid;
  if (!writer) return r;
  const bool plotted = plot_result(run.file("continual"), r);
  write_file_atomic(run.file("report.md"),
                    report_markdown(exp.name.empty() ? run.path() : exp.name, options, r, plotted));
  return r;
}

}  // namespace nc::learn
