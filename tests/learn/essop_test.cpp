// ESSOP: the estimator's statistics (unbiased, variance x^d^(1-x^d^)/BL, 1/sqrt(BL)
// convergence), the bit-parallel kernel against the scalar reference, power-of-two scaling,
// the autograd integration (exact dX, dW converging to the exact one) and the options
// (specs/essop.md §7).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/core/seed.h"
#include "neurocore/learn/essop.h"
#include "neurocore/learn/essop_energy.h"
#include "neurocore/learn/essop_rule.h"
#include "neurocore/learn/loss.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/weight_products.h"

namespace {

using namespace nc::learn;

EssopOptions bl(int64_t n, EssopStreams s = EssopStreams::fresh) {
  return EssopOptions().bitstream(n).streams(s);
}

// ReLU-like unbounded activations with exact zeros, and signed errors.
torch::Tensor activations(int64_t p, int64_t n, at::Generator& g) {
  return torch::relu(torch::randn({p, n}, g) * 3);
}
torch::Tensor errors(int64_t p, int64_t m, at::Generator& g) {
  return torch::randn({p, m}, g) * 1e-3;
}

TEST(Essop, ExponentIsExactPowerOfTwoScale) {
  EXPECT_EQ(essop_exponent(1.0), 0);    // a power of two: x^ max = 1
  EXPECT_EQ(essop_exponent(0.75), 0);
  EXPECT_EQ(essop_exponent(3.0), 2);
  EXPECT_EQ(essop_exponent(std::ldexp(1.0, -10)), -10);
  EXPECT_EQ(essop_exponent(std::ldexp(1.0, -10) * 1.0000001), -9);
  auto g = nc::make_generator(1, "test");
  const auto v = torch::rand({1000}, g, torch::kFloat64).mul(1e6).add(1e-12);
  for (int64_t i = 0; i < v.numel(); ++i) {
    const double m = v[i].item<double>();
    const int e = essop_exponent(m);
    int f = 0;
    EXPECT_EQ(std::frexp(std::ldexp(1.0, e), &f), 0.5);  // s is an exact power of two
    const double xhat = m / std::ldexp(1.0, e);
    EXPECT_GT(xhat, 0.5);
    EXPECT_LE(xhat, 1.0);
  }
  EXPECT_THROW(essop_exponent(0.0), nc::InternalError);
}

// Every instruction set this CPU runs (portable always; avx2, avx512 where present) against
// the scalar reference.
std::vector<EssopKernel> kernels_here() {
  std::vector<EssopKernel> k;
  for (auto c : {EssopKernel::portable, EssopKernel::avx2, EssopKernel::avx512})
    if (essop_kernel_supported(c)) k.push_back(c);
  return k;
}

TEST(Essop, KernelEqualsScalarReferenceBitForBit) {
  auto g = nc::make_generator(2, "test");
  for (int64_t BL : {1, 7, 8, 63, 64, 65, 130}) {
    for (auto streams : {EssopStreams::fresh, EssopStreams::shared}) {
      for (auto scaling : {EssopScaling::per_product, EssopScaling::per_tensor}) {
        const int64_t P = 37, N = 70, M = 13;
        auto x = activations(P, N, g);
        x[3].zero_();  // an all-zero activation vector
        auto d = errors(P, M, g);
        auto s = essop_draw_streams(P, bl(BL, streams), g);
        const auto r = essop_outer_sum_reference(x, d, s, scaling);
        // Integer counts, signed inputs on both sides (normalised images reach layer 1).
        auto xs = torch::rand({P, N}, g) * 2 - 1, ds = torch::rand({P, M}, g) * 2 - 1;
        const auto cr = essop_signed_counts_reference(xs, ds, s);
        for (auto kernel : kernels_here()) {
          const auto k = essop_outer_sum(x, d, s, scaling, nullptr, kernel);
          EXPECT_TRUE(torch::equal(k, r)) << essop_kernel_name(kernel) << " BL " << BL
                                          << " max diff " << (k - r).abs().max();
          EXPECT_TRUE(torch::equal(essop_signed_counts(xs, ds, s, kernel), cr))
              << essop_kernel_name(kernel) << " BL " << BL;
        }
      }
    }
  }
}

// Shapes that cross the kernel's internal boundaries: several product chunks, exponent groups
// of every size around the 16-product block, elements not a multiple of the vector width,
// one element, exponents spread over a wide range.
TEST(Essop, KernelEqualsReferenceAcrossChunksGroupsAndWidths) {
  auto g = nc::make_generator(12, "test");
  struct Case {
    int64_t P, N, M, BL;
  };
  for (const auto& c : std::vector<Case>{{600, 70, 13, 64}, {300, 1, 1, 8}, {50, 33, 40, 4},
                                         {2000, 25, 6, 8}, {17, 200, 3, 16}}) {
    auto x = activations(c.P, c.N, g);
    // Rows scaled by 2^0 .. 2^-9: exponent groups of varied sizes.
    x.mul_(torch::pow(2.0, -torch::randint(0, 10, {c.P, 1}, g).to(torch::kFloat32)));
    auto d = errors(c.P, c.M, g);
    for (auto streams : {EssopStreams::fresh, EssopStreams::shared}) {
      const auto s = essop_draw_streams(c.P, bl(c.BL, streams), g);
      const auto r = essop_outer_sum_reference(x, d, s, EssopScaling::per_product);
      for (auto kernel : kernels_here()) {
        const auto k = essop_outer_sum(x, d, s, EssopScaling::per_product, nullptr, kernel);
        EXPECT_TRUE(torch::equal(k, r)) << essop_kernel_name(kernel) << " P " << c.P << " N "
                                        << c.N << " M " << c.M << " BL " << c.BL;
      }
    }
  }
}

// The columns entry (a convolution's im2col input [B, N, L] and output gradient [B, M, L], read
// in place) against the scalar reference on the transposed rows [B L, N], [B L, M]: positions
// per sample not a multiple of the 16-product block (blocks that span samples: gathers) and a
// multiple (vector loads), signed inputs, all-zero products, exponents over a wide range.
TEST(Essop, ColumnsEntryEqualsReferenceOnTransposedRows) {
  auto g = nc::make_generator(13, "test");
  struct Case {
    int64_t B, N, M, L, BL;
  };
  for (const auto& c : std::vector<Case>{{5, 25, 6, 48, 8}, {3, 9, 16, 100, 4}, {7, 150, 16, 1, 16},
                                         {2, 1, 1, 17, 1}, {40, 25, 6, 64, 65}}) {
    auto x = torch::randn({c.B, c.N, c.L}, g) * 2;  // signed, like a normalised image
    x.mul_(torch::pow(2.0, -torch::randint(0, 10, {c.B, 1, c.L}, g).to(torch::kFloat32)));
    x.select(2, 0).zero_();  // an all-zero input vector per sample
    auto d = torch::randn({c.B, c.M, c.L}, g) * 1e-3;
    if (c.L > 3) d.select(2, 3).zero_();  // an all-zero error vector
    const auto xr = x.transpose(1, 2).reshape({c.B * c.L, c.N});
    const auto dr = d.transpose(1, 2).reshape({c.B * c.L, c.M});
    for (auto streams : {EssopStreams::fresh, EssopStreams::shared}) {
      for (auto scaling : {EssopScaling::per_product, EssopScaling::per_tensor}) {
        const auto s = essop_draw_streams(c.B * c.L, bl(c.BL, streams), g);
        const auto r = essop_outer_sum_reference(xr, dr, s, scaling);
        for (auto kernel : kernels_here()) {
          const auto k = essop_outer_sum_columns(x, d, s, scaling, nullptr, kernel);
          EXPECT_TRUE(torch::equal(k, r))
              << essop_kernel_name(kernel) << " B " << c.B << " N " << c.N << " M " << c.M
              << " L " << c.L << " BL " << c.BL << " max diff " << (k - r).abs().max();
        }
      }
    }
  }
  // Operation counts as for the rows entry.
  const auto x = torch::rand({2, 3, 5}, g), d = torch::randn({2, 4, 5}, g);
  EssopStats st;
  essop_outer_sum_columns(x, d, essop_draw_streams(10, bl(8), g), EssopScaling::per_product, &st);
  EXPECT_EQ(st.outer_products, 10);
  EXPECT_EQ(st.products, 10 * 3 * 4);
  EXPECT_THROW(essop_outer_sum_columns(x, d.slice(2, 0, 4), essop_draw_streams(10, bl(8), g),
                                       EssopScaling::per_product),
               nc::InternalError);
}

// The direct convolution entry (stride 1: receptive fields read from the zero-padded input, no
// im2col) against the scalar reference on im2col's rows: zero padding (none, square, unequal),
// several channels, non-square kernels, output rows wider than a 16-product block (two runs
// per block), narrower (up to three runs), very narrow (more runs than masked loads: the
// gather path), fewer positions than a block (the sorted layout), partial last blocks, signed
// inputs, all-zero products, exponents spread over 2^0..2^-9.
TEST(Essop, ConvEntryEqualsReferenceOnIm2colRows) {
  namespace F = torch::nn::functional;
  auto g = nc::make_generator(14, "test");
  struct Case {
    int64_t B, C, H, W, M, kh, kw, ph, pw, BL;
  };
  for (const auto& c : std::vector<Case>{{3, 1, 28, 28, 6, 5, 5, 2, 2, 4},
                                         {2, 6, 14, 14, 16, 5, 5, 0, 0, 8},
                                         {2, 3, 9, 7, 5, 3, 2, 1, 0, 65},
                                         {3, 2, 5, 5, 4, 3, 3, 1, 1, 1},
                                         {2, 2, 3, 4, 3, 2, 3, 0, 1, 16},
                                         {1, 4, 20, 40, 7, 1, 1, 0, 0, 8}}) {
    auto x = torch::randn({c.B, c.C, c.H, c.W}, g) * 2;  // signed, like a normalised image
    x.mul_(torch::pow(2.0, -torch::randint(0, 10, {c.B, 1, c.H, 1}, g).to(torch::kFloat32)));
    // Input rows 0..kh-1 of sample 0 zero: output row ph's receptive fields are all zero.
    x[0].narrow(1, 0, std::min(c.H, c.kh)).zero_();
    const int64_t Ho = c.H + 2 * c.ph - c.kh + 1, Wo = c.W + 2 * c.pw - c.kw + 1, L = Ho * Wo;
    auto d = torch::randn({c.B, c.M, Ho, Wo}, g) * 1e-3;
    d.select(3, Wo - 1).zero_();  // all-zero error vectors
    const auto cols = F::unfold(x, F::UnfoldFuncOptions({c.kh, c.kw}).padding({c.ph, c.pw}));
    const auto xr = cols.transpose(1, 2).reshape({c.B * L, c.C * c.kh * c.kw});
    const auto dr = d.view({c.B, c.M, L}).transpose(1, 2).reshape({c.B * L, c.M});
    for (auto streams : {EssopStreams::fresh, EssopStreams::shared}) {
      for (auto scaling : {EssopScaling::per_product, EssopScaling::per_tensor}) {
        const auto s = essop_draw_streams(c.B * L, bl(c.BL, streams), g);
        const auto r = essop_outer_sum_reference(xr, dr, s, scaling);
        for (auto kernel : kernels_here()) {
          const auto k = essop_outer_sum_conv(x, d, c.kh, c.kw, c.ph, c.pw, s, scaling, nullptr,
                                              kernel);
          EXPECT_TRUE(torch::equal(k, r))
              << essop_kernel_name(kernel) << " B " << c.B << " C " << c.C << " H " << c.H
              << " W " << c.W << " k " << c.kh << "x" << c.kw << " pad " << c.ph << "," << c.pw
              << " BL " << c.BL << " max diff " << (k - r).abs().max();
        }
      }
    }
  }
  const auto x = torch::rand({2, 3, 6, 6}, g), d = torch::randn({2, 4, 4, 4}, g);
  EssopStats st;
  essop_outer_sum_conv(x, d, 3, 3, 0, 0, essop_draw_streams(32, bl(8), g),
                       EssopScaling::per_product, &st);
  EXPECT_EQ(st.outer_products, 32);
  EXPECT_EQ(st.products, 32 * 27 * 4);
  EXPECT_THROW(essop_outer_sum_conv(x, d, 3, 3, 1, 1, essop_draw_streams(32, bl(8), g),
                                    EssopScaling::per_product),
               nc::InternalError);
}

// A NaN or infinity in either side's values (rows, columns or a convolution's input) is a
// UserError, not a silent scale: the max |v| pass sees it wherever it sits.
TEST(Essop, NonFiniteInputsAreRefused) {
  auto g = nc::make_generator(16, "test");
  const float bad[] = {std::nanf(""), INFINITY, -INFINITY};
  for (float v : bad) {
    auto x = torch::rand({20, 7}, g), d = torch::randn({20, 3}, g);
    const auto s = essop_draw_streams(20, bl(4), g);
    x[13][5] = v;
    EXPECT_THROW(essop_outer_sum(x, d, s, EssopScaling::per_product), nc::UserError) << v;
    x[13][5] = 0;
    d[19][2] = v;
    EXPECT_THROW(essop_outer_sum(x, d, s, EssopScaling::per_product), nc::UserError) << v;
    auto xi = torch::rand({2, 2, 6, 6}, g), di = torch::randn({2, 3, 6, 6}, g);
    xi[1][1][5][0] = v;  // only inside padded receptive fields
    EXPECT_THROW(essop_outer_sum_conv(xi, di, 3, 3, 1, 1, essop_draw_streams(72, bl(4), g),
                                      EssopScaling::per_product),
                 nc::UserError)
        << v;
    auto xc = torch::rand({2, 7, 20}, g), dc = torch::randn({2, 3, 20}, g);
    dc[0][1][19] = v;
    EXPECT_THROW(essop_outer_sum_columns(xc, dc, essop_draw_streams(40, bl(4), g),
                                         EssopScaling::per_product),
                 nc::UserError)
        << v;
  }
}

TEST(Essop, KernelChoiceIsReportedAndUnsupportedOnesRefused) {
  const auto best = essop_kernel_resolved(EssopKernel::automatic);
  EXPECT_NE(best, EssopKernel::automatic);
  EXPECT_TRUE(essop_kernel_supported(best));
  EXPECT_TRUE(essop_kernel_supported(EssopKernel::portable));
  for (auto c : {EssopKernel::avx2, EssopKernel::avx512}) {
    if (!essop_kernel_supported(c)) {
      EXPECT_THROW(essop_kernel_resolved(c), nc::InternalError);
    }
  }
}

TEST(Essop, ZeroVectorsGiveZeroUpdate) {
  auto g = nc::make_generator(3, "test");
  auto d = errors(4, 5, g);
  const auto w = essop_outer_sum(torch::zeros({4, 6}), d, bl(8), g);
  EXPECT_TRUE(torch::equal(w, torch::zeros({5, 6})));
  const auto w2 = essop_outer_sum(activations(4, 6, g), torch::zeros({4, 5}), bl(8), g);
  EXPECT_TRUE(torch::equal(w2, torch::zeros({5, 6})));
}

// One outer product, D draws: the mean is unbiased (z-scores from the spec's variance) and
// the empirical variance of c/BL is x^d^(1 - x^d^)/BL.
TEST(Essop, UnbiasedWithTheSpecVariance) {
  auto g = nc::make_generator(4, "test");
  const int64_t N = 25, M = 20, BL = 8, D = 10000;  // M N = 500 <= 1000
  auto x = activations(1, N, g);
  x[0][0] = 0;  // x^ = 0: zero variance
  auto d = errors(1, M, g);
  const double sx = std::ldexp(1.0, essop_exponent(x.abs().max().item<double>()));
  const double sd = std::ldexp(1.0, essop_exponent(d.abs().max().item<double>()));
  const auto exact = d[0].to(torch::kFloat64).unsqueeze(1) * x[0].to(torch::kFloat64).unsqueeze(0);
  const auto ph = exact.abs() / (sx * sd);  // x^ d^
  auto sum = torch::zeros({M, N}, torch::kFloat64), sum2 = torch::zeros_like(sum);
  for (int64_t t = 0; t < D; ++t) {
    const auto w = essop_outer_sum(x, d, bl(BL), g).to(torch::kFloat64);
    sum += w;
    sum2 += w * w;
  }
  const auto mean = sum / D;
  const auto var_theory = ph * (1 - ph) / BL * (sx * sd) * (sx * sd);
  const auto var_emp = sum2 / D - mean * mean;
  const auto deterministic = (ph == 0) | (ph == 1);
  // Zero-variance elements: every draw is exact.
  EXPECT_TRUE(torch::equal(mean.masked_select(deterministic), exact.masked_select(deterministic)));
  const auto z = ((mean - exact) / (var_theory / D).sqrt()).masked_select(~deterministic);
  EXPECT_LT(z.abs().max().item<double>(), 5.0);
  EXPECT_LT(z.abs().mean().item<double>(), 1.0);
  // Variance within 10 % where it is well estimated (x^d^ in [0.1, 0.9]).
  const auto ok = (ph >= 0.1) & (ph <= 0.9);
  ASSERT_GT(ok.sum().item<int64_t>(), 20);
  const auto rel = (var_emp / var_theory).masked_select(ok);
  EXPECT_LT((rel - 1).abs().max().item<double>(), 0.10);
}

TEST(Essop, RandomNumberBudget) {
  auto g = nc::make_generator(5, "test");
  const int64_t P = 9, BL = 16;
  EssopStats fresh, shared;
  essop_outer_sum(activations(P, 7, g), errors(P, 3, g), bl(BL), g, &fresh);
  essop_outer_sum(activations(P, 7, g), errors(P, 3, g), bl(BL, EssopStreams::shared), g, &shared);
  EXPECT_EQ(fresh.random_numbers, 2 * BL * P);
  EXPECT_EQ(shared.random_numbers, 2 * BL);
  EXPECT_EQ(fresh.products, P * 7 * 3);
  EXPECT_EQ(fresh.bit_products, P * 7 * 3 * BL);
}

// The streams: reproducible from the generator's state, the same through both entry points,
// uniform on [0, 1) on the float32 grid k 2^-24 (mean 1/2, variance 1/12), r and q distinct.
TEST(Essop, StreamsAreReproducibleUniformOnTheFloatGrid) {
  auto g1 = nc::make_generator(7, "test"), g2 = nc::make_generator(7, "test");
  const int64_t P = 5001, BL = 8;  // an odd count: the generator's last group of four is cut
  const auto s = essop_draw_streams(P, bl(BL), g1);
  std::vector<float> r(P * BL), q(P * BL);
  essop_draw_streams_into(P, bl(BL), g2, r.data(), q.data());
  EXPECT_TRUE(torch::equal(s.r, torch::from_blob(r.data(), {P, BL})));
  EXPECT_TRUE(torch::equal(s.q, torch::from_blob(q.data(), {P, BL})));
  EXPECT_FALSE(torch::equal(s.r, s.q));
  for (const auto& t : {s.r, s.q}) {
    const auto v = t.to(torch::kFloat64);
    EXPECT_GE(v.min().item<double>(), 0.0);
    EXPECT_LT(v.max().item<double>(), 1.0);
    EXPECT_TRUE(torch::equal(v * 16777216.0, (v * 16777216.0).floor()));  // on the 2^-24 grid
    const double n = static_cast<double>(v.numel());
    EXPECT_NEAR(v.mean().item<double>(), 0.5, 5 * std::sqrt(1.0 / 12 / n));
    EXPECT_NEAR(v.var().item<double>(), 1.0 / 12, 0.02 / 12);
  }
  // Shared: one pair of BL numbers.
  const auto sh = essop_draw_streams(P, bl(BL, EssopStreams::shared), g1);
  EXPECT_EQ(sh.r.sizes(), (std::vector<int64_t>{1, BL}));
}

TEST(Essop, SidesGetDistinctStreamsAndASharedStreamIsBiased) {
  auto g = nc::make_generator(6, "test");
  const auto s = essop_draw_streams(1, bl(64), g);
  EXPECT_FALSE(torch::equal(s.r, s.q));
  // x^ = d^ = 0.5 (element [1][1]; scales 1): with one stream for both sides
  // E[c/BL] = min(x^, d^) = 0.5, not x^ d^ = 0.25.
  const auto x = torch::tensor({{1.0f, 0.5f}}), d = torch::tensor({{1.0f, 0.5f}});
  double biased = 0;
  for (int t = 0; t < 200; ++t) {
    const auto r = torch::rand({1, 64}, g);
    biased += essop_outer_sum(x, d, {r, r}, EssopScaling::per_product)[1][1].item<double>();
  }
  EXPECT_NEAR(biased / 200, 0.5, 0.02);
}

double rms_error(const torch::Tensor& x, const torch::Tensor& d, int64_t BL, int draws,
                 at::Generator& g) {
  const auto exact = d.t().mm(x).to(torch::kFloat64);
  double se = 0;
  for (int t = 0; t < draws; ++t) {
    se += (essop_outer_sum(x, d, bl(BL), g).to(torch::kFloat64) - exact).pow(2).mean().item<double>();
  }
  return std::sqrt(se / draws) / exact.pow(2).mean().sqrt().item<double>();
}

TEST(Essop, ErrorFallsAsOneOverSqrtBitstream) {
  auto g = nc::make_generator(7, "test");
  const auto x = activations(16, 20, g), d = errors(16, 10, g);
  std::vector<double> lx, ly;
  for (int64_t BL : {4, 8, 16, 32, 64, 128, 256}) {
    lx.push_back(std::log(static_cast<double>(BL)));
    ly.push_back(std::log(rms_error(x, d, BL, 60, g)));
  }
  const double n = static_cast<double>(lx.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < lx.size(); ++i) mx += lx[i] / n, my += ly[i] / n;
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < lx.size(); ++i) {
    sxy += (lx[i] - mx) * (ly[i] - my);
    sxx += (lx[i] - mx) * (lx[i] - mx);
  }
  EXPECT_NEAR(sxy / sxx, -0.5, 0.1);
}

