"""Layered, explicit randomness: one root seed -> independent generators per consumer.

Library code never touches numpy's or torch's global RNGs; every random draw goes through a
generator obtained here, and :func:`get_state`/:func:`set_state` make them checkpointable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

STREAMS = ("collect", "buffer", "eval", "torch_init", "torch_train")


@dataclass
class SeedTree:
    """Named random generators spawned from one root seed.

    ``collect`` drives task choice and environment resets during data collection, ``buffer`` the
    replay sampling, ``eval`` the meta-test episodes; ``torch_init`` initialises networks and
    ``torch_train`` draws the reparameterisation noise in the losses.
    """

    collect: np.random.Generator
    buffer: np.random.Generator
    eval: np.random.Generator
    torch_init: torch.Generator
    torch_train: torch.Generator

    @classmethod
    def from_seed(cls, seed: int, device: str | torch.device = "cpu") -> SeedTree:
        children = np.random.SeedSequence(seed).spawn(len(STREAMS))
        gens: dict[str, Any] = {}
        for name, child in zip(STREAMS, children, strict=True):
            if name.startswith("torch"):
                dev = torch.device("cpu") if name == "torch_init" else torch.device(device)
                gen = torch.Generator(device=dev)
                gen.manual_seed(int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)))
                gens[name] = gen
            else:
                gens[name] = np.random.Generator(np.random.PCG64(child))
        return cls(**gens)

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for name in STREAMS:
            gen = getattr(self, name)
            state[name] = gen.get_state() if isinstance(gen, torch.Generator) else gen.bit_generator.state
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        for name in STREAMS:
            gen = getattr(self, name)
            if isinstance(gen, torch.Generator):
                gen.set_state(state[name].to("cpu") if hasattr(state[name], "to") else state[name])
            else:
                gen.bit_generator.state = state[name]


def env_seed(rng: np.random.Generator) -> int:
    """A fresh seed for ``env.reset(seed=...)`` drawn from ``rng``."""
    return int(rng.integers(0, 2**31 - 1))
