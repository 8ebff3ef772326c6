// Fake-quant properties of efqat.md §10.6 and the range setters of §4.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "neurocore/compress/fake_quant.h"
#include "neurocore/compress/observer.h"
#include "neurocore/compress/quant_net.h"
#include "neurocore/core/error.h"

namespace nc::compress {
namespace {

QuantSpec weight_spec(int bits) {
  QuantSpec s;
  s.bits = bits;
  s.per_channel = true;
  return s;
}

TEST(FakeQuant, GridLimits) {
  QuantSpec s;
  s.bits = 4;
  EXPECT_EQ(s.qmin(), -8);
  EXPECT_EQ(s.qmax(), 7);
  s.restricted = true;
  EXPECT_EQ(s.qmin(), -7);
  s.is_signed = false;
  EXPECT_EQ(s.qmin(), 0);
  EXPECT_EQ(s.qmax(), 15);
}

TEST(FakeQuant, IdempotentAndAtMostTwoToTheBValuesPerChannel) {
  torch::manual_seed(1);
  const auto x = torch::randn({6, 3, 3, 3}, torch::kDouble) * 2;
  for (int bits = 2; bits <= 8; ++bits) {
    const auto spec = weight_spec(bits);
    auto [s, z] = compute_range(x, spec, RangeMethod::mse);
    const auto q1 = fake_quantize(x, s, z, spec.qmin(), spec.qmax());
    const auto q2 = fake_quantize(q1, s, z, spec.qmin(), spec.qmax());
    EXPECT_TRUE(torch::equal(q1, q2)) << bits << " bits";
    for (int64_t c = 0; c < x.size(0); ++c) {
      EXPECT_LE(std::get<0>(torch::_unique(q1[c])).numel(), int64_t{1} << bits);
    }
    // Asymmetric per-tensor on shifted data.
    QuantSpec a;
    a.bits = bits;
    a.is_signed = false;
    a.symmetric = false;
    const auto y = x + 0.5;
    auto [sa, za] = compute_range(y, a, RangeMethod::minmax);
    const auto p1 = fake_quantize(y, sa, za, a.qmin(), a.qmax());
    EXPECT_TRUE(torch::allclose(fake_quantize(p1, sa, za, a.qmin(), a.qmax()), p1, 0, 1e-12));
    EXPECT_LE(std::get<0>(torch::_unique(p1)).numel(), int64_t{1} << bits);
  }
}

TEST(FakeQuant, SteGradientIsOneInsideZeroOutside) {
  const auto x = torch::tensor({-10.0, -0.84, -0.3, 0.0, 0.26, 0.69, 0.74, 3.0}, torch::kDouble)
                     .requires_grad_(true);
  const auto s = torch::tensor({0.1}, torch::kDouble), z = torch::zeros({1}, torch::kDouble);
  // 4-bit signed: x/s must lie in [-8, 7] (before rounding).
  fake_quantize(x, s, z, -8, 7).sum().backward();
  const auto expected = torch::tensor({0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0}, torch::kDouble);
  EXPECT_TRUE(torch::equal(x.grad(), expected)) << x.grad();
}

TEST(FakeQuant, LsqScaleGradientMatchesClosedForm) {
  torch::manual_seed(2);
  const auto x = torch::randn({200}, torch::kDouble) * 0.5;
  const auto c = torch::randn({200}, torch::kDouble);
  const auto s = torch::tensor({0.07}, torch::kDouble).requires_grad_(true);
  const auto z = torch::tensor({3.0}, torch::kDouble);
  const int64_t qmin = 0, qmax = 15;
  const double g = 1.0 / std::sqrt(200.0 * qmax);
  (fake_quantize(x, s, z, qmin, qmax, g) * c).sum().backward();
  // efqat.md §3: round(x/s) − x/s inside; Qn − z below; Qp − z above; times g.
  double expected = 0;
  for (int64_t i = 0; i < 200; ++i) {
    const double xi = x[i].item<double>(), v = xi / 0.07;
    double d;
    if (v + 3.0 < qmin) {
      d = qmin - 3.0;
    } else if (v + 3.0 > qmax) {
      d = qmax - 3.0;
    } else {
      d = std::nearbyint(v + 3.0) - 3.0 - v;
    }
    expected += c[i].item<double>() * d * g;
  }
  EXPECT_NEAR(s.grad().item<double>(), expected, 1e-12);
}

TEST(FakeQuant, LsqGradientOfClippedValuesMatchesFiniteDifferences) {
  // Clipped values are exactly s·(Qn − z) or s·(Qp − z): their true derivative in s is the
  // LSQ one, so central differences check it without the STE.
  const auto x = torch::tensor({-5.0, -3.0, 4.0, 6.0}, torch::kDouble);
  const auto z = torch::tensor({2.0}, torch::kDouble);
  auto f = [&](double sv) {
    return fake_quantize(x, torch::tensor({sv}, torch::kDouble), z, 0, 15).sum().item<double>();
  };
  const auto s = torch::tensor({0.1}, torch::kDouble).requires_grad_(true);
  fake_quantize(x, s, z, 0, 15).sum().backward();
  const double h = 1e-6, fd = (f(0.1 + h) - f(0.1 - h)) / (2 * h);
  EXPECT_NEAR(s.grad().item<double>(), fd, 1e-6);
  EXPECT_NEAR(fd, 2 * (0 - 2.0) + 2 * (15 - 2.0), 1e-6);
}

// The definition of efqat.md §3 written with differentiable LibTorch ops (STE by detach, LSQ
// gradient scaling by s + (a − a)): the reference the fused kernel must reproduce.
torch::Tensor composed_fake_quantize(const torch::Tensor& x, const torch::Tensor& scale,
                                     const torch::Tensor& zero_point, int64_t qmin,
                                     int64_t qmax, double g) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = scale.numel();
  auto bcast = [&](const torch::Tensor& p) {
    return scale.numel() == 1 ? p.reshape({}) : p.reshape(shape);
  };
  const auto sc = scale.to(x.scalar_type());
  const auto s = bcast(sc.detach() + (sc * g - (sc * g).detach()));
  const auto z = bcast(zero_point.to(x.scalar_type()));
  const auto c = torch::clamp(x / s + z, static_cast<double>(qmin), static_cast<double>(qmax));
  return (c + (torch::round(c) - c).detach() - z) * s;
}

TEST(FakeQuant, FusedKernelEqualsComposedDefinition) {
  torch::manual_seed(5);
  using Fq = torch::Tensor (*)(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                               int64_t, int64_t, double);
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    for (bool per_channel : {false, true}) {
      // 70,000 elements per channel: several of the kernel's blocks per channel.
      const auto x0 = torch::randn({3, 70000}, dtype) * 3;
      const auto cot = torch::randn({3, 70000}, dtype);
      const auto s0 = torch::rand({per_channel ? 3 : 1}) * 0.2 + 0.05;  // float, as held
      const auto z = per_channel ? torch::tensor({0.0, 3.0, -2.0}) : torch::tensor({4.0});
      // Returns the output and the gradients of <output, cot> in x and in the scale.
      auto run = [&](Fq fq) {
        const auto x = x0.clone().requires_grad_(true), s = s0.clone().requires_grad_(true);
        const auto y = fq(x, s, z, -8, 7, 0.37);
        (y * cot).sum().backward();
        return std::make_tuple(y.detach(), x.grad(), s.grad());
      };
      const auto [y1, dx1, ds1] = run(&fake_quantize);
      const auto [y2, dx2, ds2] = run(&composed_fake_quantize);
      EXPECT_TRUE(torch::equal(y1, y2)) << "forward differs, dtype " << dtype;
      // The same STE mask; the composed version computes (g·s)/s, which rounds.
      EXPECT_TRUE(torch::equal(dx1 != 0, dx2 != 0)) << "STE masks differ";
      const double x_rtol = dtype == torch::kFloat ? 1e-6 : 1e-14;
      EXPECT_TRUE(torch::allclose(dx1, dx2, x_rtol, 0)) << (dx1 - dx2).abs().max();
      // Summation orders differ (blocks vs LibTorch's reduction): float to its precision.
      const double rtol = dtype == torch::kFloat ? 1e-4 : 1e-10;
      EXPECT_TRUE(torch::allclose(ds1, ds2, rtol, 0)) << ds1 << ds2;
      EXPECT_EQ(ds1.scalar_type(), torch::kFloat);
    }
  }
}