TEST(Essop, LinearInputGradientExactWeightGradientUnbiased) {
  auto g = nc::make_generator(8, "test");
  EssopProducts products(bl(32), 8);
  auto x = activations(6, 11, g).requires_grad_(true);
  auto w = (torch::randn({4, 11}, g) * 0.3).requires_grad_(true);
  auto b = torch::randn({4}, g).requires_grad_(true);
  const auto c = torch::randn({6, 4}, g);
  auto y = torch::nn::functional::linear(x, w, b);
  (y * c).sum().backward();
  const auto dx = x.grad().clone(), dw = w.grad().clone(), db = b.grad().clone();
  torch::Tensor mean = torch::zeros_like(dw);
  const int draws = 400;
  for (int t = 0; t < draws; ++t) {
    x.mutable_grad() = torch::Tensor();
    w.mutable_grad() = torch::Tensor();
    b.mutable_grad() = torch::Tensor();
    nc::nn::WeightProductsGuard guard(&products);
    auto ye = nc::nn::linear(x, w, b);
    EXPECT_TRUE(torch::equal(ye, y));
    (ye * c).sum().backward();
    EXPECT_TRUE(torch::allclose(x.grad(), dx, 1e-6, 1e-7));
    EXPECT_TRUE(torch::allclose(b.grad(), db, 1e-6, 1e-7));
    mean += w.grad() / draws;
  }
  // Mean of 400 draws: relative RMS error about (1/sqrt(BL 400)) ~ 0.03.
  const double rel = ((mean - dw).pow(2).mean().sqrt() / dw.pow(2).mean().sqrt()).item<double>();
  EXPECT_LT(rel, 0.08);
  EXPECT_EQ(products.take_stats().calls, draws);
}

