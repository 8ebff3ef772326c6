// Backward-pass time of EfQAT versus full QAT on the same fake-quantized ResNet-20 and batch,
// in one process (docs/results/efqat.md):
//   1. wall time of loss.backward() without any instrumentation, the configurations
//      interleaved pass by pass (on a shared machine much steadier than timing each in a
//      block), with the counted backward GEMM MACs and the ideal ratio of efqat.md §7;
//   2. where the time goes: every op LibTorch records (RecordFunction) during the backward
//      passes is timed, and each op's self time is summed into categories;
//   3. a per-layer microbenchmark of LibTorch's conv backward (both gradients, input only,
//      the weight gradient of S output channels, the bias gradient) and of the direct forms
//      of row_weight_grad.h.
//
//   nc_bench_efqat [RHO_PERCENT ...]   (default: 10; full QAT is always the reference)
//   nc_bench_efqat layers               (3. only)
#include <fmt/format.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include <malloc.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "efqat_setup.h"
#include "neurocore/compress/row_weight_grad.h"
#include "neurocore/core/threads.h"

namespace {

// The category of an op (or autograd-engine) event by its name.
std::string category(const std::string& name) {
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (has("FakeQuantize")) return "fake-quant (fused kernel)";
  if (has("nc::input+weight_grad")) return "conv/GEMM backward (input + weight gradient)";
  if (has("nc::input_grad")) return "input gradient (partial conv/linear)";
  if (has("nc::weight_grad")) return "weight gradient, selected rows (partial conv/linear)";
  if (has("convolution_backward") || has("mkldnn_convolution") || has("slow_conv") ||
      has("aten::mm") || has("aten::addmm") || has("aten::bmm")) {
    return "conv/GEMM backward (input + weight gradient)";
  }
  if (has("index_select") || has("index_copy") || has("aten::zeros") || has("aten::contiguous") ||
      has("aten::copy_") || has("aten::clone")) {
    return "gathers, scatters, copies";
  }
  if (has("batch_norm")) return "normalisation";
  if (has("autograd::engine") || has("Backward")) return "autograd engine and node overhead";
  return "element-wise and other ops";
}

// A light profiler: a RecordFunction callback that keeps a stack of the open ops and sums
// each op's self time (its duration minus that of the ops it calls) under its category and
// under its name. LibTorch's legacy profiler was tried first and inflated the convolution
// backward several times over, so its numbers did not add up to the measured wall time.
struct Open {
  std::string name;
  std::chrono::steady_clock::time_point t0;
  double children = 0;  // seconds spent in nested ops
  std::string scope;    // the innermost "nc::" scope or autograd node around it
};
thread_local std::vector<Open> g_stack;
std::map<std::string, double> g_self;  // seconds, by "category" and by "op: name (in node)"
bool g_in_forward = false;

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  std::string scope = g_stack.empty() ? "" : g_stack.back().scope;
  const std::string name = fn.name();
  if (name.rfind("nc::", 0) == 0 || name.rfind("autograd::engine::evaluate_function: ", 0) == 0) {
    scope = name;
  }
  g_stack.push_back({name, std::chrono::steady_clock::now(), 0, scope});
  return nullptr;
}

void on_end(const at::RecordFunction&, at::ObserverContext*) {
  if (g_stack.empty()) return;
  Open o = std::move(g_stack.back());
  g_stack.pop_back();
  const double dur = std::chrono::duration<double>(std::chrono::steady_clock::now() - o.t0).count();
  if (!g_stack.empty()) g_stack.back().children += dur;
  if (g_in_forward) return;
  const double self = dur - o.children;
  // Work inside a partial-conv scope is named by the scope.
  const bool nc_scope = o.scope.rfind("nc::", 0) == 0;
  g_self[category(nc_scope ? o.scope : o.name)] += self;
  std::string node = o.scope.rfind("autograd::engine::evaluate_function: ", 0) == 0 ? o.scope.substr(37) : "";
  g_self["op: " + o.name + (node.empty() || node == o.name ? "" : " (in " + node + ")")] += self;
}

