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
    depths: tuple[int, ...] = (0, 1, 1, 1, 1)  # residual blocks after each stride-2 stage (the stem has none)
    necks: tuple[int, ...] = (96, 96)  # channels of each detection level's FPN map and head, finest level first
    classes: int = 2
    input_size: int = 320
    strides: tuple[int, ...] = (16, 32)
    # largest box side (input pixels) each level learns; the ranges overlap so boxes near a border train on both
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


LEVEL_STAGE = {8: 2, 16: 3, 32: 4}  # which backbone stage's output each detection stride reads


class TinyYolo(nn.Module):
    """Input (B, 3, S, S) RGB in [0, 1]; output one raw map (B, 5 + C, S/stride, S/stride) per stride, finest first.

    Backbone: a stride-2 stem, then four stride-2 stages each followed by depths[i] residual blocks. Neck: a
    top-down FPN from stride 32 to the finest stride asked for (each level: the coarser map upsampled, joined with the
    backbone map, a 1x1 conv). Heads: per level a 3x3 conv and a 1x1 conv to 4 box + 1 objectness + C class values.
    """

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        if len(config.widths) != 5 or len(config.depths) != 5 or tuple(sorted(config.strides)) != config.strides:
            raise ValueError("TinyYolo has a stem and four stride-2 stages; strides are listed finest first")
        if not set(config.strides) <= set(LEVEL_STAGE) or config.strides[-1] != 32:
            raise ValueError(f"detection strides must be among {sorted(LEVEL_STAGE)} and end at 32")
        if len(config.necks) != len(config.strides) or len(config.size_ranges) != len(config.strides):
            raise ValueError("one neck width and one size range per stride")
        w = config.widths
        self.config = config
        self.stem = ConvBN(3, w[0], 3, 2)
        self.stages = nn.ModuleList(
            nn.Sequential(ConvBN(w[i - 1], w[i], 3, 2), *(Residual(w[i]) for _ in range(config.depths[i])))
            for i in range(1, 5)
        )
        # laterals run coarsest first (stride 32, then 16, then 8): registered in that order for from_onnx
        coarse_first = list(reversed(range(len(config.strides))))
        laterals = []
        for rank, level in enumerate(coarse_first):
            cin = w[LEVEL_STAGE[config.strides[level]]]
            if rank:
                cin += config.necks[coarse_first[rank - 1]]
            laterals.append(ConvBN(cin, config.necks[level], 1))
        self.laterals = nn.ModuleList(laterals)
        outputs = 5 + config.classes
        self.heads = nn.ModuleList(nn.Sequential(ConvBN(n, n, 3), nn.Conv2d(n, outputs, 1)) for n in config.necks)
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
        strides = self.config.strides
        maps: list[torch.Tensor] = [x] * len(strides)
        above = None
        for lateral, level in zip(self.laterals, reversed(range(len(strides))), strict=True):
            c = feats[LEVEL_STAGE[strides[level]] - 1]
            if above is not None:
                c = torch.cat([F.interpolate(above, scale_factor=2.0, mode="nearest"), c], dim=1)
            above = lateral(c)
            maps[level] = above
        return [head(m) for head, m in zip(self.heads, maps, strict=True)]


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


@dataclass
class Targets:
    """A batch's assignment, made where the batch is made (data-loader workers): per cell (B, N) the ground-truth box
    it learns (boxes / labels rows, -1: background) and its objectness weight (0 inside an ignore region)."""

    owners: torch.Tensor  # (B, N) long, index into boxes / labels of the whole batch
    obj_weight: torch.Tensor  # (B, N) float
    boxes: torch.Tensor  # (M, 4) input pixels, every image's boxes stacked
    labels: torch.Tensor  # (M,) long

    def to(self, device: torch.device | str) -> Targets:
        parts = (self.owners, self.obj_weight, self.boxes, self.labels)
        return Targets(*(t.to(device, non_blocking=True) for t in parts))


def _fallback_level(config: DetectorConfig, side: float) -> int:
    """The level for a box no cell claimed: the first whose range ends before the next one's has well begun."""
    for level in range(len(config.strides) - 1):
        if side < (config.size_ranges[level][1] + config.size_ranges[level + 1][0]) / 2:
            return level
    return len(config.strides) - 1


