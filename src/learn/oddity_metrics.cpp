// Per-riddle accuracy (oddity_metrics.h).
#include "neurocore/learn/oddity_metrics.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/plot.h"
#include "neurocore/core/seed.h"
#include "neurocore/data/oddity_set.h"
#include "neurocore/learn/loss.h"
#include "neurocore/learn/trainer.h"

namespace nc::learn {

RiddleAccuracy riddle_accuracy(const Experiment& exp, const data::Dataset& test) {
  if (exp.data.name != "oddity") {
    throw UserError("per-riddle accuracy needs data.name oddity, got '" + exp.data.name + "'");
  }
  torch::NoGradGuard no_grad;
  exp.model->eval();
  const auto ids = data::oddity_riddle_ids(exp.data.oddity, data::oddity::Split::test, test.size());
  const int64_t n = test.size(), batch = exp.train.eval_batch_size;
  auto gen = make_generator(exp.seed, "eval-encode");
  std::vector<int64_t> right(data::oddity::kRiddles, 0);
  RiddleAccuracy r;
  r.count.assign(data::oddity::kRiddles, 0);
  for (int64_t i = 0; i < n; i += batch) {
    const int64_t end = std::min(n, i + batch);
    const auto x = model_input(exp, test.images.slice(0, i, end), gen);
    const auto pred = class_scores(exp.model->forward(x), exp.model->temporal(), "cross_entropy").argmax(1);
    const auto ok = pred.eq(test.labels.slice(0, i, end));
    for (int64_t k = i; k < end; ++k) {
      const auto id = ids[k].item<int64_t>();
      ++r.count[id];
      right[id] += ok[k - i].item<bool>();
    }
  }
  for (int id = 0; id < data::oddity::kRiddles; ++id) {
    r.accuracy.push_back(r.count[id] ? 100.0 * right[id] / r.count[id] : std::numeric_limits<double>::quiet_NaN());
  }
  return r;
}

void write_riddle_report(const RunDir& run, const RiddleAccuracy& r) {
  std::string md = "# Test accuracy per riddle\n\nChance is 1/6 = 16.7 %.\n\n| id | riddle | samples | accuracy % |\n|---:|---|---:|---:|\n";
  BarSpec bars;
  bars.title = "test accuracy per riddle (chance 16.7 %)";
  bars.ylabel = "accuracy %";
  for (int id = 0; id < data::oddity::kRiddles; ++id) {
    if (r.count[id] == 0) continue;
    md += fmt::format("| {} | {} | {} | {:.1f} |\n", id, data::oddity::riddle_name(id), r.count[id], r.accuracy[id]);
    bars.labels.push_back(std::to_string(id));
    bars.values.push_back(r.accuracy[id]);
  }
  write_file_atomic(run.file("riddle_accuracy.md"), md);
  plot_bars(run.file("riddle_accuracy"), bars);
}

}  // namespace nc::learn
