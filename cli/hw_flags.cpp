// Shared flags of the compiling commands (see the header).
#include "hw_flags.h"

#include <fmt/format.h>

#include <filesystem>

#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"

namespace nc::cli {

void HwFlags::add_to(CLI::App* cmd) {
  cmd->add_option("--hw", path, "hardware spec (YAML), see configs/hw/ and docs/cm.md")->required();
  cmd->add_option("--hw-set", sets,
                  "adjust one field of the hardware spec, key.path=value (repeatable), e.g. "
                  "--hw-set buffer.bytes_per_core=4194304 --hw-set cores=unlimited");
}

cm::Hardware HwFlags::load() const {
  if (!std::filesystem::is_regular_file(path)) {
    throw UserError(path + ": no such hardware spec file (--hw; examples in configs/hw/)");
  }
  try {
    return cm::Hardware::load(path, sets);  // overrides applied before validation
  } catch (const UserError& e) {
    if (sets.empty()) throw;
    throw UserError(std::string(e.what()) + " (with --hw-set " + join(sets, " ") + ")");
  }
}

cm::Shape parse_shape(const std::string& text) {
  cm::Shape s;
  std::string item;
  auto fail = [&] {
    return UserError("--input-shape: expected C,H,W or F (positive integers, e.g. 1,28,28), got '" + text + "'");
  };
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != ',') {
      item += text[i];
      continue;
    }
    if (item.empty() || item.size() > 12 || item.find_first_not_of("0123456789") != std::string::npos) throw fail();
    s.push_back(std::stoll(item));
    if (s.back() <= 0) throw fail();
    item.clear();
  }
  if (s.size() != 1 && s.size() != 3) throw fail();
  return s;
}

void validate_noise(double programming_noise, double read_noise, int64_t seed) {
  if (!(programming_noise >= 0 && programming_noise <= 10)) {
    throw UserError(fmt::format("--programming-noise must be in [0, 10] (relative to w_max), got {}", programming_noise));
  }
  if (!(read_noise >= 0 && read_noise <= 10)) {
    throw UserError(fmt::format("--read-noise must be in [0, 10] (relative to w_max), got {}", read_noise));
  }
  if (seed < 0) throw UserError("--seed must be >= 0, got " + std::to_string(seed));
}

cm::AnalogOptions analog_options(bool ideal, double programming_noise, double read_noise, int64_t seed) {
  cm::AnalogOptions a;
  a.quantize = !ideal;
  a.programming_noise = ideal ? 0.0 : programming_noise;
  a.read_noise = ideal ? 0.0 : read_noise;
  a.seed = static_cast<uint64_t>(seed);
  return a;
}

void add_noise_flags(CLI::App* cmd, bool& ideal, double& programming_noise, double& read_noise, int64_t& seed) {
  cmd->add_flag("--ideal", ideal, "no non-idealities (no DAC/ADC quantization, no noise)");
  cmd->add_option("--programming-noise", programming_noise,
                  "weight programming noise, std relative to the tile's w_max (once per weight)");
  cmd->add_option("--read-noise", read_noise, "read noise, std relative to w_max (every MVM)");
  cmd->add_option("--seed", seed, "seed of the noise");
}

}  // namespace nc::cli
