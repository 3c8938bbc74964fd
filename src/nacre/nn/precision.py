"""Run-time choice of the matmul precision: bf16 only where the hardware multiplies bf16 faster than fp32.

``resolve_precision("auto", device)`` returns ``"bf16"`` on

* x86 CPUs that have native bf16 instructions (flags ``avx512_bf16`` or ``amx_bf16``, read from
  ``/proc/cpuinfo`` and cross-checked with oneDNN, ``torch.ops.mkldnn._is_mkldnn_bf16_supported``) **and** on
  which a bf16 matrix product at nacre's layer shapes is measured at least :data:`BF16_MIN_SPEEDUP` times as fast
  as the fp32 one (once per process and thread count, about 0.1 s). Having the instructions is not enough: on
  an Intel Xeon with AVX-512 bf16 but no AMX the bf16 product ran at 0.51-0.59x the fp32 rate and the PEARL step
  at 0.65x (BENCHMARKS.md), while with AMX the product ran 6-11x faster;
* CUDA devices of compute capability 8.0 or higher (Ampere and later) that torch reports as supporting bf16;

and ``"fp32"`` everywhere else (older CPUs, where oneDNN would emulate bf16 more slowly than fp32;
Apple MPS; unknown devices). ``"fp32"`` and ``"bf16"`` are returned unchanged.
"""

from __future__ import annotations

import functools
import platform
import time

import torch

_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: bf16 is chosen on a CPU only when its matrix product is at least this much faster than fp32's (the casts and
#: the element-wise work that stays fp32 eat part of the gain)
BF16_MIN_SPEEDUP = 1.3


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


def _matmul_seconds(dtype: torch.dtype, rows: int = 4096, width: int = 256, repeats: int = 5) -> float:
    """The fastest of ``repeats`` timings of a ``[rows, width] @ [width, width]`` product in ``dtype``."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(rows, width, generator=gen).to(dtype)
    b = torch.randn(width, width, generator=gen).to(dtype)
    a @ b  # warm-up: oneDNN builds its kernel on the first call
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return best


@functools.cache
def _cpu_bf16_speedup(threads: int) -> float:
    """fp32 time over bf16 time of one matrix product at nacre's layer shapes with ``threads`` torch threads."""
    return _matmul_seconds(torch.float32) / _matmul_seconds(torch.bfloat16)


def cpu_bf16_matmul_faster() -> bool:
    """True when bf16 matrix products run at least :data:`BF16_MIN_SPEEDUP` times as fast as fp32 on this CPU with
    the current number of torch threads (measured once per thread count)."""
    return _cpu_bf16_speedup(torch.get_num_threads()) >= BF16_MIN_SPEEDUP


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
        return "bf16" if cpu_bf16_matmul_supported() and cpu_bf16_matmul_faster() else "fp32"
    if device.type == "cuda":
        return "bf16" if cuda_bf16_matmul_supported(device) else "fp32"
    return "fp32"