TEST(Essop, Conv2dInputGradientExactWeightGradientConverges) {
  auto g = nc::make_generator(9, "test");
  torch::manual_seed(9);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 5, 3).stride(2).padding(1));
  auto x = torch::relu(torch::randn({2, 3, 9, 9}, g)).requires_grad_(true);
  const auto c = torch::randn({2, 5, 5, 5}, g);
  (conv->forward(x) * c).sum().backward();
  const auto dx = x.grad().clone(), dw = conv->weight.grad().clone();
  const auto db = conv->bias.grad().clone();
  double previous = 1e9;
  for (int64_t BL : {4, 32, 256}) {
    EssopProducts products(bl(BL), 1);
    torch::Tensor mean = torch::zeros_like(dw);
    const int draws = 8;
    for (int t = 0; t < draws; ++t) {
      x.mutable_grad() = torch::Tensor();
      conv->zero_grad();
      nc::nn::WeightProductsGuard guard(&products);
      (nc::nn::conv2d(*conv, x) * c).sum().backward();
      EXPECT_TRUE(torch::allclose(x.grad(), dx, 1e-5, 1e-6));
      EXPECT_TRUE(torch::allclose(conv->bias.grad(), db, 1e-5, 1e-6));
      mean += conv->weight.grad() / draws;
    }
    const double rel = ((mean - dw).pow(2).mean().sqrt() / dw.pow(2).mean().sqrt()).item<double>();
    EXPECT_LT(rel, previous) << "BL " << BL;
    previous = rel;
  }
  EXPECT_LT(previous, 0.05);
}

