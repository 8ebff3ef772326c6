// ESSOP throughput against exact FP32 in one run (docs/results/essop.md):
//   1. kernel: essop_outer_sum (streams drawn into reused buffers as in training, scaled,
//      packed, AND + popcount; LeNet-5's stride-1 convolutions: essop_outer_sum_conv on the
//      layer input, as in training) against the
//      exact sum of outer products delta^T x by BLAS (one FP32 GEMM) of the same sizes;
//   2. training step: one BPTT step (forward, backward, SGD) of the MLP 784-256-256-10 and of
//      LeNet-5 with ESSOP weight gradients against the same step with exact gradients.
// Configurations are interleaved repetition by repetition (steadier on a shared machine); the
// median is reported.
//
//   nc_bench_essop [--threads=1] [--reps=15] [--clock=cpu|wall] [--only=kernel|step] [--bl=N]
// (--bl: that bit-stream length only, for profiling; default 4, 8, 16, 32, 64; --stat=min:
// the fastest repetition instead of the median)
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "int_flag.h"
#include "neurocore/core/seed.h"
#include "neurocore/learn/essop.h"
#include "neurocore/learn/essop_rule.h"
#include "neurocore/learn/loss.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"

namespace {

using namespace nc::learn;
using Clock = std::chrono::steady_clock;

// Wall time, or with --clock=cpu the CPU time of this thread (with --threads=1 all the work
// runs on it: steadier than wall time on a machine shared with other jobs).
bool g_cpu_clock = false;

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double seconds(const std::function<void()>& f) {
  if (g_cpu_clock) {
    const double t0 = thread_cpu_seconds();
    f();
    return thread_cpu_seconds() - t0;
  }
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The median of the repetitions, or with --stat=min their minimum (the least disturbed run:
// on a loaded machine page faults and a busy sibling hyperthread inflate some repetitions).
bool g_min = false;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return g_min ? v.front() : v[v.size() / 2];
}

std::vector<int64_t> kBitstreams = {4, 8, 16, 32, 64};

void kernel_table(int reps) {
  struct Size {
    const char* what;
    int64_t P, N, M;
    int64_t L;  // convolutions: output positions per sample
    int64_t C = 0, H = 0, W = 0, k = 0, pad = 0;  // convolutions: input [B, C, H, W], k x k
  };
  const std::vector<Size> sizes = {{"MLP layer 1 (B 128)", 128, 784, 256, 0},
                                   {"MLP layer 2 (B 128)", 128, 256, 256, 0},
                                   {"MLP output (B 128)", 128, 256, 10, 0},
                                   {"LeNet conv1 (B 128)", 128 * 784, 25, 6, 784, 1, 28, 28, 5, 2},
                                   {"LeNet conv2 (B 128)", 128 * 100, 150, 16, 100, 6, 14, 14, 5, 0}};
  fmt::print("## Kernel: ESSOP dW versus exact FP32 dW (BLAS GEMM), {} of {} runs\n\n", g_min ? "minimum" : "median", reps);
  fmt::print("| outer products | P x N x M | exact FP32 ms |");
  for (auto b : kBitstreams) fmt::print(" BL {} ms (ratio) |", b);
  fmt::print("\n|---|---|---|");
  for (std::size_t i = 0; i < kBitstreams.size(); ++i) fmt::print("---|");
  fmt::print("\n");
  auto g = nc::make_generator(1, "bench");
  for (const auto& s : sizes) {
    auto x = torch::relu(torch::randn({s.P, s.N}, g));
    auto d = torch::randn({s.P, s.M}, g) * 1e-3;
    // The convolutions' operands as training passes them: the layer input [B, C, H, W] and
    // the output gradient [B, M, Ho, Wo]; the GEMM gets the same products as rows (im2col,
    // not timed: the exact step's convolution backward never materialises it either).
    torch::Tensor xi, di;
    const int64_t side = s.L ? static_cast<int64_t>(std::lround(std::sqrt(s.L))) : 0;
    if (s.L) {
      namespace F = torch::nn::functional;
      xi = torch::relu(torch::randn({s.P / s.L, s.C, s.H, s.W}, g));
      di = d.view({s.P / s.L, side, side, s.M}).permute({0, 3, 1, 2}).contiguous();
      x = F::unfold(xi, F::UnfoldFuncOptions({s.k, s.k}).padding(s.pad))
              .transpose(1, 2)
              .reshape({s.P, s.N});
    }
    std::vector<double> exact;
    std::vector<std::vector<double>> es(kBitstreams.size());
    std::vector<float> rbuf(static_cast<std::size_t>(s.P * kBitstreams.back())), qbuf(rbuf.size());
    for (int r = 0; r < reps; ++r) {
      exact.push_back(seconds([&] { auto w = d.t().mm(x); }));
      for (std::size_t b = 0; b < kBitstreams.size(); ++b) {
        const auto o = EssopOptions().bitstream(kBitstreams[b]);
        // Streams drawn into reused buffers, as the training rule does (EssopProducts).
        es[b].push_back(seconds([&] {
          essop_draw_streams_into(s.P, o, g, rbuf.data(), qbuf.data());
          const EssopStreamPair st{torch::from_blob(rbuf.data(), {s.P, o.bitstream()}),
                                   torch::from_blob(qbuf.data(), {s.P, o.bitstream()})};
          auto w = s.L ? essop_outer_sum_conv(xi, di, s.k, s.k, s.pad, s.pad, st, o.scaling())
                       : essop_outer_sum(x, d, st, o.scaling());
        }));
      }
    }
    const double e = median(exact);
    fmt::print("| {} | {} x {} x {} | {:.3f} |", s.what, s.P, s.N, s.M, 1e3 * e);
    for (auto& v : es) fmt::print(" {:.3f} ({:.1f}x) |", 1e3 * median(v), median(v) / e);
    fmt::print("\n");
  }
}

void step_table(int reps) {
  fmt::print("\n## Training step: ESSOP / exact (forward + backward + SGD, batch 128), "
             "{} of {} steps\n\n",
             g_min ? "minimum" : "median", reps);
  fmt::print("| model | exact ms |");
  for (auto b : kBitstreams) fmt::print(" BL {} ms (ratio) |", b);
  fmt::print("\n|---|---|");
  for (std::size_t i = 0; i < kBitstreams.size(); ++i) fmt::print("---|");
  fmt::print("\n");
  auto g = nc::make_generator(2, "bench");
  for (const std::string name : {"mlp 784-256-256-10", "lenet5"}) {
    torch::manual_seed(1);
    std::shared_ptr<nc::nn::NetImpl> model;
    if (name == "lenet5") {
      model = nc::nn::LeNet5(nc::nn::InputShape{1, 28, 28}, 10).ptr();
    } else {
      model = nc::nn::MLP(nc::nn::MLPOptions(784, 10)).ptr();
    }
    const auto x = torch::randn({128, 1, 28, 28}, g);
    const auto y = torch::randint(0, 10, {128}, g);
    torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(1e-4));
    BpttRule exact_rule;
    std::vector<std::unique_ptr<EssopRule>> rules;
    for (auto b : kBitstreams) {
      rules.push_back(std::make_unique<EssopRule>(std::make_unique<BpttRule>(),
                                                  EssopOptions().bitstream(b)));
    }
    std::vector<double> exact;
    std::vector<std::vector<double>> es(rules.size());
    for (int r = 0; r < reps + 2; ++r) {  // two warm-up steps
      const double t = seconds([&] { exact_rule.train_batch(*model, x, y, "cross_entropy", opt); });
      if (r >= 2) exact.push_back(t);
      for (std::size_t b = 0; b < rules.size(); ++b) {
        const double te =
            seconds([&] { rules[b]->train_batch(*model, x, y, "cross_entropy", opt); });
        if (r >= 2) es[b].push_back(te);
      }
    }
    const double e = median(exact);
    fmt::print("| {} | {:.2f} |", name, 1e3 * e);
    for (auto& v : es) fmt::print(" {:.2f} ({:.2f}x) |", 1e3 * median(v), median(v) / e);
    fmt::print("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, reps = 15;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (nc::bench::int_flag(argv[i], "threads", 1, 256, threads)) continue;
    if (nc::bench::int_flag(argv[i], "reps", 1, 10000, reps)) continue;
    int bl = 0;
    if (nc::bench::int_flag(argv[i], "bl", 1, static_cast<long>(kEssopMaxBitstream), bl)) {
      kBitstreams = {bl};
      continue;
    }
    if (std::strcmp(argv[i], "--clock=cpu") == 0 || std::strcmp(argv[i], "--clock=wall") == 0) {
      g_cpu_clock = argv[i][8] == 'c';
      continue;
    }
    if (std::strcmp(argv[i], "--stat=min") == 0 || std::strcmp(argv[i], "--stat=median") == 0) {
      g_min = argv[i][8] == 'i';  // --stat=m(i)n
      continue;
    }
    if (std::strcmp(argv[i], "--only=kernel") == 0 || std::strcmp(argv[i], "--only=step") == 0) {
      only = argv[i] + 7;
      continue;
    }
    fmt::print(stderr,
               "usage: nc_bench_essop [--threads=N] [--reps=N] [--clock=cpu|wall] "
               "[--only=kernel|step] [--bl=N] [--stat=median|min]\n");
    return 2;
  }
  if (g_cpu_clock && threads != 1) {
    fmt::print(stderr, "nc_bench_essop: --clock=cpu needs --threads=1 (got {})\n", threads);
    return 2;
  }
  at::set_num_threads(threads);
  fmt::print("threads: {}, clock: {}, statistic: {}, kernel: {}\n\n", threads,
             g_cpu_clock ? "thread CPU time" : "wall", g_min ? "minimum" : "median",
             essop_kernel_name(essop_kernel_resolved(EssopKernel::automatic)));
  if (only != "step") kernel_table(reps);
  if (only != "kernel") step_table(reps);
  return 0;
}
