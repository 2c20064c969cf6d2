"""Execution-provider selection: what the settings ask for, kept if available, always ending with CPU."""

from __future__ import annotations

import ctypes
import functools
import logging
from collections.abc import Sequence

import onnxruntime as ort

from services.errors import ModelUnavailableError

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
_GPU_PROVIDERS = {CUDA, "TensorrtExecutionProvider"}
_CUDA_LIBRARIES = ("libcuda.so.1", "libcuda.so", "nvcuda.dll")
_noticed: set[str] = set()


@functools.cache
def cuda_gpus() -> tuple[str, ...]:
    """Names of the CUDA GPUs the driver reports; empty when there is no driver or no GPU.

    onnxruntime's get_available_providers() lists CUDA whenever the GPU build is installed, GPU or not,
    so the driver itself is asked.
    """
    for name in _CUDA_LIBRARIES:
        try:
            cuda = ctypes.CDLL(name)
        except OSError:
            continue
        if cuda.cuInit(0) != 0:
            return ()
        count = ctypes.c_int(0)
        if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return ()
        return tuple(_device_name(cuda, index) for index in range(count.value))
    return ()


def _device_name(cuda: ctypes.CDLL, index: int) -> str:
    device = ctypes.c_int(0)
    buffer = ctypes.create_string_buffer(256)
    if cuda.cuDeviceGet(ctypes.byref(device), index) != 0:
        return f"GPU {index}"
    if cuda.cuDeviceGetName(buffer, len(buffer), device) != 0:
        return f"GPU {index}"
    return buffer.value.decode(errors="replace")


def notice_once(message: str) -> None:
    """Log a notice the first time it is seen in this process, never again (no log spam on reruns)."""
    if message not in _noticed:
        _noticed.add(message)
        log.warning(message)


def resolve_providers(
    requested: Sequence[str],
    available: Sequence[str] | None = None,
    gpus: Sequence[str] | None = None,
) -> list[str]:
    """The providers to hand to InferenceSession, in order of preference, ending with CPU.

    Args:
        requested: provider names in order of preference (from PORTAL_PROVIDERS).
        available: what this onnxruntime build offers (default: ort.get_available_providers()).
        gpus: CUDA GPUs present (default: asked of the driver).

    Returns:
        The requested providers that can really run here, then CPUExecutionProvider.

    Raises:
        ModelUnavailableError: a requested name is not an onnxruntime provider at all (a typo).
    """
    available = list(ort.get_available_providers() if available is None else available)
    gpus = cuda_gpus() if gpus is None else tuple(gpus)
    known = set(ort.get_all_providers())
    chosen: list[str] = []
    for name in requested:
        if name not in known:
            raise ModelUnavailableError(
                f"PORTAL_PROVIDERS names {name!r}, which is not an onnxruntime execution provider; "
                f"use names such as 'cuda,cpu' or {sorted(available)}, or unset PORTAL_PROVIDERS."
            )
        if name not in available:
            notice_once(f"{name} is not available in this onnxruntime build ({ort.__version__}); skipping it.")
        elif name in _GPU_PROVIDERS and not gpus:
            notice_once(f"{name} requested but no CUDA GPU was found; running on CPU.")
        elif name not in chosen:
            chosen.append(name)
    if CPU in chosen:
        chosen.remove(CPU)
    return [*chosen, CPU]


def quiet_logs_without_gpu() -> None:
    """Silence onnxruntime's own error lines when no GPU is present (it would log one per session)."""
    if not cuda_gpus():
        ort.set_default_logger_severity(3)
