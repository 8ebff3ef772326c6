// The three beam searches against the exact output probabilities: with an unbounded beam,
// ALSD and Graves's search score every output sequence with log P(y | x) as the RNN-T loss
// computes it (they merge every alignment); with a small beam every score is at most that
// (a subset of the alignments). Hand-built transducers whose joint depends on the whole prefix.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "neurocore/asr/decode.h"
#include "neurocore/asr/rnnt_loss.h"
#include "neurocore/core/error.h"

namespace nc::asr {
namespace {

// The prediction output is a code of the whole prefix (the frame's index is the encoder
// output); the joint reads the table [T, M, V] at (t, code).
class PrefixTransducer : public Transducer {
 public:
  explicit PrefixTransducer(torch::Tensor table) : table_(std::move(table)) {}
  PredictorOutput predict(int64_t symbol, const PredictorOutput* prev) override {
    const int64_t M = table_.size(1);
    const int64_t code = prev ? (prev->out.item<int64_t>() * 7 + symbol + 1) % M : 0;
    return {torch::tensor({code}, torch::kLong), {}};
  }
  torch::Tensor joint(const torch::Tensor& f, const torch::Tensor& p) override {
    return table_[f.item<int64_t>()][p.item<int64_t>()];
  }

 private:
  torch::Tensor table_;
};

torch::Tensor frame_ids(int64_t T) { return torch::arange(T, torch::kLong).unsqueeze(1); }

// log P(y | x): the RNN-T loss over the logits the transducer gives along y.
double exact_log_prob(PrefixTransducer& m, int64_t T, const std::vector<int64_t>& y) {
  const auto U = static_cast<int64_t>(y.size());
  const int64_t V = m.joint(torch::tensor({0}), torch::tensor({0})).size(0);
  auto logits = torch::zeros({1, T, U + 1, V}, torch::kDouble);
  PredictorOutput p = m.predict(0, nullptr);
  for (int64_t u = 0; u <= U; ++u) {
    for (int64_t t = 0; t < T; ++t) logits[0][t][u] = m.joint(torch::tensor({t}), p.out);
    if (u < U) p = m.predict(y[u], &p);
  }
  auto targets = torch::tensor(y.empty() ? std::vector<int64_t>{1} : y, torch::kLong).unsqueeze(0);
  if (y.empty()) targets = targets.slice(1, 0, 0);
  const auto c = rnnt_costs(logits, targets, torch::tensor({T}), torch::tensor({U}), RnntInput::Logits, 0, -1, false);
  return -c.costs[0].item<double>();
}

// Every sequence over the symbols 1..V-1 of length <= L.
std::vector<std::vector<int64_t>> all_outputs(int64_t V, int64_t L) {
  std::vector<std::vector<int64_t>> out{{}};
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (static_cast<int64_t>(out[i].size()) == L) continue;
    for (int64_t k = 1; k < V; ++k) {
      auto y = out[i];
      y.push_back(k);
      out.push_back(y);
    }
  }
  return out;
}

std::map<std::vector<int64_t>, double> scores(const std::vector<Hypothesis>& hyps) {
  std::map<std::vector<int64_t>, double> m;
  for (const auto& h : hyps) EXPECT_TRUE(m.emplace(h.symbols, h.log_prob).second) << "duplicate hypothesis";
  return m;
}

PrefixTransducer random_transducer(int64_t T, int64_t V, uint64_t seed) {
  torch::manual_seed(seed);
  return PrefixTransducer(torch::randn({T, 61, V}, torch::kDouble) * 1.5);
}

TEST(BeamSearch, AlsdWithAnUnboundedBeamScoresEveryOutputExactly) {
  const int64_t T = 4, V = 3, L = 4;
  for (uint64_t seed : {1, 2, 3}) {
    auto m = random_transducer(T, V, seed);
    BeamOptions o;
    o.method = BeamMethod::alsd;
    o.beam = 100000;
    o.max_length = L;
    const auto hyps = beam_search_nbest(m, frame_ids(T), o);
    const auto got = scores(hyps);
    const auto every = all_outputs(V, L);
    ASSERT_EQ(got.size(), every.size()) << "every output of length <= " << L << " finishes";
    std::vector<int64_t> best;
    double best_lp = -1e300;
    for (const auto& y : every) {
      const double want = exact_log_prob(m, T, y);
      EXPECT_NEAR(got.at(y), want, 1e-9);
      if (want > best_lp) best_lp = want, best = y;
    }
    EXPECT_EQ(hyps.front().symbols, best) << "seed " << seed;
  }
}

TEST(BeamSearch, GravesWithAnUnboundedBeamScoresEveryShortOutputExactly) {
  // Frames of at most D symbols: every alignment of an output of length <= D is kept, so those
  // outputs are scored exactly; longer ones lose the alignments with more than D in one frame.
  const int64_t T = 3, V = 3, D = 3;
  for (uint64_t seed : {4, 5}) {
    auto m = random_transducer(T, V, seed);
    BeamOptions o;
    o.method = BeamMethod::graves;
    o.beam = 100000;
    o.max_sym_per_frame = D;
    const auto got = scores(beam_search_nbest(m, frame_ids(T), o));
    for (const auto& y : all_outputs(V, D)) EXPECT_NEAR(got.at(y), exact_log_prob(m, T, y), 1e-9);
    for (const auto& [y, lp] : got) EXPECT_LE(lp, exact_log_prob(m, T, y) + 1e-9);
  }
}

TEST(BeamSearch, SmallBeamsScoreAtMostTheExactProbability) {
  // Not the modified search: a symbol it emits in the last frame ends the hypothesis without
  // the closing blank of a full alignment (as icefall's does), so its score may exceed log P.
  const int64_t T = 5, V = 4;
  for (auto method : {BeamMethod::graves, BeamMethod::alsd}) {
    for (uint64_t seed : {6, 7, 8}) {
      auto m = random_transducer(T, V, seed);
      BeamOptions o;
      o.method = method;
      o.beam = 3;
      const auto hyps = beam_search_nbest(m, frame_ids(T), o);
      ASSERT_FALSE(hyps.empty());
      for (std::size_t i = 0; i < hyps.size(); ++i) {
        EXPECT_LE(hyps[i].log_prob, exact_log_prob(m, T, hyps[i].symbols) + 1e-9) << to_string(method);
        if (i > 0) {
          EXPECT_GE(hyps[i - 1].log_prob, hyps[i].log_prob) << "best first";
        }
      }
    }
  }
}

TEST(BeamSearch, GravesAndAlsdEmitSeveralSymbolsInOneFrame) {
  // One frame that says "1 then 2" with confidence: the modified search emits at most one
  // symbol per frame and cannot produce [1 2]; Graves's search and ALSD do.
  const int64_t V = 3;
  auto table = torch::full({1, 61, V}, -5.0, torch::kDouble);
  PrefixTransducer probe(table);
  const int64_t c0 = probe.predict(0, nullptr).out.item<int64_t>();
  auto p0 = probe.predict(0, nullptr);
  const int64_t c1 = probe.predict(1, &p0).out.item<int64_t>();
  auto p1 = probe.predict(1, &p0);
  const int64_t c12 = probe.predict(2, &p1).out.item<int64_t>();
  table[0][c0][1] = 5.0;   // start: symbol 1
  table[0][c1][2] = 5.0;   // after [1]: symbol 2
  table[0][c12][0] = 5.0;  // after [1 2]: blank
  PrefixTransducer m(table);
  BeamOptions o;
  o.beam = 4;
  EXPECT_NE(beam_search(m, frame_ids(1), o), (std::vector<int64_t>{1, 2}));
  o.method = BeamMethod::graves;
  EXPECT_EQ(beam_search(m, frame_ids(1), o), (std::vector<int64_t>{1, 2}));
  o.method = BeamMethod::alsd;
  EXPECT_EQ(beam_search(m, frame_ids(1), o), (std::vector<int64_t>{1, 2}));
  o.max_length = 1;  // ALSD's bound on the output length (default T x max_sym_per_frame)
  EXPECT_NE(beam_search(m, frame_ids(1), o), (std::vector<int64_t>{1, 2}));
}

TEST(BeamSearch, BadOptionsAreUserErrors) {
  auto m = random_transducer(2, 3, 9);
  BeamOptions o;
  o.method = BeamMethod::graves;
  o.max_sym_per_frame = 0;
  EXPECT_THROW(beam_search(m, frame_ids(2), o), UserError);
  o.max_sym_per_frame = 3;
  o.method = BeamMethod::alsd;
  o.max_length = -1;
  EXPECT_THROW(beam_search(m, frame_ids(2), o), UserError);
  try {
    parse_beam_method("grave", "train.search");
    ADD_FAILURE() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("train.search: expected modified, graves or alsd, got 'grave'"),
              std::string::npos)
        << e.what();
  }
}

TEST(BeamSearch, DecoderDescribesItself) {
  BeamOptions o;
  o.beam = 0;
  EXPECT_EQ(describe(o), "greedy");
  o.beam = 4;
  EXPECT_EQ(describe(o), "beam 4");
  o.beam = 8;
  o.method = BeamMethod::alsd;
  o.length_norm = true;
  EXPECT_EQ(describe(o), "alsd beam 8, length-normalised");
}

}  // namespace
}  // namespace nc::asr
