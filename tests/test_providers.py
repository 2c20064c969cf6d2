from __future__ import annotations

import pytest

from services.errors import ModelUnavailableError
from services.providers import resolve_providers
from services.settings import DEFAULT_PROVIDERS, parse_providers

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


def test_parse_providers_accepts_short_names() -> None:
    assert parse_providers(" cuda , CPU ") == (CUDA, CPU)


def test_parse_providers_defaults_to_cuda_then_cpu() -> None:
    assert parse_providers("") == DEFAULT_PROVIDERS == (CUDA, CPU)


def test_resolve_providers_keeps_cuda_when_a_gpu_is_present() -> None:
    assert resolve_providers([CUDA, CPU], available=[CUDA, CPU], gpus=["NVIDIA H200"]) == [CUDA, CPU]


def test_resolve_providers_drops_cuda_without_a_gpu() -> None:
    assert resolve_providers([CUDA, CPU], available=[CUDA, CPU], gpus=[]) == [CPU]


def test_resolve_providers_drops_what_the_build_lacks() -> None:
    assert resolve_providers(["TensorrtExecutionProvider"], available=[CPU], gpus=["x"]) == [CPU]


def test_resolve_providers_always_ends_with_cpu() -> None:
    assert resolve_providers([CPU, CUDA], available=[CUDA, CPU], gpus=["x"]) == [CUDA, CPU]


def test_resolve_providers_rejects_unknown_names() -> None:
    with pytest.raises(ModelUnavailableError, match="'FooExecutionProvider', which is not an onnxruntime"):
        resolve_providers(["FooExecutionProvider"], available=[CPU], gpus=[])


def test_resolve_providers_logs_the_fallback_once(caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(3):
        resolve_providers(["OpenVINOExecutionProvider"], available=[CPU], gpus=[])
    assert sum("OpenVINOExecutionProvider" in r.message for r in caplog.records) <= 1
