#include "neurocore/cm/hardware.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "neurocore/core/error.h"

namespace nc::cm {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    Hardware::from_yaml(yaml, "hw.yaml");
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CmHardware, DefaultsAndDefaultFile) {
  const Hardware d;
  EXPECT_EQ(d.crossbar_rows, 256);
  EXPECT_EQ(d.crossbar_cols, 256);
  EXPECT_EQ(d.cores, 0);
  const Hardware f = Hardware::load(std::string(NC_SOURCE_DIR) + "/configs/hw/default.yaml");
  EXPECT_EQ(f.to_yaml(), d.to_yaml());
  EXPECT_EQ(Hardware::from_yaml("").to_yaml(), d.to_yaml());
}

TEST(CmHardware, EveryExampleLoadsAndRoundTrips) {
  int count = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(NC_SOURCE_DIR) + "/configs/hw")) {
    if (e.path().extension() != ".yaml") continue;
    const Hardware hw = Hardware::load(e.path().string());
    EXPECT_EQ(Hardware::from_yaml(hw.to_yaml()).to_yaml(), hw.to_yaml()) << e.path();
    ++count;
  }
  EXPECT_GE(count, 3);
  const Hardware pcm = Hardware::load(std::string(NC_SOURCE_DIR) + "/configs/hw/pcm64.yaml");
  EXPECT_EQ(pcm.cores, 64);
  EXPECT_EQ(pcm.topology, "mesh");
  EXPECT_DOUBLE_EQ(pcm.mvm_ns, 130);
}

TEST(CmHardware, ReadsEveryField) {
  const Hardware hw = Hardware::from_yaml(R"(
name: t
crossbar: {rows: 128, cols: 64}
cores: 12
precision: {weight_bits: 4, activation_bits: 6, psum_bits: 20, dac_bits: 1, adc_bits: 10}
timing: {clock_ghz: 2, mvm_ns: 50, digital_op_ns: 0.5}
buffer: {bytes_per_core: 1024}
link: {bandwidth_gbps: 16, latency_ns: 0}
energy: {mvm_pj: 1, adc_conversion_pj: 2, digital_op_pj: 3, bit_moved_pj: 4}
fabric: {topology: torus}
)");
  EXPECT_EQ(hw.name, "t");
  EXPECT_EQ(hw.crossbar_rows, 128);
  EXPECT_EQ(hw.crossbar_cols, 64);
  EXPECT_EQ(hw.cores, 12);
  EXPECT_EQ(hw.weight_bits, 4);
  EXPECT_EQ(hw.activation_bits, 6);
  EXPECT_EQ(hw.psum_bits, 20);
  EXPECT_EQ(hw.dac_bits, 1);
  EXPECT_EQ(hw.adc_bits, 10);
  EXPECT_DOUBLE_EQ(hw.clock_ghz, 2);
  EXPECT_DOUBLE_EQ(hw.mvm_ns, 50);
  EXPECT_DOUBLE_EQ(hw.digital_op_ns, 0.5);
  EXPECT_EQ(hw.buffer_bytes, 1024);
  EXPECT_DOUBLE_EQ(hw.link_bandwidth_gbps, 16);
  EXPECT_DOUBLE_EQ(hw.link_latency_ns, 0);
  EXPECT_DOUBLE_EQ(hw.energy_mvm_pj, 1);
  EXPECT_DOUBLE_EQ(hw.energy_adc_pj, 2);
  EXPECT_DOUBLE_EQ(hw.energy_digital_op_pj, 3);
  EXPECT_DOUBLE_EQ(hw.energy_bit_moved_pj, 4);
  EXPECT_EQ(hw.topology, "torus");
  EXPECT_EQ(hw.cycles(50), 100);
  EXPECT_EQ(hw.cycles(0.1), 1);
  EXPECT_EQ(Hardware::from_yaml("cores: unlimited").cores, 0);
}

