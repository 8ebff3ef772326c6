#pragma once
// Flags shared by the commands that compile a model (compile, simulate, fabric): the hardware
// spec with its command-line adjustments, the input shape, and the analog non-idealities.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "neurocore/cm/functional.h"
#include "neurocore/cm/graph.h"
#include "neurocore/cm/hardware.h"

namespace nc::cli {

/// --hw HW.yaml and --hw-set key.path=value (repeatable).
struct HwFlags {
  std::string path;
  std::vector<std::string> sets;

  /// Registers both flags on `cmd` (--hw required).
  void add_to(CLI::App* cmd);
  /// The spec with the overrides applied, validated as a file would be: an unknown key gets
  /// the closest valid one ("unknown key 'bytes_per_cor' in buffer: did you mean
  /// 'bytes_per_core'?"). Throws UserError naming --hw or --hw-set.
  cm::Hardware load() const;
};

/// "1,28,28" -> {1, 28, 28}: C,H,W or F, positive integers. Throws UserError naming --input-shape.
cm::Shape parse_shape(const std::string& text);

/// Checks --programming-noise, --read-noise (in [0, 10]) and --seed (>= 0).
void validate_noise(double programming_noise, double read_noise, int64_t seed);
/// The functional simulator's non-idealities from the flags (--ideal: none).
cm::AnalogOptions analog_options(bool ideal, double programming_noise, double read_noise, int64_t seed);
/// Registers --ideal, --programming-noise, --read-noise and --seed.
void add_noise_flags(CLI::App* cmd, bool& ideal, double& programming_noise, double& read_noise, int64_t& seed);

}  // namespace nc::cli
