"""Run a small ONNX graph node by node with PyTorch eager ops: the framework reference for a third-party file that
comes without its PyTorch code (YOLOX-Nano). Only the operators such detectors use are supported; anything else
raises NotImplementedError naming it."""

from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch.nn import functional as F


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class TorchGraph:
    """Callable: feeds by input name (numpy) -> list of output tensors, computed with torch ops, weights as tensors."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.graph = model.graph
        self.consts = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
        for node in model.graph.node:
            if node.op_type == "Constant":
                self.consts[node.output[0]] = torch.from_numpy(numpy_helper.to_array(_attrs(node)["value"]).copy())
        self.nodes = [(n, _attrs(n)) for n in model.graph.node if n.op_type != "Constant"]

    @torch.inference_mode()
    def __call__(self, feeds: dict[str, np.ndarray]) -> list[torch.Tensor]:
        values = dict(self.consts)
        values.update({k: torch.from_numpy(v) for k, v in feeds.items()})
        for node, attrs in self.nodes:
            args = [values[name] if name else None for name in node.input]
            values[node.output[0]] = self._run(node.op_type, args, attrs)
        return [values[o.name] for o in self.graph.output]

    @staticmethod
    def _run(op: str, a: list, attrs: dict) -> torch.Tensor:
        if op == "Conv":
            pads = attrs.get("pads", [0, 0, 0, 0])
            if pads[0] != pads[2] or pads[1] != pads[3]:
                raise NotImplementedError("asymmetric Conv padding")
            return F.conv2d(
                a[0],
                a[1],
                a[2] if len(a) > 2 else None,
                stride=tuple(attrs.get("strides", [1, 1])),
                padding=(pads[0], pads[1]),
                dilation=tuple(attrs.get("dilations", [1, 1])),
                groups=attrs.get("group", 1),
            )
        if op == "Sigmoid":
            return torch.sigmoid(a[0])
        if op == "Mul":
            return a[0] * a[1]
        if op == "Add":
            return a[0] + a[1]
        if op == "Concat":
            return torch.cat(a, dim=attrs["axis"])
        if op == "MaxPool":
            pads = attrs.get("pads", [0, 0, 0, 0])
            return F.max_pool2d(
                a[0], tuple(attrs["kernel_shape"]), tuple(attrs.get("strides", [1, 1])), (pads[0], pads[1])
            )
        if op == "Slice":
            data, starts, ends = a[0], a[1].tolist(), a[2].tolist()
            axes = a[3].tolist() if len(a) > 3 and a[3] is not None else list(range(len(starts)))
            steps = a[4].tolist() if len(a) > 4 and a[4] is not None else [1] * len(starts)
            index = [slice(None)] * data.dim()
            for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
                size = data.shape[axis]
                index[axis] = slice(max(min(start, size), -size), max(min(end, size), -size - 1), step)
            return data[tuple(index)]
        if op == "Reshape":
            return a[0].reshape([int(v) for v in a[1].tolist()])
        if op == "Transpose":
            return a[0].permute(*attrs["perm"])
        if op == "Resize":
            if attrs.get("mode", b"nearest") not in (b"nearest", "nearest"):
                raise NotImplementedError("Resize other than nearest")
            scales = a[2].tolist()
            return F.interpolate(a[0], scale_factor=tuple(scales[2:]), mode="nearest")
        raise NotImplementedError(f"ONNX operator {op}")
