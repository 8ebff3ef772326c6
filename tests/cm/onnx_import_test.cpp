#include "neurocore/cm/onnx_import.h"

#include <gtest/gtest.h>
// Debian's libonnx-dev ships the ONNX-ML variant of the protobuf classes (onnx-ml.pb.h).
#ifndef ONNX_ML
#define ONNX_ML 1
#endif
#include <onnx/onnx_pb.h>

#include <fstream>
#include <sstream>

#include "neurocore/cm/mapping.h"
#include "neurocore/cm/model_zoo.h"
#include "neurocore/core/error.h"

namespace nc::cm {
namespace {

// A copy of ../shared/data/onnx/resnet20-cifar.onnx (IBM cmnnc, BSD-2; tests/cm/data/README.md).
const std::string kResNet20 = std::string(NC_SOURCE_DIR) + "/tests/cm/data/resnet20-cifar.onnx";

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

int count(const Graph& g, OpKind k) {
  int n = 0;
  for (const auto& node : g.nodes()) n += node.kind == k;
  return n;
}

TEST(CmOnnx, ImportsResNet20) {
  const OnnxImport r = import_onnx(kResNet20);
  EXPECT_EQ(r.opset, 9);
  EXPECT_EQ(r.op_counts.at("Conv"), 19);
  EXPECT_EQ(r.op_counts.at("BatchNormalization"), 19);
  EXPECT_EQ(r.op_counts.at("Relu"), 19);
  EXPECT_EQ(r.op_counts.at("Add"), 9);
  EXPECT_EQ(r.op_counts.at("Gemm"), 1);
  EXPECT_EQ(r.op_counts.at("Reshape"), 1);
  const Graph& g = r.graph;
  EXPECT_EQ(count(g, OpKind::kConv2d), 19);
  EXPECT_EQ(count(g, OpKind::kBatchNorm), 0);  // all folded
  EXPECT_EQ(count(g, OpKind::kActivation), 19);
  EXPECT_EQ(count(g, OpKind::kAdd), 9);
  EXPECT_EQ(count(g, OpKind::kGlobalAvgPool), 1);
  EXPECT_EQ(count(g, OpKind::kFlatten), 1);
  EXPECT_EQ(count(g, OpKind::kLinear), 1);
  EXPECT_EQ(count(g, OpKind::kPad), r.op_counts.at("Pad"));
  EXPECT_EQ(count(g, OpKind::kSlice), 2);  // the two repaired option-A shortcuts
  EXPECT_EQ(r.notes.size(), 2u);
  ASSERT_EQ(g.inputs().size(), 1u);
  EXPECT_EQ(g.value(g.inputs()[0]).shape, (Shape{3, 32, 32}));
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.value(g.outputs()[0]).shape, (Shape{10}));  // [1, 10] with the batch of 1
  // Weights were read and folded.
  const Node& fc = g.node(g.value(g.outputs()[0]).producer);
  EXPECT_EQ(fc.weight.size(), 640u);
  EXPECT_EQ(fc.bias.size(), 10u);
  for (const auto& n : g.nodes()) {
    if (n.kind == OpKind::kConv2d) {
      EXPECT_EQ(n.bias.size(), static_cast<std::size_t>(n.conv().out_channels()));
    }
  }
}

TEST(CmOnnx, ResNet20MapsLikeTheInCodeResNet20) {
  const Hardware hw;
  const Mapping a = map_graph(import_onnx(kResNet20).graph, hw);
  Graph ref = resnet_cifar(20);
  ref.fold_batch_norms();
  const Mapping b = map_graph(ref, hw);
  EXPECT_EQ(a.total_cores, 36);
  EXPECT_EQ(a.total_cores, b.total_cores);
  EXPECT_EQ(a.total_cells, b.total_cells);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const auto &x = a.layers[i], &y = b.layers[i];
    SCOPED_TRACE(y.name);
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.rows, y.rows);
    EXPECT_EQ(x.cols, y.cols);
    EXPECT_EQ(x.first_core, y.first_core);
    EXPECT_EQ(x.cores, y.cores);
    EXPECT_EQ(x.mvms_per_image, y.mvms_per_image);
    ASSERT_EQ(x.tiles.size(), y.tiles.size());
    for (std::size_t t = 0; t < x.tiles.size(); ++t) {
      EXPECT_EQ(x.tiles[t].core, y.tiles[t].core);
      EXPECT_EQ(x.tiles[t].row_end, y.tiles[t].row_end);
      EXPECT_EQ(x.tiles[t].col_end, y.tiles[t].col_end);
    }
  }
}

