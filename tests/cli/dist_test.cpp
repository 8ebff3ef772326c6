// Data-parallel training through real processes: `neurocore train --nproc 2` (and workers
// started by hand with the torchrun variables) on loopback.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/run_cli.h"
#include "neurocore/core/config.h"
#include "neurocore/data/registry.h"
#include "neurocore/learn/checkpoint.h"
#include "neurocore/learn/experiment.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nc::test::run_cli;
using Clock = std::chrono::steady_clock;

bool have_fashion() { return fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"); }

// The first 240 training and 64 test images of Fashion-MNIST as uncompressed IDX files, made
// once per test process: every worker process then loads its data in no time.
void write_idx(const fs::path& base, const nc::data::Dataset& d) {
  auto be32 = [](std::ofstream& f, uint32_t v) {
    const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    f.write(b, 4);
  };
  const auto n = static_cast<uint32_t>(d.size());
  std::ofstream img(base.string() + "-images-idx3-ubyte", std::ios::binary);
  be32(img, 0x803);
  be32(img, n);
  be32(img, 28);
  be32(img, 28);
  const auto bytes = (d.images * 255).round().to(torch::kUInt8).contiguous();
  img.write(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), bytes.numel());
  std::ofstream lab(base.string() + "-labels-idx1-ubyte", std::ios::binary);
  be32(lab, 0x801);
  be32(lab, n);
  const auto labels = d.labels.to(torch::kUInt8).contiguous();
  lab.write(reinterpret_cast<const char*>(labels.data_ptr<uint8_t>()), labels.numel());
}

const fs::path& tiny_idx() {
  static const fs::path dir = [] {
    const auto d = nc::test::fresh_temp_path("dist", "idx");
    fs::create_directories(d);
    nc::data::DataOptions o;
    o.name = "fashion-mnist";
    o.limit_train = 240;
    o.limit_test = 64;
    write_idx(d / "train", nc::data::load_dataset(o, "train"));
    write_idx(d / "t10k", nc::data::load_dataset(o, "test"));
    return d;
  }();
  return dir;
}

struct Job {
  fs::path dir, config;
};

Job make_job(const std::string& name, const std::string& model_yaml) {
  Job j;
  j.dir = nc::test::fresh_temp_path("dist", name);
  fs::create_directories(j.dir);
  j.config = j.dir / "config.yaml";
  std::ofstream(j.config) << "seed: 3\nthreads: 1\nruns_dir: " << (j.dir / "runs").string() << "\n"
                          << "data: {name: idx, path: " << tiny_idx().string() << ", limit_train: 200}\n"
                          << model_yaml
                          << "train: {epochs: 2, batch_size: 40, learning_rate: 0.05, optimizer: sgd, "
                             "momentum: 0.9}\n";
  return j;
}

std::vector<torch::Tensor> final_parameters(const fs::path& run,
                                           const std::vector<std::string>& other_sections = {}) {
  auto config = nc::Config::load((run / "config.yaml").string());
  auto exp = nc::learn::Experiment::build(config, other_sections);
  nc::learn::load_checkpoint(nc::learn::last_checkpoint((run / "checkpoints").string()), *exp.model, nullptr);
  std::vector<torch::Tensor> v;
  for (const auto& p : exp.model->parameters()) v.push_back(p.detach().clone());
  return v;
}

double max_abs_diff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    m = std::max(m, (a[i] - b[i]).abs().max().item<double>());
  }
  return m;
}