// A stride-1 convolution in training takes the direct entry: its dW is the estimate of the
// same streams on im2col's rows (the generator drawn as for any layer), bit for bit.
TEST(Essop, Conv2dStrideOneWeightGradientIsTheDirectEstimate) {
  namespace F = torch::nn::functional;
  auto g = nc::make_generator(15, "test");
  torch::manual_seed(15);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 5, 3).padding(1));
  auto x = torch::relu(torch::randn({2, 3, 9, 9}, g)).requires_grad_(true);
  const auto c = torch::randn({2, 5, 9, 9}, g);
  EssopProducts products(bl(8), 3);
  {
    nc::nn::WeightProductsGuard guard(&products);
    (nc::nn::conv2d(*conv, x) * c).sum().backward();
  }
  const auto cols = F::unfold(x.detach(), F::UnfoldFuncOptions({3, 3}).padding(1));
  EssopProducts rows(bl(8), 3);
  const auto expected = rows.weight_gradient(cols.transpose(1, 2).reshape({2 * 81, 27}),
                                             c.view({2, 5, 81}).transpose(1, 2).reshape({2 * 81, 5}));
  EXPECT_TRUE(torch::equal(conv->weight.grad(), expected.view(conv->weight.sizes())));
}

TEST(Essop, BadBitstreamIsAUserError) {
  for (int64_t n : {0, -3, 1025, 100000}) {
    try {
      validate_essop(bl(n));
      FAIL() << n;
    } catch (const nc::UserError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("learn.bitstream"), std::string::npos) << m;
      EXPECT_NE(m.find(std::to_string(n)), std::string::npos) << m;
      EXPECT_NE(m.find("[1, 1024]"), std::string::npos) << m;
    }
  }
}

