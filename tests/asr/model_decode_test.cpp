// Decoding and the batched loss on the real RNN-T model (issue #25): what the decoder scores
// step by step (streaming prediction network, one joint call per frame and hypothesis) must be
// what training scores on the batched lattice, and padding must not reach any utterance's loss.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "neurocore/asr/decode.h"
#include "neurocore/asr/rnnt_loss.h"
#include "neurocore/asr/train.h"

namespace nc::asr {
namespace {

using nn::AsrUnitKind;

const AsrUnitKind kKinds[] = {AsrUnitKind::lstm,    AsrUnitKind::snu,     AsrUnitKind::ssnu,
                              AsrUnitKind::snu_aa,  AsrUnitKind::ssnu_aa, AsrUnitKind::ssnu_aa_x};

// The greedy path's score from decoding (streaming prediction network, one joint call per
// frame and hypothesis) equals the log-probabilities of the same choices on the training
// lattice (batched prediction network over the hypothesis, batched joint); replaying the argmax
// on that lattice gives the same symbols; the lattice's log P(hyp | x) is -rnnt_loss. A wrong
// predictor state or last-emitted-token handling in decoding breaks the first two.
TEST(Decode, GreedyPathScoreEqualsTheLossLattice) {
  const int64_t T = 12, V = 5, D = 6;
  for (const auto kind : kKinds)
    for (const bool pred_lstm : {false, true}) {
      const std::string what = nn::asr_unit_name(kind) + (pred_lstm ? " + lstm predictor" : "");
      torch::manual_seed(7);
      nn::RnntModel model(nn::RnntModelOptions(D, V).unit(kind).hidden(8).embed(4).predictor_hidden(6).joint(7).predictor_lstm(pred_lstm));
      model->eval();
      torch::NoGradGuard no_grad;
      const auto x = torch::randn({T, 1, D}) * 2;
      const auto f = model->encode(x, torch::tensor({T})).select(1, 0);  // [T, E]
      // Start from a blank that always wins and lower its bias until greedy emits a few symbols.
      ModelTransducer m(model);
      const int64_t max_sym = 2;
      GreedyResult g;
      for (double bias = 8.0; bias > -8.0 && g.symbols.size() < 3; bias -= 0.1) {
        model->joint_out->bias[0] = bias;
        g = greedy_decode_scored(m, f, 0, max_sym);
      }
      ASSERT_GE(g.symbols.size(), 3u) << what;
      const int64_t U = static_cast<int64_t>(g.symbols.size());
      const auto y = torch::tensor(g.symbols, torch::kLong);
      const auto logits = model->joint(f.unsqueeze(0), model->predict(y.unsqueeze(0)))[0];  // [T, U+1, V]
      const auto lp = torch::log_softmax(logits.to(torch::kDouble), -1);
      // Replay the argmax on the lattice, with greedy's cap of max_sym symbols per frame.
      std::vector<int64_t> replay;
      double path = 0.0;
      for (int64_t t = 0, u = 0, s = 0; t < T;) {
        const int64_t k = lp[t][u].argmax().item<int64_t>();
        path += lp[t][u][k].item<double>();
        if (k != 0) {
          replay.push_back(k);
          ASSERT_LE(++u, U) << what;
        }
        if (k == 0 || ++s == max_sym) ++t, s = 0;
      }
      EXPECT_EQ(replay, g.symbols) << what;
      EXPECT_NEAR(path, g.log_prob, 1e-4) << what;
      const double log_p = rnnt_lattice(lp, y, 0).beta[0][0].item<double>();
      const auto loss = rnnt_loss(logits.unsqueeze(0), y.unsqueeze(0), torch::tensor({T}), torch::tensor({U}));
      EXPECT_NEAR(loss.item<double>(), -log_p, 1e-4) << what;
      // The prefix cache of beam search shares prediction states between hypotheses: beam 1
      // must still be greedy with one symbol per frame.
      EXPECT_EQ(beam_search(m, f, BeamOptions{1, 0, false}), greedy_decode(m, f, 0, 1)) << what;
    }
}

// The training loss of a padded batch (features padded to the longest utterance, targets to
// the longest transcript) equals each utterance's loss alone, and so do the gradients.
TEST(AsrTraining, PaddedBatchLossEqualsEachUtteranceAlone) {
  torch::manual_seed(5);
  AsrFeatureOptions o;  // 40 log-mel bins stacked by 3: 120 inputs
  AsrSplit split;
  const std::vector<int64_t> frames = {30, 47, 21}, labels = {3, 7, 1};
  for (size_t i = 0; i < frames.size(); ++i) {
    split.features.push_back(torch::randn({frames[i], o.features.n_mels}) * 3 + 1);
    const auto y = torch::randint(1, 29, {labels[i]}, torch::kLong);
    split.targets.emplace_back(y.data_ptr<int64_t>(), y.data_ptr<int64_t>() + labels[i]);
    split.texts.emplace_back();
    split.wavs.emplace_back();
  }
  const auto stats = data::feature_stats(split.features);
  for (const bool bidirectional : {false, true}) {
    const auto kind = bidirectional ? AsrUnitKind::lstm : AsrUnitKind::ssnu_aa;
    nn::RnntModel model(nn::RnntModelOptions(o.features.dim(), 29).unit(kind).bidirectional(bidirectional)
                            .hidden(6).embed(4).predictor_hidden(5).joint(7));
    auto grads = [&](const torch::Tensor& loss) {
      model->zero_grad();
      loss.backward();
      std::vector<torch::Tensor> g;
      for (const auto& p : model->parameters()) g.push_back(p.grad().clone());
      return g;
    };
    const AsrBatch all = make_batch(split, {0, 1, 2}, stats, o);
    ASSERT_EQ(all.x.size(0), 47 / 3);
    const auto costs = rnnt_batch_loss(model, all, RnntReduction::None);
    const auto g_all = grads(costs.sum());
    std::vector<torch::Tensor> g_sum;
    for (int64_t i = 0; i < 3; ++i) {
      const auto alone = rnnt_batch_loss(model, make_batch(split, {i}, stats, o), RnntReduction::None);
      EXPECT_NEAR(alone.item<double>(), costs[i].item<double>(), 1e-5 * alone.item<double>())
          << "utterance " << i << (bidirectional ? " (bidirectional)" : "");
      const auto g = grads(alone.sum());
      if (g_sum.empty()) g_sum = g;
      else
        for (size_t j = 0; j < g.size(); ++j) g_sum[j] += g[j];
    }
    for (size_t j = 0; j < g_all.size(); ++j)
      EXPECT_LT((g_all[j] - g_sum[j]).abs().max().item<double>(), 1e-4 * (1 + g_sum[j].abs().max().item<double>()))
          << "parameter " << j << (bidirectional ? " (bidirectional)" : "");
  }
}

}  // namespace
}  // namespace nc::asr