// Backward wall time without the profiler, the configurations interleaved pass by pass (so
// that a slow phase of a shared machine hits all of them alike): per configuration, the
// median, minimum and maximum over `reps` passes, in ms.
struct Wall {
  double median, min, max;
  int64_t macs, full_macs;  // counted backward GEMM MACs (efqat.md §7) and full QAT's
};
std::vector<Wall> interleaved_wall(const std::vector<double>& rhos, int reps) {
  std::vector<std::unique_ptr<nc::bench::EfqatSetup>> setups;
  for (double r : rhos) setups.push_back(std::make_unique<nc::bench::EfqatSetup>(r, 64, true));
  std::vector<std::vector<double>> ms(rhos.size());
  for (int r = -1; r < reps; ++r) {  // r = -1: warm-up
    for (std::size_t i = 0; i < setups.size(); ++i) {
      const auto loss = setups[i]->loss();
      const auto t0 = std::chrono::steady_clock::now();
      loss.backward();
      const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r >= 0) ms[i].push_back(t * 1e3);
    }
  }
  std::vector<Wall> out;
  for (auto& v : ms) std::sort(v.begin(), v.end());
  for (std::size_t i = 0; i < ms.size(); ++i) {
    auto& v = ms[i];
    out.push_back({v[v.size() / 2], v.front(), v.back(), setups[i]->net->backward_macs(),
                   setups[i]->net->full_backward_macs()});
  }
  return out;
}