// Two ranks with batch 20 each against one process with batch 40: the same examples per
// step, the same spikes (the global batch is encoded from one stream), gradients averaged.
void expect_two_ranks_equal_one(const std::string& name, const std::string& model_yaml) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const Job j = make_job(name, model_yaml);
  const std::string cfg = j.config.string();
  auto dp = run_cli("train " + cfg + " --nproc 2 --set name=dp --set train.batch_size=20");
  ASSERT_EQ(dp.code, 0) << dp.output;
  auto one = run_cli("train " + cfg + " --set name=one");
  ASSERT_EQ(one.code, 0) << one.output;
  EXPECT_LT(max_abs_diff(final_parameters(j.dir / "runs/dp"), final_parameters(j.dir / "runs/one")), 1e-6);
  // Only rank 0 wrote: one run directory per job, and its metrics name the world size.
  EXPECT_EQ(std::distance(fs::directory_iterator(j.dir / "runs"), fs::directory_iterator()), 2);
  const std::string metrics = nc::test::slurp(j.dir / "runs/dp/metrics.jsonl");
  EXPECT_NE(metrics.find("\"world_size\":2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("dist_bytes_per_step"), std::string::npos) << metrics;
  fs::remove_all(j.dir);
}

TEST(DistCli, MlpOnTwoProcessesEqualsOneProcessWithTheGlobalBatch) {
  expect_two_ranks_equal_one("mlp", "model: {name: mlp, hidden: [32]}\n");
}

TEST(DistCli, SnuTrainedByOstlOnTwoProcessesEqualsOneProcess) {
  expect_two_ranks_equal_one("ostl", "model: {name: snu-mlp, hidden: [16], readout: linear}\n"
                                     "encoder: {steps: 4}\nlearn: {rule: ostl}\n");
}

TEST(DistCli, ResumedJobEndsWithTheParametersOfAnUninterruptedOne) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const Job j = make_job("resume", "model: {name: mlp, hidden: [16]}\n");
  const std::string cfg = j.config.string();
  ASSERT_EQ(run_cli("train " + cfg + " --nproc 2 --set name=straight").code, 0);
  auto first = run_cli("train " + cfg + " --nproc 2 --set name=cut --set train.epochs=1");
  ASSERT_EQ(first.code, 0) << first.output;
  const std::string run = (j.dir / "runs/cut").string();
  auto resumed = run_cli("train --resume " + run + " --nproc 2 --set train.epochs=2");
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_LT(max_abs_diff(final_parameters(j.dir / "runs/straight"), final_parameters(run)), 1e-6);
  // Any world size may continue the job: one process trains a third epoch.
  auto alone = run_cli("train --resume " + run + " --set train.epochs=3");
  ASSERT_EQ(alone.code, 0) << alone.output;
  EXPECT_NE(nc::test::slurp(fs::path(run) / "metrics.jsonl").find("\"epoch\":3"), std::string::npos);
  fs::remove_all(j.dir);
}

TEST(DistCli, ContinualOnTwoProcessesEqualsOneProcess) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const Job j = make_job("continual", "model: {name: mlp, hidden: [16]}\ncontinual: {tasks: 2}\n");
  const std::string cfg = j.config.string() + " --set train.epochs=1";
  auto dp = run_cli("continual " + cfg + " --nproc 2 --set name=dp --set train.batch_size=20");
  ASSERT_EQ(dp.code, 0) << dp.output;
  auto one = run_cli("continual " + cfg + " --set name=one");
  ASSERT_EQ(one.code, 0) << one.output;
  EXPECT_LT(max_abs_diff(final_parameters(j.dir / "runs/dp/task-2", {"continual"}),
                         final_parameters(j.dir / "runs/one/task-2", {"continual"})),
            1e-6);
  EXPECT_TRUE(fs::exists(j.dir / "runs/dp/continual.json"));
  fs::remove_all(j.dir);
}

// A field of the last metrics record holding `key` in run/metrics.jsonl (-1 when absent).
double last_value(const fs::path& run, const std::string& key) {
  std::istringstream lines(nc::test::slurp(run / "metrics.jsonl"));
  std::string line, last;
  while (std::getline(lines, line)) {
    if (line.find("\"" + key + "\":") != std::string::npos) last = line;
  }
  const auto at = last.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::stod(last.substr(at + key.size() + 3));
}

TEST(DistCli, EfqatOnTwoProcessesEqualsOneProcess) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const Job j = make_job("efqat", "model: {name: mlp, hidden: [16]}\n");
  ASSERT_EQ(run_cli("train " + j.config.string() + " --set name=src --set train.epochs=1").code, 0);
  const std::string src = (j.dir / "runs/src").string();
  const std::string q = "quantize " + src + " --method efqat --fraction 0.25 --reselect 3 --epochs 2 --calib 64 ";
  auto dp = run_cli(q + "--batch 10 --nproc 2 --out " + (j.dir / "dp").string());
  ASSERT_EQ(dp.code, 0) << dp.output;
  auto one = run_cli(q + "--batch 20 --out " + (j.dir / "one").string());
  ASSERT_EQ(one.code, 0) << one.output;
  const double a = last_value(j.dir / "dp", "test_loss"), b = last_value(j.dir / "one", "test_loss");
  ASSERT_GT(b, 0);
  EXPECT_NEAR(a, b, 1e-5 * b);
  // Both took the same 20 steps (2 epochs of 200 images in global batches of 20).
  EXPECT_EQ(last_value(j.dir / "one", "steps"), 20);
  EXPECT_EQ(last_value(j.dir / "dp", "steps"), 20);
  fs::remove_all(j.dir);
}

