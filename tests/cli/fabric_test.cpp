// End-to-end checks of `neurocore fabric`: the real executable on a zoo model and on an ONNX file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/run_cli.h"

namespace {

namespace fs = std::filesystem;

const auto& run = nc::test::run_cli;

const std::string kSource = NC_SOURCE_DIR;
const std::string kHw = kSource + "/configs/hw/default.yaml";

fs::path temp_out(const std::string& name) { return nc::test::fresh_temp_path("fabric", name); }
using nc::test::slurp;

TEST(CliFabric, HelpShowsExamples) {
  auto r = run("fabric --help");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("Examples"), std::string::npos) << r.output;
}

TEST(CliFabric, ZooModelOnTwoTopologiesWritesTheReport) {
  for (const std::string topology : {"5pp-band", "ring"}) {
    const fs::path out = temp_out(topology);
    auto r = run("fabric resnet20 --hw " + kHw + " --topology " + topology + " --budget 1 --out " + out.string());
    ASSERT_EQ(r.code, 0) << r.output;
    const std::string md = slurp(out / "report.md");
    EXPECT_NE(md.find("Cores: 36"), std::string::npos) << md;
    EXPECT_NE(md.find("| " + topology + " | 36 |"), std::string::npos) << md;
    EXPECT_TRUE(fs::exists(out / ("placement-" + topology + ".dot")));
    EXPECT_TRUE(fs::exists(out / ("links-" + topology + ".md")));
    EXPECT_NE(slurp(out / ("placement-" + topology + ".dot")).find("graph fabric {"), std::string::npos);
    // The timing simulation on the placed fabric, against the ideal fabric.
    EXPECT_NE(md.find("throughput / ideal | latency / ideal |"), std::string::npos) << md;
    EXPECT_NE(md.find("## The pipeline on each fabric (timing simulation)"), std::string::npos) << md;
    fs::remove_all(out);
  }
}

TEST(CliFabric, OnnxModelAt512) {
  const fs::path out = temp_out("onnx");
  auto r = run("fabric " + kSource + "/tests/cm/data/resnet20-cifar.onnx --hw " + kHw +
               " --topology mesh --crossbar 512 --budget 1 --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(slurp(out / "report.md").find("512x512 crossbars"), std::string::npos);
  fs::remove_all(out);
}

TEST(CliFabric, BadFlagsAreUserErrorsNamingFlagValueAndValidValues) {
  const fs::path out = temp_out("bad");
  auto t = run("fabric resnet20 --hw " + kHw + " --topology moebius --out " + out.string());
  EXPECT_EQ(t.code, 2) << t.output;
  EXPECT_NE(t.output.find("--topology"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("moebius"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("5pp-prism"), std::string::npos) << t.output;

  auto x = run("fabric resnet20 --hw " + kHw + " --crossbar 300 --out " + out.string());
  EXPECT_EQ(x.code, 2) << x.output;
  EXPECT_NE(x.output.find("--crossbar"), std::string::npos) << x.output;
  EXPECT_NE(x.output.find("300"), std::string::npos) << x.output;
  EXPECT_NE(x.output.find("256, 512"), std::string::npos) << x.output;

  auto i = run("fabric resnet20 --hw " + kHw + " --images -1 --out " + out.string());
  EXPECT_EQ(i.code, 2) << i.output;
  EXPECT_NE(i.output.find("--images must be >= 0"), std::string::npos) << i.output;

  auto m = run("fabric resnet21 --hw " + kHw + " --out " + out.string());
  EXPECT_EQ(m.code, 2) << m.output;
  EXPECT_NE(m.output.find("resnet21"), std::string::npos) << m.output;
  EXPECT_NE(m.output.find("mobilenet_v2"), std::string::npos) << m.output;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
