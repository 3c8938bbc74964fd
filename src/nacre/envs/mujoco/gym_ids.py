"""Gymnasium ids for the MuJoCo task families (registered when ``nacre.envs.mujoco`` is imported).

``gymnasium.make("nacre/CheetahVel-v1", task={"velocity": 1.0})`` builds the task environment; without
``task`` one task is drawn from the family with ``numpy.random.default_rng(seed)`` (``seed`` defaults to
0, so the call is deterministic). Other keyword arguments go to the task distribution (for example
``gymnasium.make("nacre/AntGoal-v1", contact_forces_in_obs=False)``). The environment truncates itself
at step 200; the ids also carry ``max_episode_steps=200``, so ``gymnasium.make`` adds a ``TimeLimit``
wrapper that agrees with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from nacre.envs.base import Task
from nacre.envs.mujoco._common import EPISODE_LENGTH

#: Gymnasium id -> nacre task-distribution id
GYM_IDS: dict[str, str] = {
    "nacre/CheetahVel-v1": "cheetah-vel-v1",
    "nacre/CheetahDir-v1": "cheetah-dir-v1",
    "nacre/AntDir-v1": "ant-dir-v1",
    "nacre/AntDirRandom-v1": "ant-dir-random-v1",
    "nacre/AntGoal-v1": "ant-goal-v1",
    "nacre/HumanoidDir-v1": "humanoid-dir-v1",
    "nacre/WalkerParams-v1": "walker-params-v1",
    "nacre/HopperParams-v1": "hopper-params-v1",
}


def make_task_env(
    family: str, task: Task | None = None, seed: int = 0, render_mode: str | None = None, **kwargs: Any
) -> gym.Env:
    """Entry point of the ids above: the ``family`` environment for ``task`` (sampled from ``seed``)."""
    from nacre.envs.registry import make_distribution

    dist = make_distribution(family, **kwargs)
    if task is None:
        task = dist.sample_tasks(np.random.default_rng(seed), 1)[0]
    return dist.make_env(task, render_mode=render_mode)  # type: ignore[call-arg]


def register_gym_ids(ids: Mapping[str, str] = GYM_IDS) -> None:
    """Register each Gymnasium id of ``ids`` (Gymnasium id -> nacre id) that is not registered yet."""
    for gym_id, family in ids.items():
        if gym_id not in gym.registry:
            gym.register(
                id=gym_id,
                entry_point=make_task_env,
                kwargs={"family": family},
                max_episode_steps=EPISODE_LENGTH,
            )