// Best of 15 wall times of f, in ms.
template <class F>
double best_ms(F f) {
  double b = 1e9;
  for (int r = 0; r < 15; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    b = std::min(b, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return b * 1e3;
}

// One 3x3 conv of each ResNet-20 stage (batch 64): LibTorch's backward with both gradients,
// with the input gradient only, and the weight gradient of S output channels by LibTorch
// (gather gY's rows, weight-only backward, scatter) and by the direct form; the bias gradient.
void conv_microbenchmark() {
  fmt::print("\nper-layer conv backward (ms, best of 15), batch 64, 3x3, LibTorch's CPU kernels\n\n"
             "| layer | both gradients | input gradient only | weight gradient of S rows, LibTorch | "
             "the same, direct form | bias gradient, LibTorch / direct | input + S rows + bias, "
             "faster forms |\n|---|---|---|---|---|---|---|\n");
  for (const auto& [c, s] : {std::pair<int64_t, int64_t>{16, 1}, {16, 2}, {16, 4}, {32, 1}, {32, 3},
                             {32, 8}, {64, 2}, {64, 6}, {64, 16}}) {
    const int64_t h = 28 * 16 / c;
    const auto x = torch::randn({64, c, h, h}), w = torch::randn({c, c, 3, 3});
    const auto gy = torch::randn({64, c, h, h});
    const auto rows = torch::arange(s, torch::kLong) * (c / s);
    auto bwd = [&](const torch::Tensor& g, const torch::Tensor& wt, std::array<bool, 3> mask) {
      return at::convolution_backward(g, x, wt, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1,
                                      mask);
    };
    const double both = best_ms([&] { bwd(gy, w, {true, true, false}); });
    const double input = best_ms([&] { bwd(gy, w, {true, false, false}); });
    const double sel = best_ms([&] {
      auto r = bwd(gy.index_select(1, rows).contiguous(), w.index_select(0, rows), {false, true, false});
      torch::zeros_like(w).index_copy_(0, rows, std::get<1>(r));
    });
    const double direct = best_ms([&] {
      torch::zeros_like(w).index_copy_(0, rows, nc::compress::selected_rows_weight_grad(gy, x, rows, 3, 3, {1, 1}));
    });
    const double bias_torch = best_ms([&] { gy.sum({0, 2, 3}); });
    const double bias_direct = best_ms([&] { nc::compress::bias_grad(gy); });
    const double fast = input + std::min(sel, direct) + std::min(bias_torch, bias_direct);
    fmt::print("| {}->{} ch, {}x{} (S = {}) | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} / {:.2f} | {:.2f} ({:.2f}x) |\n",
               c, c, h, h, s, both, input, sel, direct, bias_torch, bias_direct, fast, both / fast);
  }
}

std::map<std::string, double> profile(double rho, int reps) {
  nc::bench::EfqatSetup setup(rho, 64, true);
  setup.loss().backward();  // warm-up
  g_self.clear();
  const auto handle = at::addGlobalCallback(at::RecordFunctionCallback(&on_start, &on_end));
  for (int r = 0; r < reps; ++r) {
    g_in_forward = true;  // forward passes are not counted
    const auto loss = setup.loss();
    g_in_forward = false;
    loss.backward();
  }
  at::removeCallback(handle);
  auto t = g_self;
  for (auto& [k, v] : t) v *= 1000.0 / reps;  // ms per backward
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  // As the neurocore executable, and with the mmap threshold raised further: ResNet-20's larger
  // tensors stay in the heap instead of being mmap-ed and unmapped on every allocation (the
  // page faults of fresh mappings made single passes vary by 3x on this kind of VM).
  nc::keep_freed_memory();
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  if (argc == 2 && std::string(argv[1]) == "layers") {
    conv_microbenchmark();
    return 0;
  }
  std::vector<double> rhos;
  for (int i = 1; i < argc; ++i) {
    char* end = nullptr;
    const double pct = std::strtod(argv[i], &end);
    if (end == argv[i] || *end != '\0' || !(pct >= 0 && pct <= 100)) {
      std::fprintf(stderr, "nc_bench_efqat: RHO must be a percentage in [0, 100], got '%s'\n"
                           "usage: nc_bench_efqat [RHO_PERCENT ...]   (default 10)\n"
                           "       nc_bench_efqat layers               (the per-layer table only)\n", argv[i]);
      return 2;
    }
    rhos.push_back(pct / 100.0);
  }
  if (rhos.empty()) rhos.push_back(0.1);
  const int reps = 5;
  std::vector<std::pair<std::string, std::map<std::string, double>>> runs;
  runs.emplace_back("qat", profile(-1, reps));
  for (double r : rhos) runs.emplace_back(fmt::format("efqat rho {:g} %", r * 100), profile(r, reps));
  std::map<std::string, int> cats;
  for (const auto& [_, t] : runs) {
    for (const auto& [c, v] : t) {
      if (c.rfind("op: ", 0) != 0) cats[c];
    }
  }
  fmt::print("self time per backward pass (ms), ResNet-20 W4A4, batch 64, mean of {} passes\n\n",
             reps);
  fmt::print("| category |");
  for (const auto& [name, _] : runs) fmt::print(" {} |", name);
  fmt::print("\n|---|");
  for (std::size_t i = 0; i < runs.size(); ++i) fmt::print("---|");
  fmt::print("\n");
  for (const auto& [c, _] : cats) {
    fmt::print("| {} |", c);
    for (const auto& [name, t] : runs) fmt::print(" {:.1f} |", t.count(c) ? t.at(c) : 0.0);
    fmt::print("\n");
  }
  fmt::print("| **total** |");
  for (const auto& [name, t] : runs) {
    double sum = 0;
    for (const auto& [c, v] : t) sum += c[0] == '(' || c.rfind("op: ", 0) == 0 ? 0 : v;
    fmt::print(" **{:.1f}** |", sum);
  }
  fmt::print("\n");
  std::vector<double> all{-1};
  all.insert(all.end(), rhos.begin(), rhos.end());
  const int wall_reps = 41;
  const auto wall = interleaved_wall(all, wall_reps);
  fmt::print("\nbackward wall time without the profiler, configurations interleaved, {} passes each\n\n"
             "| configuration | median ms | min | max | speedup vs QAT (medians) | counted backward MACs (G) | "
             "ideal speedup (MACs) |\n|---|---|---|---|---|---|---|\n",
             wall_reps);
  for (std::size_t i = 0; i < all.size(); ++i) {
    fmt::print("| {} | {:.1f} | {:.1f} | {:.1f} | {:.2f}x | {:.3f} | {:.2f}x |\n", runs[i].first,
               wall[i].median, wall[i].min, wall[i].max, wall[0].median / wall[i].median,
               static_cast<double>(wall[i].macs) / 1e9,
               static_cast<double>(wall[i].full_macs) / static_cast<double>(wall[i].macs));
  }
  conv_microbenchmark();
  // The ops behind the categories: the largest self times of each run.
  for (const auto& [name, t] : runs) {
    std::vector<std::pair<double, std::string>> ops;
    for (const auto& [c, v] : t) {
      if (c.rfind("op: ", 0) == 0) ops.emplace_back(v, c.substr(4));
    }
    std::sort(ops.rbegin(), ops.rend());
    fmt::print("\n{}: largest self times (ms per backward)\n", name);
    for (std::size_t i = 0; i < std::min<std::size_t>(8, ops.size()); ++i) {
      fmt::print("  {:8.1f}  {}\n", ops[i].first, ops[i].second);
    }
  }
  return 0;
}
