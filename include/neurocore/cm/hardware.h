#pragma once
// The CM accelerator's hardware description (docs/cm.md, "Hardware spec"), read from YAML.
// Every field has a default (the values below); configs/hw/*.yaml are examples.
//
// Reading (through nc::ConfigSection) validates at the door: a bad value is a UserError naming
// the file, the dotted field, the value seen and what was expected ("hw.yaml: crossbar.rows
// must be a positive integer, got '-3' (line 2)"); an unknown key is a UserError suggesting
// the closest valid key.
#include <cstdint>
#include <string>
#include <vector>

namespace nc::cm {

struct Hardware {
  std::string name = "default";
  // crossbar: one analog array per core.
  int64_t crossbar_rows = 256;  // inputs (word lines): C_in*kh*kw entries of a weight matrix
  int64_t crossbar_cols = 256;  // outputs (bit lines): C_out entries
  // cores: how many the chip has; 0 = unlimited (the mapping reports what it needs).
  int64_t cores = 0;
  // precision (bits).
  int64_t weight_bits = 8;
  int64_t activation_bits = 8;  // activations sent between cores
  int64_t psum_bits = 16;       // partial sums sent to the accumulating core of a split layer
  int64_t dac_bits = 8;
  int64_t adc_bits = 8;
  // timing.
  double clock_ghz = 1.0;        // the simulator counts cycles of this clock
  double mvm_ns = 100.0;         // one crossbar matrix-vector multiply, DAC to ADC [guess]
  double digital_op_ns = 1.0;    // one digital-unit op (add, activation, pooling step) per element
  // buffer: local memory per core for the objects it reads (padded layout).
  int64_t buffer_bytes = 65536;
  // link: one directed channel between two cores.
  double link_bandwidth_gbps = 64.0;  // Gbit/s (= bits per ns)
  double link_latency_ns = 5.0;       // per hop
  // energy [guess defaults; replace with the target technology's numbers].
  double energy_mvm_pj = 50.0;           // the analog array, per MVM
  double energy_adc_pj = 1.0;            // per ADC conversion (one per used column per MVM)
  double energy_digital_op_pj = 0.1;     // per digital-unit op
  double energy_bit_moved_pj = 0.1;      // per bit per hop
  // fabric.
  std::string topology = "5pp";

  /// The fabric topology names accepted in fabric.topology.
  static const std::vector<std::string>& topologies();

  /// Parses YAML text; `origin` names it in messages. `sets` are overrides "key.path=value"
  /// (e.g. "buffer.bytes_per_core=4194304", the value parsed as YAML), applied in order with
  /// nc::Config::set before validation, so that an overridden value is checked as a value of
  /// the file would be and an unknown key gets the closest valid one suggested. Throws
  /// UserError (see above; a malformed assignment too).
  static Hardware from_yaml(const std::string& text, const std::string& origin = "hw.yaml",
                            const std::vector<std::string>& sets = {});
  /// Reads a file, then applies `sets` as from_yaml does. Throws UserError when it cannot be
  /// read or is invalid.
  static Hardware load(const std::string& path, const std::vector<std::string>& sets = {});
  /// YAML text of every field (round-trips through from_yaml).
  std::string to_yaml() const;

  /// Cycles of `clock_ghz` needed for `ns` nanoseconds, rounded up (at least 1 when ns > 0).
  int64_t cycles(double ns) const;
};

}  // namespace nc::cm
