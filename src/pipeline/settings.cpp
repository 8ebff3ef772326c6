#include "settings.h"

#include <fmt/format.h>

#include <filesystem>
#include <regex>

#include "neurocore/cm/topology.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"

namespace nc::pipeline {

const std::vector<std::string>& settings_sections() {
  static const std::vector<std::string> s{"prune", "quantize", "compile", "place", "simulate", "evaluate"};
  return s;
}

std::string PruneSettings::text() const {
  if (method == "none") return "method=none";
  return fmt::format("method={} budget={} kind={} granularity={} epochs={} lr={}", method, budget,
                     budget_kind, granularity, epochs, lr);
}

std::string QuantizeSettings::text() const {
  if (method == "none") return "method=none";
  // export=ncq: the stage writes the integer model (a stage from before it ran again).
  return fmt::format("method={} bits={} mode={} fraction={} epochs={} calib={} export=ncq", method,
                     bits, mode, fraction, epochs, calib);
}
std::string CompileSettings::text() const { return "hw=" + hw_text; }
std::string PlaceSettings::text() const {
  return fmt::format("topology={} budget={}", topology, time_budget_s);
}
std::string SimulateSettings::text() const { return fmt::format("images={}", images); }
std::string EvaluateSettings::text() const {
  // full_if_under_s appears only when set, so stages evaluated before it existed stay up to date.
  return fmt::format("limit={} images={} quantize={} out_bound={} programming={} read={} seed={}{}",
                     limit, images, analog.quantize, analog.out_bound, analog.programming_noise,
                     analog.read_noise, analog.seed,
                     full_if_under_s > 0 ? fmt::format(" full_if_under_s={}", full_if_under_s) : "");
}

Settings Settings::from_config(const Config& config) {
  Settings s;
  auto root = config.root();
  const std::string origin = config.origin();

  auto pr = root.section("prune");
  s.prune.method = pr.choice("method", "none", {"none", "dtp", "magnitude", "uniform", "l1", "gmp", "ste"});
  s.prune.budget = pr.number("budget", 0.5, 0.0, 1.0);
  if (s.prune.budget <= 0 || s.prune.budget >= 1) {
    throw UserError(origin + ": prune.budget: expected the kept fraction in (0, 1), got " +
                    fmt::format("{}", s.prune.budget));
  }
  s.prune.budget_kind = pr.choice("budget_kind", "params", {"params", "flops"});
  s.prune.granularity = pr.choice("granularity", "channel", {"weight", "channel"});
  s.prune.epochs = pr.integer("epochs", 1, 0, 1000);
  s.prune.lr = pr.number("lr", 0.0, 0.0);
  pr.finish();

  auto q = root.section("quantize");
  s.quantize.method = q.choice("method", "none", {"none", "ptq", "efqat", "qat"});
  s.quantize.bits = q.string("bits", "W8A8");
  if (!std::regex_match(s.quantize.bits, std::regex("W[2-8]A[2-8]"))) {
    throw UserError(origin + ": quantize.bits: expected W<b>A<b> with b in 2..8 (e.g. W4A4), got '" +
                    s.quantize.bits + "'");
  }
  s.quantize.mode = q.choice("mode", "cwpn", {"cwpn", "cwpl", "lwpn"});
  s.quantize.fraction = q.number("fraction", 0.1, 0.0, 1.0);
  s.quantize.epochs = q.integer("epochs", 1, 0, 1000);
  s.quantize.calib = q.integer("calib", 1024, 1);
  q.finish();

  auto c = root.section("compile");
  s.compile.hw_path = c.string("hw", "configs/hw/default.yaml");
  c.finish();
  if (!std::filesystem::is_regular_file(s.compile.hw_path)) {
    throw UserError(origin + ": compile.hw: no such hardware spec file '" + s.compile.hw_path +
                    "' (examples in configs/hw/)");
  }
  s.compile.hw_text = read_file(s.compile.hw_path);
  s.compile.hw = cm::Hardware::from_yaml(s.compile.hw_text, s.compile.hw_path);

  auto p = root.section("place");
  s.place.topology = p.string("topology", "");
  s.place.time_budget_s = p.number("time_budget_s", 5.0, 0.0, 3600.0);
  p.finish();
  if (s.place.topology.empty()) s.place.topology = s.compile.hw.topology;
  try {
    cm::Topology::make(s.place.topology, 1);  // validates the name only
  } catch (const UserError& e) {
    throw UserError(origin + ": place.topology: " + e.what());
  }

  auto sim = root.section("simulate");
  s.simulate.images = sim.integer("images", 10, 1, 100000);
  sim.finish();

  auto ev = root.section("evaluate");
  s.evaluate.limit = ev.integer("limit", 0, 0);
  s.evaluate.images = ev.integer("images", 200, 0);
  s.evaluate.full_if_under_s = ev.number("full_if_under_s", 0.0, 0.0);
  auto an = ev.section("analog");
  s.evaluate.analog.quantize = an.boolean("quantize", true);
  s.evaluate.analog.out_bound = an.number("out_bound", 12.0, 1e-6);
  s.evaluate.analog.programming_noise = an.number("programming_noise", 0.02, 0.0, 10.0);
  s.evaluate.analog.read_noise = an.number("read_noise", 0.01, 0.0, 10.0);
  s.evaluate.analog.seed = static_cast<uint64_t>(an.integer("seed", 1, 0));
  an.finish();
  ev.finish();
  return s;
}

}  // namespace nc::pipeline
