// Oddity generator speed (docs/results/oddity.md): riddles drawn and rasterised per second on
// one core, the combined set (riddles uniform over the 45) at the given resolution; the target
// is 10,000 riddles at 50 x 50 in under 10 s, so that training never waits for data. Also the
// time per riddle id, slowest first, to show which generators reject most.
//
//   nc_bench_oddity [--count=10000] [--resolution=50] [--reps=3]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "int_flag.h"
#include "neurocore/data/oddity.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace nc::data::oddity;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  int count = 10000, resolution = 50, reps = 3;
  for (int i = 1; i < argc; ++i) {
    if (nc::bench::int_flag(argv[i], "count", 1, 10000000, count) ||
        nc::bench::int_flag(argv[i], "resolution", 1, 100, resolution) ||
        nc::bench::int_flag(argv[i], "reps", 1, 100, reps)) {
      continue;
    }
    fmt::print(stderr, "unknown argument '{}'; flags: --count=N --resolution=R --reps=N\n", argv[i]);
    return 2;
  }
  OddityOptions o;
  o.resolution = resolution;
  o.validate();
  std::vector<double> times;
  uint64_t checksum = 0;  // keeps the work observable
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    for (int i = 0; i < count; ++i) checksum += split_sample(kCombined, Split::train, i, o).pixels[0];
    times.push_back(since(t0));
  }
  std::sort(times.begin(), times.end());
  const double med = times[times.size() / 2];
  fmt::print("oddity generator, one thread: {} riddles at {}x{} in {:.2f} s (median of {}; min {:.2f} s), "
             "{:.0f} riddles/s, {:.1f} us/riddle; target < 10 s for 10,000 at 50x50: {}\n",
             count, resolution, resolution, med, reps, times.front(), count / med, 1e6 * med / count,
             (resolution == 50 && count == 10000) ? (med < 10 ? "met" : "NOT met") : "n/a");
  fmt::print("\n| riddle | name | us / riddle |\n|---:|---|---:|\n");
  std::vector<std::pair<double, int>> per;
  const int each = std::max(1, count / 100);
  for (int id = 0; id < kRiddles; ++id) {
    const auto t0 = Clock::now();
    for (int i = 0; i < each; ++i) checksum += split_sample(id, Split::train, i, o).pixels[0];
    per.push_back({1e6 * since(t0) / each, id});
  }
  std::sort(per.rbegin(), per.rend());
  for (const auto& [us, id] : per) fmt::print("| {} | {} | {:.1f} |\n", id, riddle_name(id), us);
  fmt::print("\n(checksum {})\n", checksum);
  return 0;
}
