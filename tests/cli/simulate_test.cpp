// End-to-end checks of `neurocore simulate`: the real executable on a user's .npy and PGM
// inputs, its outputs against the library's functional simulator and the float model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "cli/run_cli.h"
#include "neurocore/cm/compiled.h"
#include "neurocore/cm/simulate.h"
#include "neurocore/cm/torch/torch_eval.h"
#include "neurocore/core/array_file.h"

namespace {

namespace fs = std::filesystem;
using nc::test::slurp;
const auto& run = nc::test::run_cli;

const std::string kSource = NC_SOURCE_DIR;
const std::string kLinear = kSource + "/tests/pipeline/data/linear-28x28.onnx";  // [1, 28, 28] -> 10
const std::string kHw = kSource + "/configs/hw/default.yaml";

fs::path temp_out(const std::string& name) { return nc::test::fresh_temp_path("simulate", name); }

// Three deterministic samples of [1, 28, 28] in [0, 1).
nc::FloatArray three_samples() {
  nc::FloatArray a;
  a.shape = {3, 1, 28, 28};
  for (int64_t i = 0; i < 3 * 784; ++i) a.data.push_back(static_cast<float>((i * 7919) % 1000) / 1000.0f);
  return a;
}

std::vector<std::vector<float>> rows(const nc::FloatArray& a) {
  std::vector<std::vector<float>> out;
  const auto per = static_cast<std::size_t>(a.shape.at(1));
  for (std::size_t i = 0; i < a.data.size(); i += per) out.emplace_back(a.data.begin() + i, a.data.begin() + i + per);
  return out;
}

TEST(CliSimulate, NpyInputEqualsTheLibrarysFunctionalSimulator) {
  const fs::path dir = temp_out("npy");
  fs::create_directories(dir);
  const nc::FloatArray x = three_samples();
  nc::write_npy((dir / "x.npy").string(), x);
  auto r = run("simulate " + kLinear + " --hw " + kHw + " --input " + (dir / "x.npy").string() + " --out " +
               (dir / "out").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const nc::FloatArray y = nc::read_array((dir / "out" / "outputs.npy").string());
  ASSERT_EQ(y.shape, (std::vector<int64_t>{3, 10}));
  // The same compiled model, samples and non-idealities (the defaults) in this process.
  const nc::cm::Compiled c = nc::cm::compile(nc::cm::ModelSource(kLinear), nc::cm::Hardware::load(kHw));
  nc::cm::AnalogOptions analog;
  analog.quantize = true;
  analog.programming_noise = 0.02;
  analog.read_noise = 0.01;
  analog.seed = 1;
  const auto samples = nc::cm::split_samples({1, 28, 28}, x.shape, x.data, "x.npy");
  EXPECT_EQ(rows(y), nc::cm::simulate_samples(c, samples, analog));
  EXPECT_NE(slurp(dir / "out" / "report.md").find("top classes"), std::string::npos);
  fs::remove_all(dir);
}

TEST(CliSimulate, IdealEqualsTheFloatModelAndCompareSaysSo) {
  const fs::path dir = temp_out("ideal");
  fs::create_directories(dir);
  const nc::FloatArray x = three_samples();
  nc::write_npy((dir / "x.npy").string(), x);
  auto r = run("simulate " + kLinear + " --hw " + kHw + " --input " + (dir / "x.npy").string() +
               " --ideal --compare --out " + (dir / "out").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("max relative difference to the float model"), std::string::npos) << r.output;
  const nc::FloatArray y = nc::read_array((dir / "out" / "outputs.npy").string());
  const nc::cm::Compiled c = nc::cm::compile(nc::cm::ModelSource(kLinear), nc::cm::Hardware::load(kHw));
  const torch::Tensor ref = nc::cm::evaluate_with_torch(c.graph(), torch::from_blob(const_cast<float*>(x.data.data()),
                                                                                     {3, 1, 28, 28}).clone())[0];
  const auto got = rows(y);
  for (int64_t i = 0; i < 3; ++i) {
    const torch::Tensor row = ref[i].contiguous();
    EXPECT_LT(nc::cm::max_relative_error(got[static_cast<std::size_t>(i)],
                                         std::vector<float>(row.data_ptr<float>(), row.data_ptr<float>() + 10)),
              1e-4);
  }
  fs::remove_all(dir);
}

TEST(CliSimulate, PgmImageIsOneSample) {
  const fs::path dir = temp_out("pgm");
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "digit.pgm", std::ios::binary);
    f << "P5\n28 28\n255\n";
    for (int i = 0; i < 784; ++i) f.put(static_cast<char>(i % 256));
  }
  auto r = run("simulate " + kLinear + " --hw " + kHw + " --input " + (dir / "digit.pgm").string() +
               " --ideal --top 3 --out " + (dir / "out").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(nc::read_array((dir / "out" / "outputs.npy").string()).shape, (std::vector<int64_t>{1, 10}));
  EXPECT_NE(r.output.find("digit.pgm"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(CliSimulate, BadInputsAreUserErrorsAndWriteNothing) {
  const fs::path dir = temp_out("bad");
  fs::create_directories(dir);
  nc::FloatArray wrong;
  wrong.shape = {2, 27, 28};
  wrong.data.assign(2 * 27 * 28, 0.5f);
  nc::write_npy((dir / "wrong.npy").string(), wrong);
  std::ofstream(dir / "junk.npy") << "not an array";
  const std::string out = (dir / "out").string();
  const std::string base = "simulate " + kLinear + " --hw " + kHw + " --out " + out;

  auto r = run(base + " --input " + (dir / "wrong.npy").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("does not fit the model's input [1, 28, 28]"), std::string::npos) << r.output;
  r = run(base + " --input " + (dir / "junk.npy").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("junk.npy"), std::string::npos) << r.output;
  r = run(base + " --input " + (dir / "missing.npy").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("missing.npy"), std::string::npos) << r.output;
  r = run(base + " --input " + (dir / "wrong.npy").string() + " --hw-set buffer.bytes_per_cor=1024");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("did you mean 'bytes_per_core'"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));
  fs::remove_all(dir);
}

// --hw-set adjusts the spec; a model that does not fit names the value that would.
TEST(CliSimulate, HwSetAndTheValueThatWouldFit) {
  const fs::path dir = temp_out("fit");
  fs::create_directories(dir);
  nc::write_npy((dir / "x.npy").string(), three_samples());
  auto r = run("compile " + kSource + "/tests/cm/data/resnet20-cifar.onnx --hw " + kHw +
               " --hw-set cores=4 --images 1 --out " + (dir / "c").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--hw-set cores=36"), std::string::npos) << r.output;
  r = run("compile " + kSource + "/tests/cm/data/resnet20-cifar.onnx --hw " + kHw +
          " --hw-set buffer.bytes_per_core=1024 --images 1 --out " + (dir / "b").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("the model fits with buffer.bytes_per_core >="), std::string::npos) << r.output;
  fs::remove_all(dir);
}

}  // namespace