std::unique_ptr<Rule> rule_from(const std::string& yaml, nc::nn::NetImpl& model) {
  auto config = nc::Config::from_string(yaml, "t.yaml");
  auto learn = config.root().section("learn");
  auto r = make_rule(learn, model);
  learn.finish();
  return r;
}

TEST(Essop, IsConfiguredFromTheLearnSection) {
  auto model = nc::nn::MLP(nc::nn::MLPOptions(12, 3).hidden({8}));
  auto r = rule_from("learn: {update: essop, bitstream: 8, essop: {streams: shared}}\n", *model);
  auto* e = dynamic_cast<EssopRule*>(r.get());
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->name(), "bptt+essop");
  EXPECT_EQ(e->products().options().bitstream(), 8);
  EXPECT_EQ(e->products().options().streams(), EssopStreams::shared);
  EXPECT_EQ(rule_from("learn: {rule: bptt}\n", *model)->name(), "bptt");
  for (const char* bad : {"learn: {update: essop, bitstream: 0}\n",
                          "learn: {update: essop, bitstream: 4096}\n",
                          "learn: {update: exact, bitstream: 8}\n",
                          "learn: {update: essop, essop: {streams: none}}\n",
                          "learn: {update: sometimes}\n"}) {
    EXPECT_THROW(rule_from(bad, *model), nc::UserError) << bad;
  }
  try {
    rule_from("learn: {update: essop, bitstream: 0}\n", *model);
  } catch (const nc::UserError& err) {
    EXPECT_NE(std::string(err.what()).find("learn.bitstream"), std::string::npos) << err.what();
  }
}