// DTP's fine-tuning (scores and weights, soft masks annealed to hard) on two processes with
// batch 10 each against one with batch 20: the same masks and the same final weights.
TEST(DistCli, DtpPruningOnTwoProcessesEqualsOneProcess) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const Job j = make_job("prune", "model: {name: mlp, hidden: [16]}\n");
  ASSERT_EQ(run_cli("train " + j.config.string() + " --set name=src --set train.epochs=1").code, 0);
  const std::string p = "prune " + (j.dir / "runs/src").string() + " --method dtp --budget 0.3 --epochs 2 ";
  auto dp = run_cli(p + "--set train.batch_size=10 --nproc 2 --out " + (j.dir / "dp").string());
  ASSERT_EQ(dp.code, 0) << dp.output;
  auto one = run_cli(p + "--set train.batch_size=20 --out " + (j.dir / "one").string());
  ASSERT_EQ(one.code, 0) << one.output;
  const auto a = final_parameters(j.dir / "dp"), b = final_parameters(j.dir / "one");
  EXPECT_LT(max_abs_diff(a, b), 1e-5);
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    EXPECT_TRUE((a[i] == 0).equal(b[i] == 0)) << "parameter " << i << ": the pruned weights differ";
  }
  EXPECT_NEAR(last_value(j.dir / "dp", "acc_after"), last_value(j.dir / "one", "acc_after"), 1e-9);
  // Rank 0 alone wrote: the job's report names the run directory, no scratch one is left.
  EXPECT_NE(dp.output.find("report: " + (j.dir / "dp").string()), std::string::npos) << dp.output;
  EXPECT_TRUE(fs::exists(j.dir / "dp/pruned_torchscript.pt"));
  fs::remove_all(j.dir);
}

// The final record's test bits per character of a `neurocore lm` run.
double test_bpc(const fs::path& run) { return last_value(run, "test_bpc"); }

TEST(DistCli, LanguageModelOnTwoProcessesEqualsOneProcessWithTwiceTheStreams) {
  const auto dir = nc::test::fresh_temp_path("dist", "lm");
  fs::create_directories(dir);
  std::ofstream text(dir / "t.txt");
  for (int i = 0; i < 200; ++i) text << "the cat sat on the mat " << i % 7 << ".\n";
  text.close();
  std::ofstream(dir / "c.yaml") << "runs_dir: " << (dir / "runs").string()
                                << "\nthreads: 1\ndata: {name: text, path: " << (dir / "t.txt").string()
                                << "}\nmodel: {cell: lstm, hidden: 16}\n"
                                   "train: {batch_size: 8, eval_every: 5, optimizer: sgd, learning_rate: 0.5, clip: 0.5}\n"
                                   "learn: {window: 10}\n";
  const std::string cfg = (dir / "c.yaml").string();
  auto dp = run_cli("lm " + cfg + " --nproc 2 --set name=dp --set train.batch_size=4");
  ASSERT_EQ(dp.code, 0) << dp.output;
  auto one = run_cli("lm " + cfg + " --set name=one");
  ASSERT_EQ(one.code, 0) << one.output;
  const double a = test_bpc(dir / "runs/dp"), b = test_bpc(dir / "runs/one");
  ASSERT_GT(b, 0);
  EXPECT_NEAR(a, b, 1e-5 * b);
  fs::remove_all(dir);
}

// Starts `args` with extra environment entries, output to `log`.
pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, const fs::path& log) {
  std::vector<std::string> e = env;
  for (char** p = environ; *p; ++p) e.push_back(*p);
  std::vector<char*> argv, envp;
  for (auto& a : const_cast<std::vector<std::string>&>(args)) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& s : e) envp.push_back(s.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, args[0].c_str(), &fa, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// Waits up to `limit` for `pid`; returns its status or -1 when it is still running.
int wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

bool wait_for_text(const fs::path& log, const std::string& text, std::chrono::seconds limit) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (nc::test::slurp(log).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

int free_port() {
  // The launcher's choice is not exposed; a fixed range per test process keeps parallel
  // ctest runs apart.
  return 20000 + static_cast<int>(getpid() % 20000);
}

std::vector<std::string> worker_env(int rank, int port) {
  return {"MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port), "WORLD_SIZE=2",
          "RANK=" + std::to_string(rank), "LOCAL_RANK=" + std::to_string(rank)};
}

std::vector<std::string> long_job(const Job& j) {
  return {NC_CLI, "train", j.config.string(), "--dist-timeout", "3", "--set", "train.epochs=100000",
          "--set", "data.limit_test=16"};
}

// Two workers started by hand; once they train, rank 1 gets `signal` (SIGKILL: it dies;
// SIGSTOP: it hangs). Rank 0 must exit with code 2 within the timeout, naming rank 1.
void expect_survivor_names_the_lost_rank(const std::string& name, int port, int signal) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const Job j = make_job(name, "model: {name: mlp, hidden: [16]}\n");
  const pid_t r0 = spawn(long_job(j), worker_env(0, port), j.dir / "rank0.log");
  const pid_t r1 = spawn(long_job(j), worker_env(1, port), j.dir / "rank1.log");
  ASSERT_TRUE(wait_for_text(j.dir / "rank0.log", "epoch 1/", std::chrono::seconds(60)))
      << nc::test::slurp(j.dir / "rank0.log");
  kill(r1, signal);
  const auto t0 = Clock::now();
  const int status = wait_for(r0, std::chrono::seconds(20));
  kill(r1, SIGKILL);
  waitpid(r1, nullptr, 0);
  if (status == -1) kill(r0, SIGKILL), waitpid(r0, nullptr, 0);
  ASSERT_NE(status, -1) << "rank 0 still running 20 s after rank 1 got signal " << signal;
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3 + 8));  // timeout + diagnosis
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
  const std::string log = nc::test::slurp(j.dir / "rank0.log");
  EXPECT_NE(log.find("lost rank 1"), std::string::npos) << log;
  fs::remove_all(j.dir);
}

