// RNN-T loss speed (docs/asr.md, issue #25): time per batch of loss + gradient of
// nc::asr::rnnt_loss on random float32 logits, and the inputs and results written as raw
// little-endian files so that scripts/reproduce/asr_loss_torchaudio.py can run torchaudio's
// rnnt_loss on the very same numbers and compare values, gradients and time.
//
//   nc_bench_rnnt_loss B T U V REPS THREADS OUT_DIR
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "neurocore/asr/rnnt_loss.h"
#include "neurocore/core/threads.h"

namespace {

void write_raw(const std::string& path, const torch::Tensor& t) {
  auto c = t.contiguous();
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    fmt::print(stderr, "usage: {} B T U V REPS THREADS OUT_DIR\n", argv[0]);
    return 2;
  }
  const int64_t B = std::stoll(argv[1]), T = std::stoll(argv[2]), U = std::stoll(argv[3]),
                V = std::stoll(argv[4]), reps = std::stoll(argv[5]);
  nc::set_threads(std::stoi(argv[6]));
  const std::string out = argv[7];
  std::filesystem::create_directories(out);
  torch::manual_seed(1);
  auto logits = torch::randn({B, T, U + 1, V}, torch::kFloat);
  auto targets = torch::randint(1, V, {B, U}, torch::kInt);
  // Lengths vary; the first utterance has the maximal ones (torchaudio requires it).
  auto logit_lengths = torch::randint(T / 2, T + 1, {B}, torch::kInt);
  auto target_lengths = torch::randint(U / 2, U + 1, {B}, torch::kInt);
  logit_lengths[0] = T;
  target_lengths[0] = U;
  std::vector<double> ms;
  torch::Tensor costs, grad;
  for (int64_t r = 0; r < reps + 1; ++r) {
    auto x = logits.detach().requires_grad_(true);
    const auto t0 = std::chrono::steady_clock::now();
    costs = nc::asr::rnnt_loss(x, targets, logit_lengths, target_lengths,
                               nc::asr::RnntLossOptions().reduction(nc::asr::RnntReduction::None));
    costs.sum().backward();
    const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) ms.push_back(t);  // the first call warms the allocator
    grad = x.grad();
  }
  std::sort(ms.begin(), ms.end());
  write_raw(out + "/logits.f32", logits);
  write_raw(out + "/targets.i32", targets);
  write_raw(out + "/logit_lengths.i32", logit_lengths);
  write_raw(out + "/target_lengths.i32", target_lengths);
  write_raw(out + "/costs.f32", costs.detach());
  write_raw(out + "/grad.f32", grad);
  std::ofstream(out + "/neurocore.json")
      << fmt::format("{{\"B\": {}, \"T\": {}, \"U\": {}, \"V\": {}, \"threads\": {}, \"reps\": {}, "
                     "\"median_ms\": {:.3f}, \"min_ms\": {:.3f}}}\n",
                     B, T, U, V, nc::threads(), reps, ms[ms.size() / 2], ms.front());
  fmt::print("neurocore rnnt_loss B={} T={} U={} V={} threads={}: median {:.2f} ms (min {:.2f})\n",
             B, T, U, V, nc::threads(), ms[ms.size() / 2], ms.front());
  return 0;
}
