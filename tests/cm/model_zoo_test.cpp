// The model zoo: output shapes, parameter counts against the published ones, and the fabric
// mapping (crossbar mapping, core graph, placement) on every network.
#include <gtest/gtest.h>

#include "neurocore/cm/model_zoo.h"
#include "neurocore/cm/placement.h"
#include "neurocore/core/error.h"

namespace nc::cm {
namespace {

Shape shape_of(const Graph& g, const std::string& node) {
  return g.value(g.node(g.find_node(node)).output).shape;
}

Shape output_shape(const Graph& g) {
  EXPECT_EQ(g.outputs().size(), 1u);
  return g.value(g.outputs().at(0)).shape;
}

// Published counts: torchvision's model documentation (pytorch.org/vision/stable/models,
// the "num_params" of each IMAGENET1K_V1 weight entry), 1000 classes, BatchNorm gamma and
// beta included, running statistics not.
TEST(CmModelZoo, ResNet18ShapesAndParameters) {
  Graph g = resnet_imagenet(18);
  EXPECT_EQ(shape_of(g, "maxpool"), (Shape{64, 56, 56}));
  EXPECT_EQ(shape_of(g, "layer4.1.relu"), (Shape{512, 7, 7}));
  EXPECT_EQ(output_shape(g), (Shape{1000}));
  EXPECT_EQ(parameter_count(g), 11689512);  // torchvision: 11,689,512 (11.69M)
}

TEST(CmModelZoo, ResNet34And50ShapesAndParameters) {
  EXPECT_EQ(parameter_count(resnet_imagenet(34)), 21797672);  // torchvision: 21,797,672
  Graph g = resnet_imagenet(50);
  EXPECT_EQ(shape_of(g, "layer1.0.downsample.0"), (Shape{256, 56, 56}));
  EXPECT_EQ(shape_of(g, "layer4.2.relu"), (Shape{2048, 7, 7}));
  EXPECT_EQ(output_shape(g), (Shape{1000}));
  EXPECT_EQ(parameter_count(g), 25557032);  // torchvision: 25,557,032 (25.56M)
}

TEST(CmModelZoo, MobileNetV2ShapesAndParameters) {
  Graph g = mobilenet_v2();
  EXPECT_EQ(shape_of(g, "features.18.2"), (Shape{1280, 7, 7}));
  EXPECT_EQ(output_shape(g), (Shape{1000}));
  EXPECT_EQ(parameter_count(g), 3504872);  // torchvision: 3,504,872
  int depthwise = 0, adds = 0;
  for (const Node& n : g.nodes()) {
    if (n.kind == OpKind::kConv2d && n.conv().groups() > 1) {
      EXPECT_EQ(n.conv().groups(), n.conv().in_channels()) << n.name;
      ++depthwise;
    }
    adds += n.kind == OpKind::kAdd;
  }
  EXPECT_EQ(depthwise, 17);  // one per inverted residual block (Table 2: 1+2+3+4+3+3+1)
  EXPECT_EQ(adds, 10);       // blocks with stride 1 and unchanged channels
}

TEST(CmModelZoo, GoogLeNetShapesAndParameters) {
  Graph g = googlenet();
  EXPECT_EQ(shape_of(g, "maxpool2"), (Shape{192, 28, 28}));
  EXPECT_EQ(shape_of(g, "inception3a.concat"), (Shape{256, 28, 28}));
  EXPECT_EQ(shape_of(g, "inception4e.concat"), (Shape{832, 14, 14}));
  EXPECT_EQ(shape_of(g, "inception5b.concat"), (Shape{1024, 7, 7}));
  EXPECT_EQ(output_shape(g), (Shape{1000}));
  EXPECT_EQ(parameter_count(g), 6624904);  // torchvision (no auxiliary classifiers): 6,624,904
  const Node& c = g.node(g.find_node("inception4a.concat"));
  EXPECT_EQ(c.inputs.size(), 4u);
}

TEST(CmModelZoo, DenseNet121ShapesAndParameters) {
  Graph g = densenet(121);
  EXPECT_EQ(shape_of(g, "features.denseblock1.concat"), (Shape{256, 56, 56}));
  EXPECT_EQ(shape_of(g, "features.transition3.pool"), (Shape{512, 7, 7}));
  EXPECT_EQ(shape_of(g, "features.norm5"), (Shape{1024, 7, 7}));
  EXPECT_EQ(output_shape(g), (Shape{1000}));
  EXPECT_EQ(parameter_count(g), 7978856);  // torchvision: 7,978,856
  // Layer l of a block reads the block input and the l - 1 earlier outputs.
  EXPECT_EQ(g.node(g.find_node("features.denseblock3.denselayer24.concat")).inputs.size(), 24u);
}

TEST(CmModelZoo, CifarResNetParameters) {
  // He et al. 2016, Table 6: 0.27M (ResNet-20), 0.46M (ResNet-32), 0.85M (ResNet-56), option A;
  // exact by the arithmetic of the layer table in specs/fabric.md §7 plus BN and the FC bias.
  EXPECT_EQ(parameter_count(resnet_cifar(20)), 269722);
  EXPECT_EQ(parameter_count(resnet_cifar(32)), 464154);
  EXPECT_EQ(parameter_count(resnet_cifar(56)), 853018);
}

TEST(CmModelZoo, NamesAndErrors) {
  for (const auto& n : zoo_names()) EXPECT_NO_THROW(zoo_model(n)) << n;
  try {
    zoo_model("resnet51");
    FAIL();
  } catch (const UserError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("resnet51"), std::string::npos) << m;
    EXPECT_NE(m.find("googlenet"), std::string::npos) << m;  // the valid names are listed
  }
  EXPECT_THROW(resnet_imagenet(20), UserError);
  EXPECT_THROW(densenet(100), UserError);
  EXPECT_THROW(mobilenet_v2(0), UserError);
}

// The fabric pipeline runs on every zoo network: BatchNorms fold, the mapping covers every
// weight, the core graph's flows stay between existing cores, and a placement on the default
// 5PP reconstruction is valid.
TEST(CmModelZoo, FabricMappingRunsOnEveryModel) {
  for (const auto& name : zoo_names()) {
    Graph g = zoo_model(name);
    const int64_t params = parameter_count(g);
    g.fold_batch_norms();
    Hardware hw;
    const Mapping m = map_graph(g, hw);
    int64_t weights = 0;
    for (const Node& n : g.nodes()) {
      if (n.kind == OpKind::kConv2d) {
        const auto& o = n.conv();
        weights += o.out_channels() * (o.in_channels() / o.groups()) * o.kernel_size().h * o.kernel_size().w;
      } else if (n.kind == OpKind::kLinear) {
        weights += n.linear().in_features() * n.linear().out_features();
      }
    }
    EXPECT_EQ(m.total_cells, weights) << name;
    EXPECT_LT(weights, params) << name;
    const CoreGraph cg = build_core_graph(g, m, hw);
    EXPECT_EQ(cg.cores, m.total_cores) << name;
    ASSERT_FALSE(cg.flows.empty()) << name;
    for (const auto& f : cg.flows) {
      ASSERT_TRUE(f.src >= 0 && f.src < cg.cores && f.dst >= 0 && f.dst < cg.cores && f.bits > 0) << name;
    }
    const Topology t = Topology::make("5pp-band", cg.cores);
    PlacementOptions o;
    o.try_vf2 = false;
    o.anneal_iterations = 2000;
    const Placement p = place(t, cg, o);
    EXPECT_TRUE(check_placement(t, cg, p.node_of).valid()) << name;
  }
}

}  // namespace
}  // namespace nc::cm