TEST(DistCli, KilledWorkerMakesTheOtherExitNamingItsRank) {
  expect_survivor_names_the_lost_rank("kill", free_port(), SIGKILL);
}

TEST(DistCli, HungWorkerMakesTheOtherExitWithinTheTimeout) {
  expect_survivor_names_the_lost_rank("hang", free_port() + 1, SIGSTOP);
}

TEST(DistCli, LauncherReportsTheKilledWorkerAndLeavesNoProcess) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const Job j = make_job("launcher", "model: {name: mlp, hidden: [16]}\n");
  auto args = long_job(j);
  args.insert(args.begin() + 3, {"--nproc", "2"});
  const pid_t launcher = spawn(args, {}, j.dir / "job.log");
  ASSERT_TRUE(wait_for_text(j.dir / "job.log", "epoch 1/", std::chrono::seconds(60)))
      << nc::test::slurp(j.dir / "job.log");
  // The launcher's children, and which one is rank 1 (from its environment).
  std::vector<pid_t> workers;
  pid_t rank1 = -1;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string pid, comm, state;
    pid_t ppid = 0;
    stat >> pid >> comm >> state >> ppid;
    if (ppid != launcher) continue;
    workers.push_back(std::stoi(name));
    std::string env = nc::test::slurp(e.path() / "environ");
    for (auto& c : env) if (c == '\0') c = '\n';
    if (env.find("\nRANK=1\n") != std::string::npos) rank1 = std::stoi(name);
  }
  ASSERT_EQ(workers.size(), 2u);
  ASSERT_NE(rank1, -1);
  kill(rank1, SIGKILL);
  const int status = wait_for(launcher, std::chrono::seconds(30));
  if (status == -1) kill(launcher, SIGKILL), waitpid(launcher, nullptr, 0);
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  const std::string log = nc::test::slurp(j.dir / "job.log");
  EXPECT_NE(log.find("worker rank 1"), std::string::npos) << log;
  EXPECT_NE(log.find("lost rank 1"), std::string::npos) << log;
  for (pid_t w : workers) EXPECT_NE(kill(w, 0), 0) << "worker " << w << " outlived the job";
  fs::remove_all(j.dir);
}

TEST(DistCli, BadWorldSettingsAreUserErrors) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const Job j = make_job("bad", "model: {name: mlp, hidden: [16]}\n");
  const std::string train = "train " + j.config.string() + " --dist-timeout 2";
  auto zero = nc::test::run_cli_with_env("WORLD_SIZE=0", train);
  EXPECT_EQ(zero.code, 2) << zero.output;
  EXPECT_NE(zero.output.find("WORLD_SIZE must be >= 1, got 0"), std::string::npos) << zero.output;
  auto rank = nc::test::run_cli_with_env("WORLD_SIZE=2 RANK=2", train);
  EXPECT_EQ(rank.code, 2) << rank.output;
  EXPECT_NE(rank.output.find("RANK must be in 0..1 (WORLD_SIZE 2), got 2"), std::string::npos) << rank.output;
  // Rank 1 of a job whose master never comes: a UserError once the timeout has passed.
  const auto t0 = Clock::now();
  auto lonely = nc::test::run_cli_with_env(
      "WORLD_SIZE=2 RANK=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port() + 2), train);
  EXPECT_EQ(lonely.code, 2) << lonely.output;
  EXPECT_NE(lonely.output.find("MASTER_ADDR 127.0.0.1"), std::string::npos) << lonely.output;
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2 + 10));
  auto nproc = run_cli(train + " --nproc 0");
  EXPECT_EQ(nproc.code, 2) << nproc.output;
  fs::remove_all(j.dir);
}

}  // namespace
