// `neurocore quantize`: argument errors (exit 2, naming the option) and a tiny end-to-end
// PTQ and EfQAT run on a freshly trained MLP.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/run_cli.h"

namespace {

namespace fs = std::filesystem;
const auto& run = nc::test::run_cli;

TEST(Quantize, HelpShowsExamples) {
  auto r = run("quantize --help");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("--method efqat"), std::string::npos) << r.output;
}

TEST(Quantize, BadArgumentsAreUserErrorsNamingTheOption) {
  auto r = run("quantize /nonexistent --bits W4");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("W<bits>A<bits>"), std::string::npos) << r.output;
  r = run("quantize /nonexistent --bits W9A8");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("between 2 and 8"), std::string::npos) << r.output;
  r = run("quantize /nonexistent --method adaround");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("ptq, efqat or qat"), std::string::npos) << r.output;
  r = run("quantize /nonexistent --mode cw");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("cwpn, cwpl or lwpn"), std::string::npos) << r.output;
  r = run("quantize /nonexistent --fraction 2");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--fraction"), std::string::npos) << r.output;
  r = run("quantize /nonexistent/run");
  EXPECT_EQ(r.code, 2) << r.output;
}

TEST(Quantize, PtqAndEfqatOnATrainedMlp) {
  const char* home = std::getenv("HOME");
  const char* data = std::getenv("NC_DATA");
  const fs::path cache = data && *data ? fs::path(data) : fs::path(home ? home : ".") / ".cache/neurocore";
  if (!fs::exists(cache / "mnist-10k" / "digits" / "9.json")) GTEST_SKIP() << "mnist-10k not installed";
  const fs::path dir = fs::temp_directory_path() / ("nc_quantize_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "mlp.yaml")
      << "name: mlp\nseed: 1\nthreads: 1\nruns_dir: " << dir.string()
      << "\ndata:\n  name: mnist-10k\n  limit_train: 512\n  limit_test: 256\nmodel:\n  name: mlp\n"
         "  hidden: [32]\ntrain:\n  epochs: 1\n  batch_size: 64\n  learning_rate: 0.05\n";
  auto r = run("train " + (dir / "mlp.yaml").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string src = (dir / "mlp").string();
  r = run("quantize " + src + " --method ptq --bits W4A8 --calib 128 --out " + (dir / "ptq").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("PTQ W4A8: test accuracy"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir / "ptq" / "report.md"));
  EXPECT_TRUE(fs::exists(dir / "ptq" / "quantized.pt"));
  // With data.validation the final record carries valid_acc and test_acc (what a sweep selects
  // on); without it, test_acc only.
  r = run("quantize " + src + " --method ptq --bits W4A8 --calib 128 --set data.validation=true --out " +
          (dir / "ptq-valid").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("final: validation accuracy"), std::string::npos) << r.output;
  const auto last_record = [](const fs::path& run_dir) {
    std::ifstream in(run_dir / "metrics.jsonl");
    std::string line, last;
    while (std::getline(in, line)) if (!line.empty()) last = line;
    return last;
  };
  const std::string with_valid = last_record(dir / "ptq-valid");
  EXPECT_NE(with_valid.find("\"valid_acc\""), std::string::npos) << with_valid;
  EXPECT_NE(with_valid.find("\"test_acc\""), std::string::npos) << with_valid;
  const std::string without = last_record(dir / "ptq");
  EXPECT_EQ(without.find("\"valid_acc\""), std::string::npos) << without;
  EXPECT_NE(without.find("\"test_acc\""), std::string::npos) << without;
  r = run("quantize " + src + " --method efqat --bits W4A4 --mode cwpl --fraction 0.25 --calib 128 --out " +
          (dir / "efqat").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("efqat (8 steps"), std::string::npos) << r.output;
  std::ifstream report(dir / "efqat" / "report.md");
  const std::string text((std::istreambuf_iterator<char>(report)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("| 0 | layers.0 | Linear |"), std::string::npos) << text;
  EXPECT_NE(text.find("8/32"), std::string::npos) << text;  // ⌈0.25 · 32⌉ rows selected

  // The integer model is compiled from the quantize run directory.
  ASSERT_TRUE(fs::exists(dir / "efqat" / "quantized.ncq"));
  EXPECT_TRUE(fs::exists(dir / "efqat" / "quantized_torchscript.pt"));
  const std::string hw = std::string(" --hw ") + NC_SOURCE_DIR + "/configs/hw/default.yaml";
  r = run("compile " + (dir / "efqat").string() + hw + " --out " + (dir / "compiled").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("integer weights from " + (dir / "efqat" / "quantized.ncq").string()),
            std::string::npos) << r.output;
  // A damaged one is a user error naming the file.
  fs::resize_file(dir / "efqat" / "quantized.ncq", fs::file_size(dir / "efqat" / "quantized.ncq") - 5);
  r = run("compile " + (dir / "efqat").string() + hw + " --out " + (dir / "compiled2").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("quantized.ncq: truncated"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

}  // namespace
