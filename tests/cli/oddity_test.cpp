// `neurocore data export oddity` (PNG, PGM, ODD1) and a one-epoch oddity run through the real executable.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/run_cli.h"

namespace {

using nc::test::fresh_temp_path;
using nc::test::run_cli;

TEST(CliOddity, ExportWritesOneSheetPerRiddleAndSample) {
  const auto out = fresh_temp_path("cli", "oddity_export");
  const auto r = run_cli("data export oddity --count 2 --set 'data.oddity.riddles=[0, 44]' --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  int pngs = 0;
  for (const auto& e : std::filesystem::directory_iterator(out)) pngs += e.path().extension() == ".png";
  EXPECT_EQ(pngs, 4);
  std::filesystem::remove_all(out);
}

TEST(CliOddity, ExportWritesPgmSheetsAndTheOdd1File) {
  const auto out = fresh_temp_path("cli", "oddity_odd1");
  auto r = run_cli("data export oddity --format odd1 --split valid --count 5 --set data.oddity.resolution=10 --out " +
                   out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  // 17 header bytes, then per sample riddle id, label and 6 panels of 10 x 10.
  EXPECT_EQ(std::filesystem::file_size(out / "oddity-valid.odd1"), 17u + 5u * (2u + 600u));
  r = run_cli("data export oddity --format pgm --count 1 --set 'data.oddity.riddles=[3]' --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  int pgms = 0;
  for (const auto& e : std::filesystem::directory_iterator(out)) {
    if (e.path().extension() != ".pgm") continue;
    ++pgms;
    std::ifstream in(e.path(), std::ios::binary);
    std::string magic(2, ' ');
    in.read(magic.data(), 2);
    EXPECT_EQ(magic, "P5") << e.path();
  }
  EXPECT_EQ(pgms, 1);
  std::filesystem::remove_all(out);
}

TEST(CliOddity, BadOptionsExitWithCode2) {
  const auto out = fresh_temp_path("cli", "oddity_bad");
  auto r = run_cli("data export oddity --set data.oddity.resolution=30 --out " + out.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("data.oddity.resolution: got 30"), std::string::npos) << r.output;
  r = run_cli("data export oddity --format gif --out " + out.string());
  EXPECT_EQ(r.code, 2) << r.output;
  r = run_cli("data export oddity --split static --out " + out.string());
  EXPECT_EQ(r.code, 2) << r.output;
  r = run_cli("data export oddity --format odd1 --count -1 --out " + out.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--count: got -1"), std::string::npos) << r.output;
  std::filesystem::remove_all(out);
}

TEST(CliOddity, TrainWritesThePerRiddleReport) {
  const auto runs = fresh_temp_path("cli", "oddity_train");
  const auto r = run_cli(std::string("--log-level warn train ") + NC_SOURCE_DIR +
                         "/configs/oddity-snu-saccade.yaml --set train.epochs=1 --set data.limit_train=32 "
                         "--set data.limit_valid=8 --set data.limit_test=45 --set threads=1 "
                         "--set model.hidden=16 --set model.features=16 --set data.oddity.resolution=20 "
                         "--set name=t --set runs_dir=" + runs.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(runs / "t" / "riddle_accuracy.md"));
  std::filesystem::remove_all(runs);
}

TEST(CliOddity, TrainsFromOdd1FilesAndRefusesABadOneBeforeWriting) {
  const auto dir = fresh_temp_path("cli", "oddity_files");
  for (const auto& [split, count] : {std::pair<std::string, int>{"train", 32}, {"valid", 8}, {"test", 45}}) {
    const auto r = run_cli("data export oddity --format odd1 --split " + split + " --count " + std::to_string(count) +
                           " --set data.oddity.resolution=20 --out " + dir.string());
    ASSERT_EQ(r.code, 0) << r.output;
  }
  const std::string common = std::string("--log-level warn train ") + NC_SOURCE_DIR +
                             "/configs/oddity-snu-saccade.yaml --set train.epochs=1 --set threads=1 "
                             "--set model.hidden=16 --set model.features=16 --set data.oddity.resolution=20 "
                             "--set runs_dir=" + dir.string();
  const std::string files = " --set data.oddity.files.valid=" + (dir / "oddity-valid.odd1").string() +
                            " --set data.oddity.files.test=" + (dir / "oddity-test.odd1").string();
  auto r = run_cli(common + files + " --set data.oddity.files.train=" + (dir / "oddity-train.odd1").string() +
                   " --set name=t");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "t" / "riddle_accuracy.md"));
  // The valid file given as the training split at another resolution: refused, no run directory.
  r = run_cli(common + files + " --set data.oddity.files.train=" + (dir / "oddity-train.odd1").string() +
              " --set data.oddity.resolution=25 --set name=bad");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("data.oddity.files."), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "bad"));
  std::filesystem::remove_all(dir);
}

}  // namespace
