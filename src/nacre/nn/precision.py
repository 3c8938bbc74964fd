"""Run-time choice of the matmul precision: bf16 only where the hardware multiplies bf16 natively.

``resolve_precision("auto", device)`` returns ``"bf16"`` on

* x86 CPUs whose flags include ``avx512_bf16`` or ``amx_bf16`` (Cooper Lake, Sapphire Rapids and later,
  AMD Zen 4 and later), read from ``/proc/cpuinfo`` and cross-checked with oneDNN
  (``torch.ops.mkldnn._is_mkldnn_bf16_supported``);
* CUDA devices of compute capability 8.0 or higher (Ampere and later) that torch reports as supporting bf16;

and ``"fp32"`` everywhere else (older CPUs, where oneDNN would emulate bf16 more slowly than fp32;
Apple MPS; unknown devices). ``"fp32"`` and ``"bf16"`` are returned unchanged.
"""

from __future__ import annotations

import functools
import platform

import torch

_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def cpu_bf16_matmul_supported() -> bool:
    """True when this CPU has native bf16 dot-product / matrix instructions that oneDNN uses."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
            return False
    except (AttributeError, RuntimeError):
        return False
    return any(f in cpu_flags() for f in _CPU_BF16_FLAGS)


@functools.cache
def cpuinfo_field(name: str) -> str | None:
    """The value of the first ``name`` line of ``/proc/cpuinfo`` (``"flags"``, ``"model name"``, ...), or ``None``
    where it cannot be read (not Linux, or no such field)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, sep, value = line.partition(":")
                if sep and key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_flags() -> frozenset[str]:
    """The instruction-set flags of this x86 CPU (``/proc/cpuinfo``); empty where they cannot be read."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return frozenset()
    return frozenset((cpuinfo_field("flags") or "").split())


def cuda_bf16_matmul_supported(device: torch.device) -> bool:
    if not torch.cuda.is_available():
        return False
    index = device.index if device.index is not None else torch.cuda.current_device()
    major, _ = torch.cuda.get_device_capability(index)
    return major >= 8 and torch.cuda.is_bf16_supported()


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``"fp32"`` or ``"bf16"``: ``precision`` itself, or for ``"auto"`` what the device runs fast."""
    if precision != "auto":
        return precision
    device = torch.device(device)
    if device.type == "cpu":
        return "bf16" if cpu_bf16_matmul_supported() else "fp32"
    if device.type == "cuda":
        return "bf16" if cuda_bf16_matmul_supported(device) else "fp32"
    return "fp32"
