"""The project's own small YOLO: an anchor-free, two-scale detector in the YOLOX manner, written here in plain torch.

Backbone: five stride-2 3x3 conv stages (16..256 channels) with a Darknet-style residual block after each of the
last four. Neck: the stride-32 map, upsampled and joined with the stride-16 map (a two-level FPN). Heads: one per
level, a 3x3 conv and a 1x1 conv to 4 box + 1 objectness + C class values per grid cell.

Boxes are decoded as in YOLOX: centre = (offset + cell index) * stride, size = exp(p) * stride; score = sigmoid(obj)
* sigmoid(class). Training assigns each ground-truth box to the cells near its centre, inside it, on the level
whose size range fits it (FCOS-style centre sampling); loss = 5 * (1 - GIoU) + BCE(obj) + BCE(class), summed and
divided by the number of positive cells.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class DetectorConfig:
    widths: tuple[int, ...] = (16, 32, 64, 128, 256)
    neck: int = 96
    classes: int = 2
    input_size: int = 320
    strides: tuple[int, ...] = (16, 32)
    # largest box side (input pixels) each level learns; the ranges overlap so mid-size boxes train on both
    size_ranges: tuple[tuple[float, float], ...] = ((0.0, 160.0), (96.0, 1e9))
    centre_radius: float = 2.5  # positive cells lie within this many strides of the box centre (and inside it)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


class ConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.1, inplace=True),
        )


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.reduce = ConvBN(channels, channels // 2, 1)
        self.expand = ConvBN(channels // 2, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.expand(self.reduce(x))


class TinyYolo(nn.Module):
    """Input (B, 3, S, S) RGB in [0, 1]; output one raw map (B, 5 + C, S/stride, S/stride) per stride (16, 32)."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        if config.strides != (16, 32) or len(config.widths) != 5:
            raise ValueError("TinyYolo has five stride-2 stages and heads at strides 16 and 32")
        w = config.widths
        self.config = config
        self.stem = ConvBN(3, w[0], 3, 2)
        self.stages = nn.ModuleList(nn.Sequential(ConvBN(w[i - 1], w[i], 3, 2), Residual(w[i])) for i in range(1, 5))
        self.lateral5 = ConvBN(w[4], config.neck, 1)
        self.lateral4 = ConvBN(w[3] + config.neck, config.neck, 1)
        outputs = 5 + config.classes
        self.heads = nn.ModuleList(
            nn.Sequential(ConvBN(config.neck, config.neck, 3), nn.Conv2d(config.neck, outputs, 1)) for _ in range(2)
        )
        prior = -4.6  # sigmoid(-4.6) ~ 0.01: objectness and classes start near "nothing here" (as in YOLOX/RetinaNet)
        for head in self.heads:
            nn.init.constant_(head[-1].bias, 0.0)
            nn.init.constant_(head[-1].bias[4:], prior)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        c4, c5 = feats[2], feats[3]
        p5 = self.lateral5(c5)
        p4 = self.lateral4(torch.cat([F.interpolate(p5, scale_factor=2.0, mode="nearest"), c4], dim=1))
        return [self.heads[0](p4), self.heads[1](p5)]


