#!/usr/bin/env python3
"""Writes the ONNX text format of a one-layer classifier for 1x28x28 images (Flatten -> Gemm,
784 -> 10, weights from a fixed seed), for the pipeline's ONNX test. Encode it with
  python3 make_linear_onnx.py | protoc --encode=onnx.ModelProto -I/usr/include onnx/onnx.proto > linear-28x28.onnx
"""
import random

random.seed(7)
w = [random.gauss(0.0, 0.05) for _ in range(10 * 784)]
b = [random.gauss(0.0, 0.05) for _ in range(10)]


def floats(values):
    return " ".join("float_data: %r" % v for v in values)


print('ir_version: 7 producer_name: "neurocore tests/pipeline/data/make_linear_onnx.py"')
print('opset_import { domain: "" version: 13 }')
print('graph {')
print('  name: "linear28"')
print('  node { input: "x" output: "f" name: "flatten" op_type: "Flatten" attribute { name: "axis" i: 1 type: INT } }')
print('  node { input: "f" input: "W" input: "B" output: "y" name: "fc" op_type: "Gemm" '
      'attribute { name: "transB" i: 1 type: INT } }')
print('  initializer { dims: 10 dims: 784 data_type: 1 name: "W" %s }' % floats(w))
print('  initializer { dims: 10 data_type: 1 name: "B" %s }' % floats(b))
print('  input { name: "x" type { tensor_type { elem_type: 1 shape { dim { dim_value: 1 } dim { dim_value: 1 } '
      'dim { dim_value: 28 } dim { dim_value: 28 } } } } }')
print('  output { name: "y" type { tensor_type { elem_type: 1 shape { dim { dim_value: 1 } dim { dim_value: 10 } } } } }')
print('}')