TEST(Observer, RangesOrderedAndMseNoWorseThanMinMax) {
  torch::manual_seed(3);
  auto w = torch::randn({8, 64}, torch::kDouble);
  w[0][0] = 12.0;  // an outlier: clipping it pays off at 4 bits
  const auto spec = weight_spec(4);
  auto [smm, zmm] = compute_range(w, spec, RangeMethod::minmax);
  auto [smse, zmse] = compute_range(w, spec, RangeMethod::mse);
  auto [sp, zp] = compute_range(w, spec, RangeMethod::percentile, 90.0);
  EXPECT_TRUE(torch::allclose(smm.to(torch::kDouble),
                              std::get<0>(w.abs().max(1)) / 7.0, 1e-6));
  EXPECT_TRUE((smse <= smm + 1e-9).all().item<bool>());
  EXPECT_TRUE((sp <= smm + 1e-9).all().item<bool>());
  auto err = [&](const torch::Tensor& s, const torch::Tensor& z) {
    return (w - fake_quantize(w, s.to(torch::kDouble), z, spec.qmin(), spec.qmax()))
        .pow(2)
        .sum(1);
  };
  EXPECT_TRUE((err(smse, zmse) <= err(smm, zmm) + 1e-9).all().item<bool>());
  EXPECT_LT(smse[0].item<double>(), smm[0].item<double>());
}

TEST(Observer, ActivationObserverTracksExtremesOverBatches) {
  ActivationObserver o;
  o.observe(torch::tensor({0.0, 1.0, 2.0}));
  o.observe(torch::tensor({0.5, 3.0}));
  EXPECT_EQ(o.min(), 0.0);
  EXPECT_EQ(o.max(), 3.0);
  QuantSpec s;
  s.bits = 8;
  s.is_signed = false;
  auto [scale, zero] = o.range(s, RangeMethod::minmax);
  EXPECT_NEAR(scale.item<double>(), 3.0 / 255.0, 1e-7);
  EXPECT_EQ(zero.item<double>(), 0.0);
}

TEST(Bits, ParsesAndRejects) {
  const auto b = parse_bits("W4A8");
  EXPECT_EQ(b.weights, 4);
  EXPECT_EQ(b.activations, 8);
  EXPECT_EQ(to_string(parse_bits("w2a3")), "W2A3");
  try {
    parse_bits("4bit");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("W<bits>A<bits>"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("4bit"), std::string::npos);
  }
  EXPECT_THROW(parse_bits("W1A8"), UserError);
  EXPECT_THROW(parse_bits("W4A16"), UserError);
  EXPECT_THROW(parse_range_method("max", "weight_range"), UserError);
}

}  // namespace
}  // namespace nc::compress
