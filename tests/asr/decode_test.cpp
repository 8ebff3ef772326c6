// Greedy and beam decoding on hand-built transducers; WER/CER on known strings (asr.md §10,
// properties 6-7).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/asr/decode.h"
#include "neurocore/asr/wer.h"
#include "neurocore/core/error.h"

namespace nc::asr {
namespace {

// A transducer whose joint reads a table of logits [T, N, V] at (frame t, number of symbols
// emitted so far u): the encoder frame f_t is [t] and the prediction output is [u].
class TableTransducer : public Transducer {
 public:
  explicit TableTransducer(torch::Tensor table) : table_(std::move(table)) {}
  PredictorOutput predict(int64_t, const PredictorOutput* prev) override {
    const double u = prev ? prev->out.item<double>() + 1 : 0.0;
    ++predict_calls;
    return {torch::tensor({u}, torch::kDouble), {}};
  }
  torch::Tensor joint(const torch::Tensor& f, const torch::Tensor& p) override {
    const int64_t t = f.item<int64_t>(), u = std::min<int64_t>(p.item<int64_t>(), table_.size(1) - 1);
    return table_[t][u];
  }
  int64_t predict_calls = 0;

 private:
  torch::Tensor table_;
};

torch::Tensor frames(int64_t T) { return torch::arange(T, torch::kDouble).unsqueeze(1); }

TEST(Decode, GreedyFollowsAForcedPath) {
  // Forced path: frame 0 emits 3 then 1, frame 1 nothing, frame 2 emits 2 four times (capped).
  const int64_t T = 3, N = 8, V = 4;
  auto table = torch::zeros({T, N, V}, torch::kDouble);
  table.select(2, 0).fill_(5.0);  // blank wins unless overridden
  auto force = [&](int64_t t, int64_t u, int64_t k) { table[t][u][k] = 10.0; };
  force(0, 0, 3);
  force(0, 1, 1);
  for (int64_t u = 2; u < 6; ++u) force(2, u, 2);
  TableTransducer m(table);
  EXPECT_EQ(greedy_decode(m, frames(T), 0, 3), (std::vector<int64_t>{3, 1, 2, 2, 2}));
  EXPECT_EQ(greedy_decode(m, frames(T), 0, 1), (std::vector<int64_t>{3}));
  EXPECT_EQ(greedy_decode(m, frames(T), 0, 10), (std::vector<int64_t>{3, 1, 2, 2, 2, 2}));
}

TEST(Decode, BeamOneEqualsGreedyWithOneSymbolPerFrame) {
  torch::manual_seed(11);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t T = 6, V = 5;
    TableTransducer m(torch::randn({T, T + 1, V}, torch::kDouble) * 2);
    auto beam = beam_search(m, frames(T), BeamOptions{1, 0, false});
    EXPECT_EQ(beam, greedy_decode(m, frames(T), 0, 1)) << trial;
  }
}

TEST(Decode, BeamFindsAPrefixThatGreedyMisses) {
  // Frame 0: symbol 1 is slightly more likely than blank, but after emitting it every later
  // frame is poor; staying blank leads to a confident 2. Beam 2 finds [2]; greedy takes [1].
  const int64_t T = 2, V = 3;
  auto lp = [](double b, double s1, double s2) {
    return torch::log(torch::tensor({b, s1, s2}, torch::kDouble));
  };
  auto table = torch::zeros({T, 3, V}, torch::kDouble);
  table[0][0] = lp(0.45, 0.55 - 1e-3, 1e-3);
  table[1][0] = lp(0.01, 0.01, 0.98);
  table[1][1] = lp(0.34, 0.33, 0.33);
  table[0][1] = lp(0.34, 0.33, 0.33);
  TableTransducer m(table);
  EXPECT_EQ(greedy_decode(m, frames(T), 0, 1), (std::vector<int64_t>{1}));
  EXPECT_EQ(beam_search(m, frames(T), BeamOptions{2, 0, false}), (std::vector<int64_t>{2}));
  EXPECT_THROW(beam_search(m, frames(T), BeamOptions{0, 0, false}), UserError);
}

TEST(Decode, BeamLengthNormalisationPrefersTheLongerHypothesis) {
  // Frame 0: blank or symbol 1 at 0.5 each. Frame 1 after nothing: blank 0.9; after [1]:
  // symbol 1 again at 0.7. Final beams: [] with 0.45, [1 1] with 0.35 (and [1] with 0.15).
  // By score [] wins; by score / length, log(0.35) / 2 > log(0.45) / 1.
  const int64_t T = 2, V = 3;
  auto lp = [](double b, double s1, double s2) {
    return torch::log(torch::tensor({b, s1, s2}, torch::kDouble));
  };
  auto table = torch::zeros({T, 3, V}, torch::kDouble);
  table[0][0] = lp(0.5, 0.5 - 1e-6, 1e-6);
  table[0][1] = lp(1.0 / 3, 1.0 / 3, 1.0 / 3);
  table[0][2] = lp(1.0 / 3, 1.0 / 3, 1.0 / 3);
  table[1][0] = lp(0.9, 0.1 - 1e-6, 1e-6);
  table[1][1] = lp(0.2, 0.7, 0.1);
  table[1][2] = lp(1.0 / 3, 1.0 / 3, 1.0 / 3);
  TableTransducer m(table);
  EXPECT_EQ(beam_search(m, frames(T), BeamOptions{2, 0, false}), (std::vector<int64_t>{}));
  EXPECT_EQ(beam_search(m, frames(T), BeamOptions{2, 0, true}), (std::vector<int64_t>{1, 1}));
}

TEST(Wer, KnownStrings) {
  auto c = word_errors("a b c", "a x c d");
  EXPECT_EQ(c.substitutions, 1);
  EXPECT_EQ(c.insertions, 1);
  EXPECT_EQ(c.deletions, 0);
  EXPECT_DOUBLE_EQ(c.rate(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(word_errors("a b c", "").rate(), 1.0);
  EXPECT_EQ(word_errors("a b c", "").deletions, 3);
  EXPECT_DOUBLE_EQ(word_errors("Hello, World!", "hello   world").rate(), 0.0);
  EXPECT_EQ(normalize_text("  Don't  STOP, now. "), "don't stop now");
  auto ch = char_errors("abc d", "abd");
  EXPECT_EQ(ch.reference_length, 5);
  EXPECT_EQ(ch.errors(), 2);
}

TEST(Wer, CorpusRateIsNotTheMeanOfUtteranceRates) {
  ErrorRates r;
  r.add("a", "b");              // 1 error of 1 word
  r.add("a b c d", "a b c d");  // 0 of 4
  EXPECT_DOUBLE_EQ(r.wer(), 1.0 / 5.0);
  EXPECT_NE(r.wer(), (1.0 + 0.0) / 2);
  EXPECT_DOUBLE_EQ(r.cer(), 1.0 / 8.0);
}

}  // namespace
}  // namespace nc::asr
