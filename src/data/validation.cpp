#include "neurocore/data/validation.h"

#include <torch/torch.h>

#include <string>
#include <vector>

#include "neurocore/core/error.h"

namespace nc::data {

ValidationSplit split_validation(const Dataset& train) {
  const int64_t n = train.size();
  const auto labels = train.labels.to(torch::kLong).contiguous();
  const int64_t* y = labels.data_ptr<int64_t>();
  std::vector<int64_t> count(static_cast<std::size_t>(train.num_classes), 0);
  for (int64_t i = 0; i < n; ++i) {
    if (y[i] < 0 || y[i] >= train.num_classes) {
      throw UserError(train.name + ": label " + std::to_string(y[i]) + " of example " +
                      std::to_string(i) + " is outside [0, " + std::to_string(train.num_classes) +
                      "): cannot split off the validation examples per class");
    }
    ++count[static_cast<std::size_t>(y[i])];
  }
  // An example of class c goes to valid once the first n_c - floor(0.1 n_c) of its class
  // have been seen: one pass in file order keeps both parts in file order.
  std::vector<int64_t> seen(count.size(), 0), keep, hold;
  for (int64_t i = 0; i < n; ++i) {
    const auto c = static_cast<std::size_t>(y[i]);
    (seen[c]++ < count[c] - validation_count(count[c]) ? keep : hold).push_back(i);
  }
  auto take = [&](const std::vector<int64_t>& idx, const std::string& name) {
    Dataset d = train;
    d.name = name;
    const auto t = torch::tensor(idx, torch::kLong);
    d.images = train.images.index_select(0, t).contiguous();
    d.labels = labels.index_select(0, t).contiguous();
    return d;
  };
  return {take(keep, train.name), take(hold, train.name + "-valid")};
}

}  // namespace nc::data
