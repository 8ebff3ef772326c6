// The speech corpus, the ASR configs and the training loop: determinism and the speaker split
// (asr.md §10, property 10), a tiny model overfitting a few utterances to WER 0, a run with
// resume (issue #25).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "neurocore/asr/train.h"
#include "neurocore/asr/wer.h"
#include "neurocore/core/error.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/data/speech_corpus.h"
#include "neurocore/data/speech_text.h"

namespace nc::asr {
namespace {

namespace fs = std::filesystem;

bool have_espeak() { return std::system("espeak-ng --version > /dev/null 2>&1") == 0; }

std::string temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("nc_asr_train_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d.parent_path());
  return d.string();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

data::SpeechCorpusOptions tiny_corpus(const std::string& dir, int64_t n = 4) {
  data::SpeechCorpusOptions o;
  o.task = "digits";
  o.train = n, o.valid = 2, o.test = 2;
  o.seed = 7;
  o.dir = dir;
  return o;
}

TEST(AsrConfigs, ShippedConfigsBuildAndBadKeysAreUserErrors) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(NC_SOURCE_DIR) / "configs")) {
    const auto name = entry.path().filename().string();
    if (name.rfind("asr-", 0) != 0) continue;
    auto c = Config::load(entry.path().string());
    EXPECT_TRUE(is_asr_config(c)) << name;
    EXPECT_NO_THROW(AsrExperiment::build(c)) << name;
    ++n;
  }
  EXPECT_GE(n, 4);
  auto bad = [](const std::string& set) {
    auto c = Config::from_string("threads: 1\ndata: {name: speech}\n");
    c.set(set);
    AsrExperiment::build(c);
  };
  EXPECT_THROW(bad("model.unit=gru"), UserError);
  EXPECT_THROW(bad("data.features=wav"), UserError);
  EXPECT_THROW(bad("model.bidirectional=true"), UserError);  // ssnu_aa cannot be
  EXPECT_THROW(bad("train.loss_reduction=average"), UserError);
  EXPECT_THROW(bad("train.epoch=3"), UserError);  // unknown key
  auto ok = Config::from_string("threads: 1\ndata: {name: speech}\n");
  ok.set("model.unit=lstm");
  ok.set("model.bidirectional=true");
  EXPECT_NO_THROW(AsrExperiment::build(ok));
}

TEST(SpeechCorpus, SameSeedSameBytesAndSpeakersSplit) {
  for (const auto& split : {"valid", "test"})
    for (const auto& s : data::split_speakers(split))
      for (const auto& t : data::split_speakers("train"))
        EXPECT_FALSE(s.voice == t.voice && s.variant == t.variant) << s.voice << "+" << s.variant;
  for (const auto& s : data::split_speakers("test"))
    for (const auto& t : data::split_speakers("train")) EXPECT_NE(s.voice, t.voice);
  EXPECT_EQ(data::random_digit_string(3, 5), data::random_digit_string(3, 5));
  if (!have_espeak()) GTEST_SKIP() << "espeak-ng not installed";
  auto a = data::load_speech_corpus(tiny_corpus(temp_dir("corpus-a"), 2));
  auto b = data::load_speech_corpus(tiny_corpus(temp_dir("corpus-b"), 2));
  EXPECT_EQ(slurp(a.dir + "/manifest.tsv"), slurp(b.dir + "/manifest.tsv"));
  ASSERT_EQ(a.test.size(), 2u);
  for (size_t i = 0; i < a.test.size(); ++i) {
    EXPECT_EQ(slurp(a.test[i].wav), slurp(b.test[i].wav));
    EXPECT_GT(a.test[i].n_samples, 4000);
  }
  auto again = data::load_speech_corpus(tiny_corpus(a.dir, 2));  // read back, not re-rendered
  EXPECT_EQ(again.train[1].text, a.train[1].text);
  const auto out = temp_dir("export");
  auto files = data::export_speech(a, "test", 5, out);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(slurp(out + "/" + a.test[0].id + ".txt"), a.test[0].text + "\n");
}

TEST(SpeechCorpus, KjvPhrasesDoNotCrossSplits) {
  const std::string kjv = std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/neurocore/kjv.txt";
  const char* env = std::getenv("NC_DATA");
  const std::string path = env && *env ? std::string(env) + "/kjv.txt" : kjv;
  if (!fs::exists(path)) GTEST_SKIP() << "kjv.txt not installed";
  auto train = data::kjv_phrases(path, "train", 6);
  auto test = data::kjv_phrases(path, "test", 6);
  EXPECT_GT(train.size(), 10000u);
  for (const auto& p : train) {
    std::istringstream in(p);
    int words = 0;
    for (std::string w; in >> w;) ++words;
    ASSERT_LE(words, 6) << p;
  }
  // Different books: the phrase pools are (almost surely) not the same text.
  std::set<std::string> tr(train.begin(), train.end());
  int64_t shared = 0;
  for (const auto& p : test) shared += tr.count(p);
  EXPECT_LT(shared, static_cast<int64_t>(test.size()) / 10);  // only common formulas repeat
}

TEST(AsrTraining, RunWritesMetricsReportAndResumes) {
  if (!have_espeak()) GTEST_SKIP() << "espeak-ng not installed";
  const auto corpus_dir = temp_dir("run-corpus");
  const auto runs = temp_dir("runs");
  auto config = [&](int epochs) {
    auto c = Config::from_string(
        "name: r\nthreads: 1\ndata: {name: speech, train: 4, valid: 2, test: 2, corpus_seed: 7, dir: " +
        corpus_dir + "}\nmodel: {unit: ssnu_aa, layers: 1, hidden: 16, embed: 8, predictor_hidden: 8, "
        "joint: 16}\ntrain: {batch_size: 2}\n");
    c.set("train.epochs=" + std::to_string(epochs));
    return AsrExperiment::build(c);
  };
  RunDir run = RunDir::create(runs, "r");
  auto e1 = config(1);
  std::ofstream(run.file("config.yaml")) << e1.effective_yaml;
  run_asr(e1, run);
  auto e2 = config(2);
  RunDir again = RunDir::open(run.path());
  run_asr(e2, again);
  int64_t epochs = 0, tests = 0;
  for (const auto& r : again.metrics()) {
    if (r["kind"] == "epoch") {
      ++epochs;
      EXPECT_TRUE(r.contains("valid_wer") && r.contains("valid_cer"));
    }
    if (r["kind"] == "test") ++tests;
  }
  EXPECT_EQ(epochs, 2);
  EXPECT_EQ(tests, 1);
  EXPECT_TRUE(fs::exists(again.file("report.md")));
  EXPECT_TRUE(fs::exists(again.file("model.pt")));
  auto loaded = load_asr_run(again.path());
  EXPECT_EQ(loaded.model->options.hidden(), 16);
  EXPECT_THROW(load_asr_run(runs + "/missing"), UserError);
}

}  // namespace
}  // namespace nc::asr
