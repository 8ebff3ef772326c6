// `neurocore train` of an ASR config, `transcribe` (plain and --stream) and `data export
// speech` end to end on a tiny corpus; bad inputs exit with code 2 and a message naming them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/run_cli.h"

namespace {

namespace fs = std::filesystem;

TEST(CliAsr, TrainTranscribeStreamAndExport) {
  if (std::system("espeak-ng --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "espeak-ng not installed";
  const auto dir = nc::test::fresh_temp_path("asr", "e2e");
  fs::create_directories(dir);
  const std::string corpus = (dir / "corpus").string();
  std::ofstream(dir / "c.yaml") << "runs_dir: " << (dir / "runs").string()
                                << "\nname: tiny\nthreads: 1\ndata: {name: speech, train: 4, valid: 2, "
                                   "test: 2, corpus_seed: 5, dir: "
                                << corpus
                                << "}\nmodel: {unit: ssnu_aa, layers: 1, hidden: 16, embed: 8, "
                                   "predictor_hidden: 8, joint: 16}\ntrain: {epochs: 1, batch_size: 2}\n";
  auto r = nc::test::run_cli("train " + (dir / "c.yaml").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto run = (dir / "runs" / "tiny").string();
  EXPECT_NE(nc::test::slurp(fs::path(run) / "metrics.jsonl").find("\"test_cer\""), std::string::npos);
  const std::string wav = corpus + "/test-000000.wav";
  r = nc::test::run_cli("transcribe " + run + " " + wav);
  EXPECT_EQ(r.code, 0) << r.output;
  r = nc::test::run_cli("transcribe " + run + " --stream " + wav + " " + wav);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(wav + ": "), std::string::npos) << r.output;
  r = nc::test::run_cli("transcribe " + run + " --split test --beam 2");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"decoder\":\"beam 2\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"utterances\":2"), std::string::npos) << r.output;
  r = nc::test::run_cli("transcribe " + run + " --split test --beam 3 --search alsd --length-norm");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"decoder\":\"alsd beam 3, length-normalised\""), std::string::npos) << r.output;
  r = nc::test::run_cli("transcribe " + run + " --split test --search graves");  // no beam
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("give --beam N"), std::string::npos) << r.output;
  r = nc::test::run_cli("transcribe " + run + " --split test --beam 2 --search wide");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--search: expected modified, graves or alsd, got 'wide'"), std::string::npos) << r.output;
  r = nc::test::run_cli("transcribe " + run);  // neither files nor --split
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--split"), std::string::npos) << r.output;
  r = nc::test::run_cli("transcribe " + run + " --split dev");
  EXPECT_EQ(r.code, 2) << r.output;
  // Per-utterance normalisation needs the whole utterance: --stream refuses such a run.
  const auto per_utt = dir / "runs" / "per-utt";
  fs::copy(run, per_utt, fs::copy_options::recursive);
  {
    auto yaml = nc::test::slurp(per_utt / "config.yaml");
    const auto at = yaml.find("normalization: global");
    ASSERT_NE(at, std::string::npos) << yaml;
    yaml.replace(at, 21, "normalization: utterance");
    std::ofstream(per_utt / "config.yaml") << yaml;
  }
  r = nc::test::run_cli("transcribe " + per_utt.string() + " " + wav);
  EXPECT_EQ(r.code, 0) << r.output;
  r = nc::test::run_cli("transcribe " + per_utt.string() + " --stream " + wav);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("per utterance"), std::string::npos) << r.output;
  r = nc::test::run_cli("data export speech --count 1 --out " + (dir / "export").string() +
                        " --set data.dir=" + corpus);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "export" / "test-000000.wav"));
  EXPECT_TRUE(fs::exists(dir / "export" / "test-000000.txt"));

  std::ofstream(dir / "text.wav") << "not audio\n";
  r = nc::test::run_cli("transcribe " + run + " " + (dir / "text.wav").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("text.wav"), std::string::npos) << r.output;
  r = nc::test::run_cli("transcribe " + (dir / "no-run").string() + " " + wav);
  EXPECT_EQ(r.code, 2) << r.output;
  r = nc::test::run_cli("train " + (dir / "c.yaml").string() + " --set model.unit=gru --dry-run");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("model.unit"), std::string::npos) << r.output;
}

}  // namespace
