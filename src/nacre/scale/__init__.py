"""Experiments at scale on Ray: sweeps of ``nacre train`` runs, the papers' figures as shipped specs, and dataset
generation across a cluster (``pip install -e ".[ray]"``).

Ray is imported lazily: :mod:`nacre.scale.spec` (reading and validating sweep specs) and the planning parts of
:mod:`nacre.scale.sweep` work without it, so ``nacre sweep --dry-run`` and the spec checks need only the core
install. Every trial calls :func:`nacre.training.loop.train` and writes the run directory ``nacre train``
writes; the run directories, not Ray's experiment state, decide what is finished and what resumes.
"""

from __future__ import annotations

from typing import Any


class ScaleError(ValueError):
    """A sweep, spec or cluster problem the user can fix (the message is one line)."""


#: how to get the optional dependencies, named in the one-line error when Ray is missing
INSTALL_HINT = 'pip install -e ".[ray]"  (or: pip install "nacre-rl[ray]")'


def require_ray() -> Any:
    """The ``ray`` module, or :class:`ScaleError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ScaleError(f"this needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


__all__ = ["INSTALL_HINT", "ScaleError", "require_ray"]
