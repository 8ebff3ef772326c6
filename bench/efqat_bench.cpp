// Backward-pass time of EfQAT versus full QAT on the same fake-quantized ResNet-20 and batch,
// in one process (docs/results/efqat.md). Only loss.backward() is timed (manual time); the
// counted backward GEMM MACs and the ideal ratio 2/(1 + rho) of efqat.md §7 are reported
// next to the measured one.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <map>
#include <memory>

#include "efqat_setup.h"

namespace {

using namespace nc::compress;

struct Measured {
  double seconds = 0;
  int64_t iterations = 0, macs = 0, full_macs = 0;
};
std::map<std::string, Measured>& results() {
  static std::map<std::string, Measured> r;
  return r;
}

// rho_percent < 0: full QAT with LibTorch's own conv/linear backward (the reference).
// quant = 0 turns every fake quantizer off (same graph otherwise), which separates the
// fake-quant backward from the GEMM work the cost model counts.
void backward(benchmark::State& state) {
  const int64_t rho_percent = state.range(0), batch = state.range(1), quant = state.range(2);
  nc::bench::EfqatSetup setup(static_cast<double>(rho_percent) / 100.0, batch, quant != 0);
  auto& net = *setup.net;
  Measured m;
  for (auto _ : state) {
    const auto loss = setup.loss();
    const auto t0 = std::chrono::steady_clock::now();
    loss.backward();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(s);
    m.seconds += s;
    ++m.iterations;
  }
  m.macs = net.backward_macs();
  m.full_macs = net.full_backward_macs();
  state.counters["bwd_GMAC"] = static_cast<double>(m.macs) / 1e9;
  state.counters["mac_fraction"] = static_cast<double>(m.macs) / static_cast<double>(m.full_macs);
  const std::string label = rho_percent < 0 ? "qat" : fmt::format("efqat-cwpn-rho{}", rho_percent);
  state.SetLabel(label);
  results()[fmt::format("{}/b{}/fakequant-{}", label, batch, quant ? "on" : "off")] = m;
}

BENCHMARK(backward)
    ->ArgsProduct({{-1, 100, 50, 25, 10, 0}, {64}, {1, 0}})
    ->ArgNames({"rho_percent", "batch", "quant"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // Ratios against full QAT measured in this same process.
  const auto& r = results();
  for (const auto& [name, m] : r) {
    if (name.rfind("qat/", 0) != 0) continue;
    const std::string suffix = name.substr(3);
    const double qat_s = m.seconds / static_cast<double>(m.iterations);
    fmt::print("\nbackward time vs full QAT (ResNet-20, W4A4, {}; QAT {:.1f} ms, {:.3f} GMAC):\n",
               suffix.substr(1), qat_s * 1e3, m.full_macs / 1e9);
    fmt::print("| config | backward ms | measured speedup | counted MACs (G) | ideal speedup (MACs) |\n"
               "|---|---|---|---|---|\n");
    for (const auto& [other, o] : r) {
      if (other.size() < suffix.size() || other.compare(other.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
      const double s = o.seconds / static_cast<double>(o.iterations);
      fmt::print("| {} | {:.1f} | {:.2f}x | {:.3f} | {:.2f}x |\n", other, s * 1e3, qat_s / s,
                 o.macs / 1e9, static_cast<double>(o.full_macs) / static_cast<double>(o.macs));
    }
  }
  return 0;
}
