// The shipped pipeline config passes the validation the pipeline does before its first stage.
#include <gtest/gtest.h>

#include "neurocore/data/registry.h"
#include "neurocore/pipeline/pipeline.h"

namespace {

TEST(PipelineConfig, ShippedConfigIsValid) {
  bool available = false;
  for (const auto& d : nc::data::list_datasets()) available |= d.name == "fashion-mnist" && d.available;
  if (!available) GTEST_SKIP() << "Fashion-MNIST not installed";
  auto c = nc::Config::load(std::string(NC_SOURCE_DIR) + "/configs/pipeline.yaml");
  c.set("data.limit_train=16");
  c.set("data.limit_test=16");
  c.set("threads=1");
  c.set("compile.hw=" + std::string(NC_SOURCE_DIR) + "/configs/hw/default.yaml");
  EXPECT_NO_THROW(nc::pipeline::validate_pipeline_config(c));
}

}  // namespace
