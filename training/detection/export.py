"""Export of the own YOLO to ONNX with NMS inside the graph, and the parity check against PyTorch + numpy NMS.

Graph: images [1, 3, S, S] float RGB 0-255 (letterboxed, top-left, grey 114), score_threshold [1], iou_threshold [1]
-> detections [K, 6] = x1 y1 x2 y2 (canvas pixels), score, class index; at most MAX_PER_CLASS boxes per class.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper

from services.vision import class_nms
from training.detection.net import ExportedDetector, TinyYolo

OPSET = 17
MAX_PER_CLASS = 100


def export(net: TinyYolo, metadata: dict[str, str]) -> onnx.ModelProto:
    """The network + decoding from torch (legacy exporter), then ONNX NonMaxSuppression and gathers appended."""
    wrapper = ExportedDetector(net.eval()).eval()
    size = net.config.input_size
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(
            wrapper,
            (torch.rand(1, 3, size, size) * 255,),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=["images"],
            output_names=["boxes", "scores"],
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buffer.getvalue())
    graph = model.graph
    graph.input.extend(
        [
            helper.make_tensor_value_info("score_threshold", TensorProto.FLOAT, [1]),
            helper.make_tensor_value_info("iou_threshold", TensorProto.FLOAT, [1]),
        ]
    )
    graph.initializer.extend(
        [
            helper.make_tensor("nms_max_per_class", TensorProto.INT64, [1], [MAX_PER_CLASS]),
            helper.make_tensor("nms_axis0", TensorProto.INT64, [1], [0]),
            helper.make_tensor("nms_axis1", TensorProto.INT64, [1], [1]),
            helper.make_tensor("nms_one", TensorProto.INT64, [], [1]),
            helper.make_tensor("nms_two", TensorProto.INT64, [], [2]),
            helper.make_tensor("nms_pair_start", TensorProto.INT64, [1], [1]),
            helper.make_tensor("nms_pair_end", TensorProto.INT64, [1], [3]),
        ]
    )
    graph.node.extend(
        [
            helper.make_node("Transpose", ["scores"], ["nms_scores"], perm=[0, 2, 1]),  # [1, C, N]
            helper.make_node(
                "NonMaxSuppression",
                ["boxes", "nms_scores", "nms_max_per_class", "iou_threshold", "score_threshold"],
                ["nms_selected"],  # [K, 3] = batch, class, box
            ),
            helper.make_node("Gather", ["nms_selected", "nms_two"], ["nms_box_index"], axis=1),
            helper.make_node("Gather", ["nms_selected", "nms_one"], ["nms_class"], axis=1),
            helper.make_node("Squeeze", ["boxes", "nms_axis0"], ["nms_all_boxes"]),
            helper.make_node("Gather", ["nms_all_boxes", "nms_box_index"], ["nms_boxes"], axis=0),
            helper.make_node("Squeeze", ["nms_scores", "nms_axis0"], ["nms_all_scores"]),
            helper.make_node("Slice", ["nms_selected", "nms_pair_start", "nms_pair_end", "nms_axis1"], ["nms_pair"]),
            helper.make_node("GatherND", ["nms_all_scores", "nms_pair"], ["nms_score"]),
            helper.make_node("Unsqueeze", ["nms_score", "nms_axis1"], ["nms_score_col"]),
            helper.make_node("Unsqueeze", ["nms_class", "nms_axis1"], ["nms_class_col"]),
            helper.make_node("Cast", ["nms_class_col"], ["nms_class_float"], to=TensorProto.FLOAT),
            helper.make_node("Concat", ["nms_boxes", "nms_score_col", "nms_class_float"], ["detections"], axis=1),
        ]
    )
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info("detections", TensorProto.FLOAT, ["detections", 6])])
    model.producer_name = "ml-demo-portal"
    model.producer_version = ""
    del model.metadata_props[:]
    for key, value in sorted(metadata.items()):
        model.metadata_props.add(key=key, value=str(value))
    onnx.checker.check_model(model, full_check=True)
    return model


def onnx_detect(sess: ort.InferenceSession, canvas: np.ndarray, confidence: float, iou: float) -> np.ndarray:
    """(S, S, 3) uint8 letterboxed canvas -> detections (K, 6) sorted by falling score."""
    feeds = {
        "images": canvas.transpose(2, 0, 1)[None].astype(np.float32),
        "score_threshold": np.array([confidence], np.float32),
        "iou_threshold": np.array([iou], np.float32),
    }
    out = sess.run(["detections"], feeds)[0]
    return out[np.argsort(-out[:, 4], kind="stable")]


@torch.no_grad()
def torch_detect(net: TinyYolo, canvas: np.ndarray, confidence: float, iou: float) -> np.ndarray:
    """The reference path: PyTorch network and decoding, then numpy per-class NMS; same output layout as ONNX."""
    wrapper = ExportedDetector(net.eval()).eval()
    boxes, scores = wrapper(torch.from_numpy(canvas.transpose(2, 0, 1)[None].astype(np.float32)))
    boxes, scores = boxes[0].numpy(), scores[0].numpy()
    classes = scores.argmax(axis=1)
    best = scores[np.arange(len(scores)), classes]
    keep = best > confidence
    boxes, best, classes = boxes[keep], best[keep], classes[keep]
    kept = class_nms(boxes, best, classes, iou, MAX_PER_CLASS)
    return np.concatenate([boxes[kept], best[kept, None], classes[kept, None].astype(np.float32)], axis=1)


def parity(net: TinyYolo, sess: ort.InferenceSession, canvases: list[np.ndarray], confidence=0.05, iou=0.45):
    """Largest difference between ONNX and PyTorch detections over the canvases (same boxes expected).

    Returns (max abs box difference in pixels, max abs score difference, detections compared); raises when the
    two disagree on how many boxes there are or on their classes.
    """
    box_diff = score_diff = 0.0
    total = 0
    for canvas in canvases:
        a = onnx_detect(sess, canvas, confidence, iou)
        b = torch_detect(net, canvas, confidence, iou)
        if len(a) != len(b):
            raise AssertionError(f"ONNX found {len(a)} boxes, PyTorch {len(b)}")
        if len(a):
            # pair each ONNX box with the nearest PyTorch box of the same class (scores may tie in any order)
            distance = np.abs(a[:, None, :4] - b[None, :, :4]).max(axis=2)
            distance[a[:, None, 5] != b[None, :, 5]] = np.inf
            pairs = distance.argmin(axis=1)
            if len(set(pairs.tolist())) != len(a) or not np.isfinite(distance.min(axis=1)).all():
                raise AssertionError("ONNX and PyTorch disagree on which boxes (or classes) they found")
            box_diff = max(box_diff, float(distance.min(axis=1).max()))
            score_diff = max(score_diff, float(np.abs(a[:, 4] - b[pairs, 4]).max()))
        total += len(a)
    return box_diff, score_diff, total