// One training step of an MLP and of a spiking MLP (BPTT over T steps) with ESSOP.
TEST(Essop, RuleTrainsMlpAndSnuMlp) {
  torch::manual_seed(10);
  auto g = nc::make_generator(10, "test");
  for (const bool spiking : {false, true}) {
    std::shared_ptr<nc::nn::NetImpl> model;
    torch::Tensor x;
    if (spiking) {
      model = nc::nn::SNUMLP(nc::nn::SNUMLPOptions(12, 3).hidden({8})).ptr();
      x = (torch::rand({5, 6, 1, 3, 4}, g) < 0.3).to(torch::kFloat32);
    } else {
      model = nc::nn::MLP(nc::nn::MLPOptions(12, 3).hidden({8})).ptr();
      x = torch::randn({6, 1, 3, 4}, g);
    }
    EssopRule rule(std::make_unique<BpttRule>(), bl(16));
    rule.start_epoch(1, 0);
    torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.1));
    const auto y = torch::tensor({0, 1, 2, 0, 1, 2});
    const auto loss = resolve_loss("auto", model->temporal());
    const auto before = model->parameters()[0].clone();
    const auto r = rule.train_batch(*model, x, y, loss, opt);
    EXPECT_TRUE(std::isfinite(r.loss));
    EXPECT_FALSE(torch::equal(before, model->parameters()[0])) << "spiking " << spiking;
    const auto m = rule.epoch_metrics();
    ASSERT_FALSE(m.empty());
    EXPECT_EQ(m[0].first, "essop_bitstream");
    bool found = false;
    for (const auto& [k, v] : m) {
      if (k == "essop_fp_multiplies_replaced") {
        found = true;
        EXPECT_GT(v, 0) << "spiking " << spiking;
      }
    }
    EXPECT_TRUE(found);
  }
}

TEST(Essop, EnergyModelCountsPerSpec) {
  EssopStats s;
  s.outer_products = 2;
  s.products = 2 * 3 * 4;
  s.elements = 2 * 7;
  s.random_numbers = 2 * 2 * 8;
  s.bit_products = s.products * 8;
  s.stream_bits = s.elements * 8;
  const auto c = essop_cost(s);
  EXPECT_DOUBLE_EQ(c.multiplies_replaced, 24);
  EXPECT_DOUBLE_EQ(c.energy_fp32_pj, 24 * (3.7 + 0.9));
  EXPECT_DOUBLE_EQ(c.energy_fp16_pj, 24 * (1.1 + 0.4));
  EXPECT_DOUBLE_EQ(c.comparisons, 14 * 8);
  EXPECT_DOUBLE_EQ(c.bits_fp32, 14 * 32);
  EXPECT_GT(c.energy_essop_pj, 0);
  EXPECT_LT(c.energy_essop_pj, c.energy_fp16_pj);
}

}  // namespace
