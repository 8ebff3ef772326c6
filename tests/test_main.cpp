#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/core/threads.h"

// Tests run single-threaded and deterministic: two tests running side by side under
// ctest -j2 must not oversubscribe the two cores.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  nc::set_threads(1);
  torch::manual_seed(0);
  return RUN_ALL_TESTS();
}
