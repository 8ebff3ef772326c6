// Parameter counts and multiply-accumulates per riddle of the oddity models as the shipped
// configs build them (docs/results/oddity.md): a markdown table.
//
//   nc_oddity_models [--resolution=50]
#include <fmt/format.h>
#include <torch/torch.h>

#include "int_flag.h"
#include "neurocore/core/config.h"
#include "neurocore/nn/net.h"
#include "neurocore/nn/oddity_nets.h"

int main(int argc, char** argv) {
  int resolution = 50;
  for (int i = 1; i < argc; ++i) {
    if (!nc::bench::int_flag(argv[i], "resolution", 1, 100, resolution)) {
      fmt::print(stderr, "unknown argument '{}'; flag: --resolution=R\n", argv[i]);
      return 2;
    }
  }
  fmt::print("| config | model | parameters | MACs per riddle (forward) |\n|---|---|---:|---:|\n");
  for (const char* name : {"oddity-oren", "oddity-snu-saccade", "oddity-snu-saccade-matched"}) {
    auto c = nc::Config::load(std::string(NC_SOURCE_DIR) + "/configs/" + name + ".yaml");
    const auto in = nc::nn::InputShape{6, resolution, resolution};
    auto m = nc::nn::make_model(c.root().section("model"), in, 6);
    int64_t macs = 0;
    if (auto* o = dynamic_cast<nc::nn::OReNImpl*>(m.get())) macs = o->macs();
    if (auto* s = dynamic_cast<nc::nn::SaccadeSNUImpl*>(m.get())) macs = s->macs();
    fmt::print("| {} | {} | {} | {:.2f} M |\n", name, c.root().section("model").string("name", ""),
               nc::nn::count_parameters(*m), macs / 1e6);
  }
  return 0;
}