def grids(config: DetectorConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per cell over all levels (level-major, row-major): integer (x, y) index (N, 2), stride (N,), level (N,)."""
    cells, strides, levels = [], [], []
    for level, stride in enumerate(config.strides):
        n = config.input_size // stride
        ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        cells.append(torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1).float())
        strides.append(torch.full((n * n,), float(stride)))
        levels.append(torch.full((n * n,), level, dtype=torch.long))
    return torch.cat(cells), torch.cat(strides), torch.cat(levels)


def flatten(maps: list[torch.Tensor]) -> torch.Tensor:
    """Raw maps -> (B, N, 5 + C) in the grids() order."""
    return torch.cat([m.flatten(2).transpose(1, 2) for m in maps], dim=1)


def decode_boxes(raw: torch.Tensor, cells: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
    """(B, N, >=4) raw -> (B, N, 4) boxes x1 y1 x2 y2 in input pixels."""
    s = strides[:, None]
    centre = (raw[..., :2] + cells) * s
    size = torch.exp(raw[..., 2:4].clamp(max=8.0)) * s
    return torch.cat([centre - size / 2, centre + size / 2], dim=-1)


class ExportedDetector(nn.Module):
    """What goes to ONNX (before NMS is appended): RGB 0-255 (1, 3, S, S) -> boxes (1, N, 4), scores (1, N, C).

    Each box's scores are zero except for its best class.
    """

    def __init__(self, net: TinyYolo) -> None:
        super().__init__()
        self.net = net
        cells, strides, _ = grids(net.config)
        self.register_buffer("cells", cells, persistent=False)
        self.register_buffer("strides", strides, persistent=False)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw = flatten(self.net(images * (1.0 / 255.0)))
        boxes = decode_boxes(raw, self.cells, self.strides)
        scores = torch.sigmoid(raw[..., 4:5]) * torch.sigmoid(raw[..., 5:])
        # each box keeps only its best class's score (ties keep both), so NMS sees a box under one class
        best = scores.amax(dim=-1, keepdim=True)
        return boxes, scores * (scores >= best).to(scores.dtype)


def box_iou_pairs(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IoU and GIoU of matched box pairs (K, 4) x1 y1 x2 y2."""
    lt = torch.maximum(a[:, :2], b[:, :2])
    rb = torch.minimum(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=1)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(dim=1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(dim=1)
    union = area_a + area_b - inter + 1e-7
    iou = inter / union
    hull = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).prod(dim=1) + 1e-7
    return iou, iou - (hull - union) / hull


def assign(
    boxes: torch.Tensor, config: DetectorConfig, cells: torch.Tensor, strides: torch.Tensor, levels: torch.Tensor
) -> torch.Tensor:
    """For one image's ground-truth boxes (M, 4): the index of the box each cell learns (N,), -1 for background.

    A cell is a candidate for a box when its centre lies inside the box, within centre_radius strides of the box
    centre, on a level whose size range holds the box's longer side; a cell claimed by several boxes takes the
    smallest. A box left without cells (tiny, or thin) gets the cell holding its centre on the best-fitting level.
    """
    n = len(cells)
    owner = torch.full((n,), -1, dtype=torch.long)
    if len(boxes) == 0:
        return owner
    centres = (cells + 0.5) * strides[:, None]  # (N, 2)
    px, py = centres[:, 0:1], centres[:, 1:2]
    x1, y1, x2, y2 = (boxes[:, i][None, :] for i in range(4))
    inside = (px > x1) & (px < x2) & (py > y1) & (py < y2)
    radius = config.centre_radius * strides[:, None]
    near = ((px - (x1 + x2) / 2).abs() < radius) & ((py - (y1 + y2) / 2).abs() < radius)
    longest = torch.maximum(x2 - x1, y2 - y1)
    lo = torch.tensor([r[0] for r in config.size_ranges])[levels][:, None]
    hi = torch.tensor([r[1] for r in config.size_ranges])[levels][:, None]
    fits = (longest >= lo) & (longest <= hi)
    candidate = inside & near & fits
    area = ((x2 - x1) * (y2 - y1)).expand(n, -1)
    cost = torch.where(candidate, area, torch.full_like(area, float("inf")))
    best_cost, best = cost.min(dim=1)
    owner[torch.isfinite(best_cost)] = best[torch.isfinite(best_cost)]
    for m in range(len(boxes)):
        if (owner == m).any():
            continue
        side = float(longest[0, m])
        level = 0 if side < (config.size_ranges[0][1] + config.size_ranges[1][0]) / 2 else 1
        stride = config.strides[level]
        size = config.input_size // stride
        cx = int(((boxes[m, 0] + boxes[m, 2]) / 2 / stride).clamp(0, size - 1))
        cy = int(((boxes[m, 1] + boxes[m, 3]) / 2 / stride).clamp(0, size - 1))
        offset = sum((config.input_size // s) ** 2 for s in config.strides[:level])
        index = offset + cy * size + cx
        if owner[index] < 0:
            owner[index] = m
    return owner


def detection_loss(
    maps: list[torch.Tensor],
    targets: list[tuple[torch.Tensor, torch.Tensor]],
    config: DetectorConfig,
    grid: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, dict[str, float]]:
    """targets: per image (boxes (M, 4) in input pixels, labels (M,)). Returns the loss and its parts."""
    cells, strides, levels = grid
    raw = flatten(maps)
    batch = raw.shape[0]
    owners = torch.stack([assign(b, config, cells, strides, levels) for b, _ in targets])  # (B, N)
    positive = owners >= 0
    num_pos = max(int(positive.sum()), 1)
    obj_loss = F.binary_cross_entropy_with_logits(raw[..., 4], positive.float(), reduction="sum") / num_pos
    if not positive.any():
        zero = raw.sum() * 0.0
        return obj_loss + zero, {"box": 0.0, "obj": float(obj_loss.detach()), "cls": 0.0, "positives": 0}
    pred_boxes = decode_boxes(raw, cells, strides)[positive]
    gt_boxes = torch.cat([targets[b][0][owners[b][positive[b]]] for b in range(batch)])
    gt_labels = torch.cat([targets[b][1][owners[b][positive[b]]] for b in range(batch)])
    _, giou = box_iou_pairs(pred_boxes, gt_boxes)
    box_loss = (1.0 - giou).sum() / num_pos
    cls_target = F.one_hot(gt_labels, config.classes).float()
    cls_loss = F.binary_cross_entropy_with_logits(raw[..., 5:][positive], cls_target, reduction="sum") / num_pos
    loss = 5.0 * box_loss + obj_loss + cls_loss
    parts = {"box": float(box_loss.detach()), "obj": float(obj_loss.detach()), "cls": float(cls_loss.detach())}
    parts["positives"] = num_pos
    return loss, parts


def from_onnx(model, config: DetectorConfig) -> TinyYolo:
    """A TinyYolo (eval mode) carrying an exported model's weights, for framework comparisons in the benchmark.

    The exporter folds each batch norm into its conv, so the twin's ConvBN blocks get biased convs and identity
    norms; the graph's Conv nodes come in the order the modules run, which is the order they are registered.
    """
    from onnx import numpy_helper

    net = TinyYolo(config)
    for module in [m for m in net.modules() if isinstance(m, ConvBN)]:
        conv = module[0]
        module[0] = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding)
        module[1] = nn.Identity()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    weights = {init.name: numpy_helper.to_array(init).copy() for init in model.graph.initializer}
    for node in model.graph.node:  # the exporter stores equal tensors once and names the others through Identity
        if node.op_type == "Identity" and node.input[0] in weights:
            weights[node.output[0]] = weights[node.input[0]]
    nodes = [node for node in model.graph.node if node.op_type == "Conv"]
    if len(nodes) != len(convs):
        raise ValueError(f"the graph has {len(nodes)} convs, the network {len(convs)}")
    with torch.no_grad():
        for conv, node in zip(convs, nodes, strict=True):
            conv.weight.copy_(torch.from_numpy(weights[node.input[1]]))
            conv.bias.copy_(torch.from_numpy(weights[node.input[2]]))
    return net.eval()
