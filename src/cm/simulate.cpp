// A compiled model on a user's inputs (see the header).
#include "neurocore/cm/simulate.h"

#include <algorithm>
#include <numeric>

#include "neurocore/core/error.h"

namespace nc::cm {

namespace {

std::string dims(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t product(const std::vector<int64_t>& s, std::size_t from = 0) {
  int64_t n = 1;
  for (std::size_t i = from; i < s.size(); ++i) n *= s[i];
  return n;
}

}  // namespace

std::vector<std::vector<float>> split_samples(const Shape& input, const std::vector<int64_t>& shape,
                                              const std::vector<float>& data, const std::string& origin) {
  const int64_t per = product(input);
  const int64_t total = static_cast<int64_t>(data.size());
  if (total == 0) throw UserError(origin + ": the array is empty");
  int64_t n = -1;
  if (shape == input || total == per) {
    n = 1;
  } else if (shape.size() >= 2 && (std::vector<int64_t>(shape.begin() + 1, shape.end()) == input ||
                                   product(shape, 1) == per)) {
    n = shape[0];
  }
  if (n < 1) {
    throw UserError(origin + ": an array of shape " + dims(shape) + " does not fit the model's input " +
                    shape_str(input) + "; expected " + shape_str(input) + " (one sample) or [N, " +
                    dims(input).substr(1) + " (N samples)");
  }
  std::vector<std::vector<float>> samples(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    samples[static_cast<std::size_t>(i)].assign(data.begin() + i * per, data.begin() + (i + 1) * per);
  }
  return samples;
}

std::vector<TopClass> top_k(const std::vector<float>& output, int64_t k) {
  std::vector<int64_t> idx(output.size());
  std::iota(idx.begin(), idx.end(), 0);
  const auto kk = static_cast<std::size_t>(std::clamp<int64_t>(k, 0, static_cast<int64_t>(output.size())));
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(kk), idx.end(), [&](int64_t a, int64_t b) {
    const float va = output[static_cast<std::size_t>(a)], vb = output[static_cast<std::size_t>(b)];
    return va > vb || (va == vb && a < b);
  });
  std::vector<TopClass> out;
  for (std::size_t i = 0; i < kk; ++i) out.push_back({idx[i], output[static_cast<std::size_t>(idx[i])]});
  return out;
}

std::vector<std::vector<float>> simulate_samples(const Compiled& c, const std::vector<std::vector<float>>& frames,
                                                 const AnalogOptions& analog) {
  FunctionalOptions fo;
  fo.analog = analog;
  FunctionalSimulator sim(c, fo);
  const std::vector<std::vector<float>> out = sim.run(frames);
  const auto t = static_cast<std::size_t>(c.graph().frames_per_sample());
  std::vector<std::vector<float>> per_sample;
  for (std::size_t i = 0; i < out.size(); i += t) {
    std::vector<float> sum = out[i];
    for (std::size_t f = 1; f < t; ++f) {
      for (std::size_t j = 0; j < sum.size(); ++j) sum[j] += out[i + f][j];
    }
    per_sample.push_back(std::move(sum));
  }
  return per_sample;
}

}  // namespace nc::cm