TEST(CmOnnx, UnsupportedOpsAreListedWithTheirNodeNames) {
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(slurp(kResNet20)));
  m.mutable_graph()->mutable_node(2)->set_op_type("LSTM");
  m.mutable_graph()->mutable_node(2)->set_name("lstm_here");
  m.mutable_graph()->mutable_node(5)->set_op_type("Resize");
  try {
    import_onnx_bytes(m.SerializeAsString(), "edited.onnx");
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("edited.onnx: unsupported ONNX ops: LSTM (node 'lstm_here'), Resize (node with output '"),
              std::string::npos)
        << msg;
  }
  m.mutable_opset_import(0)->set_version(18);
  EXPECT_THROW(import_onnx_bytes(m.SerializeAsString()), UserError);
  EXPECT_THROW(import_onnx_bytes("not a model"), UserError);
  EXPECT_THROW(import_onnx("/nonexistent.onnx"), UserError);
}

// --- a small opset-13 model: inputs instead of attributes (Pad, Slice, Unsqueeze, Clip) ---

void add_init(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims,
              const std::vector<float>& v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (auto d : dims) t->add_dims(d);
  for (float x : v) t->add_float_data(x);
}
void add_ints(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(v.size()));
  for (auto x : v) t->add_int64_data(x);
}
onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                          const std::string& out) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(out);
  for (auto& s : in) n->add_input(s);
  n->add_output(out);
  return n;
}
void add_attr_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}

TEST(CmOnnx, Opset13InputsAndTheFlattenIdiom) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  auto* in = g->add_input();
  in->set_name("x");
  auto* shp = in->mutable_type()->mutable_tensor_type()->mutable_shape();
  shp->add_dim()->set_dim_param("N");
  for (int64_t d : {2, 6, 6}) shp->add_dim()->set_dim_value(d);
  in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  add_init(g, "w", {4, 2, 3, 3}, std::vector<float>(72, 0.5f));
  add_init(g, "b", {4}, {1, 2, 3, 4});
  auto* conv = add_node(g, "Conv", {"x", "w", "b"}, "conv");
  add_attr_ints(conv, "pads", {1, 1, 1, 1});
  add_attr_ints(conv, "strides", {2, 2});
  add_ints(g, "clip_lo", {});  // replaced below by float scalars
  g->mutable_initializer()->RemoveLast();
  add_init(g, "lo", {}, {0.0f});
  add_init(g, "hi", {}, {6.0f});
  add_node(g, "Clip", {"conv", "lo", "hi"}, "relu6");                  // [4, 3, 3]
  add_ints(g, "pads", {0, 2, 1, 0, 0, 2, 0, 1});
  add_node(g, "Pad", {"relu6", "pads"}, "pad");                        // [8, 4, 4]
  add_ints(g, "starts", {0, 1});
  add_ints(g, "ends", {8, 4});
  add_ints(g, "axes", {1, 2});
  add_ints(g, "steps", {2, 2});
  add_node(g, "Slice", {"pad", "starts", "ends", "axes", "steps"}, "slice");  // [4, 2, 4]
  add_node(g, "Shape", {"slice"}, "shape");
  add_ints(g, "zero", {0});
  g->mutable_initializer()->rbegin()->clear_dims();  // a scalar index
  add_node(g, "Gather", {"shape", "zero"}, "batch");
  add_ints(g, "ax0", {0});
  add_node(g, "Unsqueeze", {"batch", "ax0"}, "batch1");
  add_ints(g, "minus1", {-1});
  add_node(g, "Concat", {"batch1", "minus1"}, "target")->add_attribute()->set_name("axis");
  add_node(g, "Reshape", {"slice", "target"}, "flat");                 // [32]
  add_init(g, "fcw", {3, 32}, std::vector<float>(96, 0.25f));
  auto* gemm = add_node(g, "Gemm", {"flat", "fcw"}, "fc");
  auto* tb = gemm->add_attribute();
  tb->set_name("transB");
  tb->set_type(onnx::AttributeProto::INT);
  tb->set_i(1);
  g->add_output()->set_name("fc");
  const OnnxImport r = import_onnx_bytes(m.SerializeAsString(), "small.onnx");
  const Graph& gr = r.graph;
  EXPECT_EQ(gr.value(gr.find_node("conv")).shape, (Shape{4, 3, 3}));
  EXPECT_EQ(gr.node(gr.find_node("relu6")).activation().kind(), ActKind::kReLU6);
  EXPECT_EQ(gr.value(gr.node(gr.find_node("pad")).output).shape, (Shape{8, 4, 4}));
  EXPECT_EQ(gr.value(gr.node(gr.find_node("slice")).output).shape, (Shape{4, 2, 4}));
  EXPECT_EQ(gr.node(gr.find_node("flat")).kind, OpKind::kFlatten);
  const Node& fc = gr.node(gr.find_node("fc"));
  EXPECT_EQ(fc.linear().in_features(), 32);
  EXPECT_EQ(fc.linear().out_features(), 3);
  EXPECT_FALSE(fc.linear().bias());
  EXPECT_EQ(gr.value(gr.outputs()[0]).shape, (Shape{3}));
}

}  // namespace
}  // namespace nc::cm