TEST(CmHardware, InvalidValuesNameFieldValueAndExpectation) {
  EXPECT_EQ(error_of("crossbar: {rows: -3}"),
            "hw.yaml: crossbar.rows must be a positive integer, got '-3' (line 1)");
  EXPECT_NE(error_of("crossbar:\n  cols: 2.5").find("crossbar.cols must be a positive integer, got '2.5'"),
            std::string::npos);
  EXPECT_NE(error_of("cores: 0").find("cores must be a positive integer or 'unlimited', got '0'"),
            std::string::npos);
  EXPECT_NE(error_of("cores: many").find("got 'many'"), std::string::npos);
  EXPECT_NE(error_of("precision: {adc_bits: 40}").find("precision.adc_bits must be an integer number of bits in [1, 24], got '40'"),
            std::string::npos);
  EXPECT_NE(error_of("timing: {mvm_ns: 0}").find("timing.mvm_ns must be a positive number, got '0'"),
            std::string::npos);
  EXPECT_NE(error_of("link: {latency_ns: -1}").find("link.latency_ns must be a number >= 0, got '-1'"),
            std::string::npos);
  EXPECT_NE(error_of("energy: {mvm_pj: abc}").find("energy.mvm_pj must be a number >= 0, got 'abc'"),
            std::string::npos);
  EXPECT_NE(error_of("buffer: {bytes_per_core: [1]}").find("buffer.bytes_per_core must be a positive integer"),
            std::string::npos);
  EXPECT_NE(error_of("fabric: {topology: tours}").find("did you mean 'torus'?"), std::string::npos);
  EXPECT_NE(error_of("crossbar: 256").find("crossbar must be a mapping"), std::string::npos);
  EXPECT_NE(error_of("[1, 2]").find("top level must be a mapping"), std::string::npos);
  EXPECT_NE(error_of("a: [").find("not valid YAML"), std::string::npos);
  EXPECT_THROW(Hardware::load("/nonexistent/hw.yaml"), UserError);
}

TEST(CmHardware, UnknownKeysSuggestTheClosest) {
  EXPECT_EQ(error_of("crossbar: {rws: 128}"),
            "hw.yaml: unknown key 'rws' in crossbar (line 1): did you mean 'rows'?");
  EXPECT_NE(error_of("precison: {}").find("unknown key 'precison' at the top level (line 1): did you mean 'precision'?"),
            std::string::npos);
  EXPECT_NE(error_of("energy: {bit_moved_pJ: 1}").find("did you mean 'bit_moved_pj'"), std::string::npos);
  EXPECT_NE(error_of("zzzzzz: 1").find("valid keys: name, crossbar"), std::string::npos);
}

TEST(CmHardware, OverridesApplyBeforeValidation) {
  const std::string pcm = std::string(NC_SOURCE_DIR) + "/configs/hw/pcm64.yaml";
  const Hardware hw = Hardware::load(pcm, {"buffer.bytes_per_core=4194304", "cores=unlimited",
                                           "fabric.topology=torus"});
  EXPECT_EQ(hw.buffer_bytes, 4194304);
  EXPECT_EQ(hw.cores, 0);
  EXPECT_EQ(hw.topology, "torus");
  EXPECT_DOUBLE_EQ(hw.mvm_ns, 130);  // the file's other values stay
  EXPECT_EQ(Hardware::from_yaml("crossbar: {rows: 64}", "hw.yaml", {"crossbar.cols=32"}).crossbar_cols, 32);
  // An overridden value is validated as a value of the file.
  try {
    Hardware::load(pcm, {"crossbar.rows=-3"});
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(pcm + ": crossbar.rows must be a positive integer, got '-3'"),
              std::string::npos) << e.what();
  }
}

TEST(CmHardware, UnknownOverrideKeySuggestsTheClosest) {
  try {
    Hardware::from_yaml("", "hw.yaml", {"buffer.bytes_per_cor=1024"});
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()),
              "hw.yaml: unknown key 'bytes_per_cor' in buffer: did you mean 'bytes_per_core'?");
  }
  try {
    Hardware::from_yaml("", "hw.yaml", {"bufer.bytes_per_core=1024"});
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'bufer' at the top level: did you mean 'buffer'?"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(Hardware::from_yaml("", "hw.yaml", {"cores"}), UserError);  // not key=value
}

}  // namespace
}  // namespace nc::cm
