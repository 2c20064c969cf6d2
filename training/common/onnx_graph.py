"""Small helpers to write ONNX graphs by hand, and a HistGradientBoosting -> TreeEnsembleRegressor converter.

skl2onnx's converter emits float32 split thresholds for HistGradientBoosting (a double input makes a graph
onnxruntime rejects); float32 splits flip on engineered features and break the $1 parity goal. This converter
keeps the thresholds in double (`nodes_values_as_tensor`), so splits decide exactly as scikit-learn does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 18
ML_OPSET = 3
IR_VERSION = 10  # onnxruntime 1.31 reads IR <= 13; 10 is what opset 18 needs
MS_DOMAIN = "com.microsoft"  # onnxruntime's contrib ops (e.g. Inverse); imported only by graphs that use them


class GraphBuilder:
    """Collects nodes, constants, inputs and outputs; every op returns the name of its (first) output."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._count = 0

    def _fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def input(self, name: str, elem_type: int, shape: Sequence[int | str | None]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        return name

    def output(self, value: str, name: str, elem_type: int, shape: Sequence[int | str | None]) -> None:
        self.op("Identity", [value], name=name)
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))

    def const(self, array: Any, stem: str = "const") -> str:
        name = self._fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(
        self, op_type: str, inputs: Sequence[str], *, name: str | None = None, domain: str = "", **attrs: Any
    ) -> str:
        out = name or self._fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], domain=domain, **attrs))
        return out

    def op_multi(self, op_type: str, inputs: Sequence[str], n_out: int, **attrs: Any) -> list[str]:
        outs = [self._fresh(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs

    def columns(self, matrix: str, start: int, stop: int) -> str:
        """matrix[:, start:stop]"""
        return self.op("Slice", [matrix, self.const([start], "s"), self.const([stop], "e"), self.const([1], "ax")])

    def model(self, metadata: dict[str, str]) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)
        opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)]
        if any(node.domain == MS_DOMAIN for node in self.nodes):
            opsets.append(helper.make_opsetid(MS_DOMAIN, 1))
        model = helper.make_model(graph, opset_imports=opsets, producer_name="ml-demo-portal")
        model.ir_version = IR_VERSION
        helper.set_model_props(model, metadata)
        onnx.checker.check_model(model, full_check=MS_DOMAIN not in {o.domain for o in opsets})
        return model


def hgb_regressor(builder: GraphBuilder, features: str, model: Any) -> str:
    """Add a fitted HistGradientBoostingRegressor on `features` (N, F) double; returns its (N, 1) double output."""
    nodes: dict[str, list[Any]] = {k: [] for k in ("tree", "node", "feat", "value", "mode", "true", "false", "miss")}
    leaves: dict[str, list[Any]] = {"tree": [], "node": [], "weight": []}
    for tree_id, (predictor,) in enumerate(model._predictors):
        for node_id, node in enumerate(predictor.nodes):
            leaf = bool(node["is_leaf"])
            if not leaf and node["is_categorical"]:
                raise NotImplementedError("categorical splits are not exported; one-hot encode instead")
            for key, value in zip(
                nodes,
                (
                    tree_id,
                    node_id,
                    0 if leaf else int(node["feature_idx"]),
                    0.0 if leaf else float(node["num_threshold"]),
                    "LEAF" if leaf else "BRANCH_LEQ",
                    0 if leaf else int(node["left"]),
                    0 if leaf else int(node["right"]),
                    0 if leaf else int(node["missing_go_to_left"]),
                ),
                strict=True,
            ):
                nodes[key].append(value)
            if leaf:
                leaves["tree"].append(tree_id)
                leaves["node"].append(node_id)
                leaves["weight"].append(float(node["value"]))  # already scaled by the learning rate
    baseline = float(np.ravel(model._baseline_prediction)[0])
    scores = builder.op(
        "TreeEnsembleRegressor",
        [features],
        domain="ai.onnx.ml",
        n_targets=1,
        aggregate_function="SUM",
        post_transform="NONE",
        nodes_treeids=nodes["tree"],
        nodes_nodeids=nodes["node"],
        nodes_featureids=nodes["feat"],
        nodes_values_as_tensor=numpy_helper.from_array(np.array(nodes["value"], np.float64)),
        nodes_modes=nodes["mode"],
        nodes_truenodeids=nodes["true"],
        nodes_falsenodeids=nodes["false"],
        nodes_missing_value_tracks_true=nodes["miss"],
        target_treeids=leaves["tree"],
        target_nodeids=leaves["node"],
        target_ids=[0] * len(leaves["tree"]),
        target_weights_as_tensor=numpy_helper.from_array(np.array(leaves["weight"], np.float64)),
        base_values_as_tensor=numpy_helper.from_array(np.array([baseline], np.float64)),
    )
    # onnxruntime's TreeEnsembleRegressor sums in double but returns float32.
    return builder.op("Cast", [scores], to=TensorProto.DOUBLE)


def value_info(values: Sequence[onnx.ValueInfoProto]) -> list[dict[str, Any]]:
    """Names, element types and shapes (dynamic axes by name) of graph inputs or outputs, for the manifest."""
    described = []
    for value in values:
        tensor = value.type.tensor_type
        shape = [dim.dim_param or dim.dim_value for dim in tensor.shape.dim]
        dtype = (
            "string"
            if tensor.elem_type == TensorProto.STRING
            else helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
        )
        described.append({"name": value.name, "dtype": dtype, "shape": shape})
    return described


def cpu_session(model: onnx.ModelProto, threads: int = 0) -> ort.InferenceSession:
    """An onnxruntime CPU session on an in-memory model, for parity checks and evaluation at build time; with the
    memory arena when the model's metadata asks for it (as the registry serves it)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_cpu_mem_arena = any(p.key == "memory_arena" and p.value == "1" for p in model.metadata_props)
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