def assign(
    boxes: torch.Tensor,
    config: DetectorConfig,
    grid: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    ignore: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For one image's ground-truth boxes (M, 4): the box each cell learns (N,), -1 for background, and the cells
    whose objectness is not trained (N,) bool: background cells with their centre inside an ignore box (K, 4).

    A cell is a candidate for a box when its centre lies inside the box, within centre_radius strides of the box
    centre, on a level whose size range holds the box's longer side; a cell claimed by several boxes takes the
    smallest. A box left without cells (tiny, or thin) gets the cell holding its centre on the best-fitting level.
    """
    cells, strides, levels = grid
    n = len(cells)
    owner = torch.full((n,), -1, dtype=torch.long)
    centres = (cells + 0.5) * strides[:, None]  # (N, 2)
    px, py = centres[:, 0:1], centres[:, 1:2]
    if len(boxes):
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
        claimed = torch.zeros(len(boxes), dtype=torch.bool)
        claimed[owner[owner >= 0]] = True
        for m in torch.nonzero(~claimed).flatten().tolist():
            level = _fallback_level(config, float(longest[0, m]))
            stride = config.strides[level]
            size = config.input_size // stride
            cx = int(((boxes[m, 0] + boxes[m, 2]) / 2 / stride).clamp(0, size - 1))
            cy = int(((boxes[m, 1] + boxes[m, 3]) / 2 / stride).clamp(0, size - 1))
            offset = sum((config.input_size // s) ** 2 for s in config.strides[:level])
            index = offset + cy * size + cx
            if owner[index] < 0:
                owner[index] = m
    ignored = torch.zeros(n, dtype=torch.bool)
    if ignore is not None and len(ignore):
        x1, y1, x2, y2 = (ignore[:, i][None, :] for i in range(4))
        ignored = ((px > x1) & (px < x2) & (py > y1) & (py < y2)).any(dim=1) & (owner < 0)
    return owner, ignored


def make_targets(
    per_image: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    config: DetectorConfig,
    grid: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> Targets:
    """per_image: (boxes (M, 4) input pixels, labels (M,), ignore boxes (K, 4)) for each image of the batch."""
    owners, weights, offset = [], [], 0
    for boxes, _, ignore in per_image:
        owner, ignored = assign(boxes, config, grid, ignore)
        owners.append(torch.where(owner >= 0, owner + offset, owner))
        weights.append((~ignored).float())
        offset += len(boxes)
    boxes = torch.cat([b for b, _, _ in per_image]).reshape(-1, 4).float()
    labels = torch.cat([lab for _, lab, _ in per_image]).reshape(-1).long()
    return Targets(torch.stack(owners), torch.stack(weights), boxes, labels)


def detection_loss(
    maps: list[torch.Tensor],
    targets: Targets,
    config: DetectorConfig,
    grid: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss = 5 * (1 - GIoU) + BCE(objectness, ignore regions left out) + BCE(classes), over the positive cells.

    grid: grids(config) on the maps' device. Returns the loss and its parts.
    """
    cells, strides, _ = grid
    raw = flatten(maps).float()
    positive = targets.owners >= 0
    num_pos = positive.sum().clamp(min=1).float()
    obj_loss = (
        F.binary_cross_entropy_with_logits(raw[..., 4], positive.float(), weight=targets.obj_weight, reduction="sum")
        / num_pos
    )
    pred_boxes = decode_boxes(raw, cells, strides)[positive]
    owner = targets.owners[positive]
    _, giou = box_iou_pairs(pred_boxes, targets.boxes[owner])
    box_loss = (1.0 - giou).sum() / num_pos
    cls_target = F.one_hot(targets.labels[owner], config.classes).float()
    cls_loss = F.binary_cross_entropy_with_logits(raw[..., 5:][positive], cls_target, reduction="sum") / num_pos
    loss = 5.0 * box_loss + obj_loss + cls_loss
    parts = {"box": box_loss.detach(), "obj": obj_loss.detach(), "cls": cls_loss.detach(), "positives": num_pos}
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
