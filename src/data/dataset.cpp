#include "neurocore/data/dataset.h"

#include <torch/torch.h>

namespace nc::data {

int64_t Dataset::size() const { return images.defined() ? images.size(0) : 0; }

Dataset Dataset::head(int64_t limit) const {
  if (limit <= 0 || limit >= size()) return *this;
  Dataset d = *this;
  d.images = images.narrow(0, 0, limit);
  d.labels = labels.narrow(0, 0, limit);
  return d;
}

}  // namespace nc::data
