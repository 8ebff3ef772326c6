// The shipped pipeline configs (configs/pipeline*.yaml) pass the validation the pipeline does
// before its first stage.
#include <gtest/gtest.h>

#include <filesystem>

#include "neurocore/data/registry.h"
#include "neurocore/pipeline/pipeline.h"

namespace {

TEST(PipelineConfig, ShippedConfigsAreValid) {
  bool available = false;
  for (const auto& d : nc::data::list_datasets()) available |= d.name == "fashion-mnist" && d.available;
  if (!available) GTEST_SKIP() << "Fashion-MNIST not installed";
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(NC_SOURCE_DIR) + "/configs")) {
    const std::string file = entry.path().filename().string();
    if (file.rfind("pipeline", 0) != 0 || entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(file);
    auto c = nc::Config::load(entry.path().string());
    c.set("threads=1");
    c.set("compile.hw=" + std::string(NC_SOURCE_DIR) + "/configs/hw/default.yaml");
    if (file != "pipeline-onnx.yaml") {
      c.set("data.limit_train=16");
      c.set("data.limit_test=16");
    } else {
      c.set("model.onnx=" + std::string(NC_SOURCE_DIR) + "/tests/cm/data/resnet20-cifar.onnx");
    }
    EXPECT_NO_THROW(nc::pipeline::validate_pipeline_config(c));
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

}  // namespace
