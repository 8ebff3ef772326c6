#include "neurocore/learn/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <optional>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/data/registry.h"

namespace {

namespace fs = std::filesystem;

std::string temp_runs(const std::string& tag) {
  auto dir = fs::temp_directory_path() / ("nc_trainer_" + tag + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  return dir.string();
}

bool fashion_present() {
  for (const auto& d : nc::data::list_datasets())
    if (d.name == "fashion-mnist") return d.available;
  return false;
}

// A small but real experiment: 512 Fashion-MNIST images, two epochs.
nc::Config small_config(const std::string& model, const std::string& runs) {
  auto c = nc::Config::from_string(
      "seed: 7\nthreads: 1\ndata: {name: fashion-mnist, limit_train: 512, limit_test: 128}\n"
      "train: {epochs: 2, batch_size: 64, learning_rate: 0.05, optimizer: sgd, momentum: 0.9}\n",
      "test.yaml");
  c.set("runs_dir=" + runs);
  c.set("model.name=" + model);
  c.set("model.hidden=[32]");
  if (model == "snu-mlp") c.set("encoder.steps=5");
  return c;
}

std::vector<torch::Tensor> trained_parameters(const std::string& model, const std::string& runs,
                                              bool interrupt) {
  auto c = small_config(model, runs);
  auto exp = nc::learn::Experiment::build(c);
  auto run = nc::RunDir::create(runs, "r");
  nc::write_file_atomic(run.file("config.yaml"), exp.effective_yaml);
  if (!interrupt) {
    nc::learn::Trainer t(exp, run);
    t.fit();
    EXPECT_EQ(t.epochs_done(), 2);
    return exp.model->parameters();
  }
  {
    nc::learn::Trainer t(exp, run);
    t.stop_after(1);
    t.fit();
    EXPECT_EQ(t.epochs_done(), 1);
  }
  // A fresh process would rebuild everything from the run directory's config.
  auto c2 = nc::Config::load(run.file("config.yaml"));
  auto exp2 = nc::learn::Experiment::build(c2);
  auto run2 = nc::RunDir::open(run.path());
  nc::learn::Trainer t2(exp2, run2);
  EXPECT_EQ(t2.resume(), 1);
  t2.fit();
  EXPECT_EQ(t2.epochs_done(), 2);
  // metrics.jsonl holds exactly one record per epoch after the resume.
  EXPECT_EQ(run2.metrics().size(), 2u);
  return exp2.model->parameters();
}

void expect_resume_bit_exact(const std::string& model) {
  if (!fashion_present()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const auto runs = temp_runs(model);
  const auto straight = trained_parameters(model, runs, false);
  const auto resumed = trained_parameters(model, runs, true);
  ASSERT_EQ(straight.size(), resumed.size());
  for (std::size_t i = 0; i < straight.size(); ++i) {
    EXPECT_TRUE(torch::equal(straight[i], resumed[i])) << model << " parameter " << i;
  }
  fs::remove_all(runs);
}

TEST(Trainer, ResumeIsBitExactMlp) { expect_resume_bit_exact("mlp"); }
TEST(Trainer, ResumeIsBitExactSnu) { expect_resume_bit_exact("snu-mlp"); }

TEST(Trainer, DivergenceStopsWithAClearMessage) {
  if (!fashion_present()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const auto runs = temp_runs("nan");
  auto c = small_config("mlp", runs);
  c.set("train.learning_rate=1000");
  c.set("train.epochs=1");
  auto exp = nc::learn::Experiment::build(c);
  auto run = nc::RunDir::create(runs, "r");
  nc::learn::Trainer t(exp, run);
  try {
    t.fit();
    FAIL() << "expected divergence";
  } catch (const nc::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("diverged"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("step"), std::string::npos) << e.what();
  }
  fs::remove_all(runs);
}

TEST(Trainer, TrainingReducesTheLossAndWritesTheRun) {
  if (!fashion_present()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const auto runs = temp_runs("report");
  auto c = small_config("mlp", runs);
  auto exp = nc::learn::Experiment::build(c);
  auto run = nc::RunDir::create(runs, "r");
  nc::learn::Trainer t(exp, run);
  const double before = t.evaluate(exp.test_set).loss;
  t.fit();
  EXPECT_LT(t.evaluate(exp.test_set).loss, before);
  EXPECT_TRUE(fs::exists(run.file("report.md")));
  EXPECT_TRUE(fs::exists(run.file("checkpoints/epoch-0002.pt")));
  EXPECT_TRUE(fs::exists(run.file("metrics.jsonl")));
  fs::remove_all(runs);
}

// OMNIST videos as sequences (data.omnist.sequences, encoder.coding: frames): one example per
// video, one step per frame, and the per-frame accuracy equals a count over every frame.
TEST(Trainer, VideoSequencesGiveOneStepPerFrameAndAPerFrameAccuracy) {
  const auto runs = temp_runs("omnist_seq");
  auto c = nc::Config::from_string(
      "seed: 3\nthreads: 1\ndata: {name: omnist, limit_train: 24, limit_test: 6, omnist: {sequences: true, frames: 4}}\n"
      "encoder: {coding: frames}\nmodel: {name: rnn, hidden: 8}\nlearn: {rule: bptt, bptt: {loss: per_step}}\n"
      "train: {epochs: 1, batch_size: 8, optimizer: adam, learning_rate: 0.01, loss: cross_entropy}\n",
      "test.yaml");
  c.set("runs_dir=" + runs);
  std::optional<nc::learn::Experiment> built;
  try {
    built.emplace(nc::learn::Experiment::build(c));
  } catch (const nc::UserError& e) {
    GTEST_SKIP() << "MNIST-10k not installed: " << e.what();
  }
  auto& exp = *built;
  EXPECT_EQ(exp.train_set.images.sizes(), (std::vector<int64_t>{24, 4, 28, 28}));
  EXPECT_EQ(exp.test_set.labels.sizes(), (std::vector<int64_t>{6}));
  auto run = nc::RunDir::create(runs, "r");
  nc::learn::Trainer t(exp, run);
  t.fit();
  const auto r = t.evaluate(exp.test_set);
  torch::NoGradGuard no_grad;
  exp.model->eval();
  const auto out = exp.model->forward(nc::learn::evaluation_input(exp, exp.test_set.images));
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{4, 6, 10}));
  int64_t correct = 0;
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t b = 0; b < 6; ++b)
      correct += out[k][b].argmax().item<int64_t>() == exp.test_set.labels[b].item<int64_t>();
  EXPECT_DOUBLE_EQ(r.step_accuracy, 100.0 * static_cast<double>(correct) / 24.0);
  EXPECT_NE(nc::read_file(run.file("metrics.jsonl")).find("\"test_step_acc\""), std::string::npos);
  fs::remove_all(runs);
}

}  // namespace
