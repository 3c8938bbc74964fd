"""MuJoCo task families of the PEARL paper on Gymnasium's v5 environments (see docs/environments.md).

Importing this package registers, with :func:`nacre.envs.registry.register`, ``cheetah-vel``,
``cheetah-dir``, ``ant-dir``, ``ant-dir-random``, ``ant-goal``, ``humanoid-dir``, ``walker-params`` and
``hopper-params`` (all version 1, 200-step episodes), and the Gymnasium ids of
:data:`nacre.envs.mujoco.gym_ids.GYM_IDS` (``nacre/CheetahVel-v1`` ...). It also registers MACAW's fixed
task sets (:mod:`nacre.envs.mujoco.macaw_tasks`: ``macaw-cheetah-vel``, ``macaw-cheetah-vel-ood``,
``macaw-cheetah-dir``, ``macaw-ant-dir``, ``macaw-walker-params``) and their Gymnasium ids
(:data:`~nacre.envs.mujoco.macaw_tasks.MACAW_GYM_IDS`, ``nacre/MacawCheetahVel-v1`` ...).

A MuJoCo that fails to import (e.g. ``mujoco-core`` 4 files left inside ``mujoco`` 3.3.0 by pip) raises
:class:`~nacre.envs.mujoco_install.MujocoInstallError` with the repair command.
"""

from nacre.envs.mujoco import _install_check  # noqa: F401  (first: checks that MuJoCo imports)
from nacre.envs.mujoco.ant import AntDir, AntDirEnv, AntDirRandom, AntGoal, AntGoalEnv
from nacre.envs.mujoco.gym_ids import GYM_IDS, make_task_env, register_gym_ids
from nacre.envs.mujoco.half_cheetah import CheetahDir, CheetahVel, HalfCheetahDirEnv, HalfCheetahVelEnv
from nacre.envs.mujoco.humanoid import HumanoidDir, HumanoidDirEnv
from nacre.envs.mujoco.macaw_tasks import (
    MACAW_GYM_IDS,
    FixedTaskSetMixin,
    MacawAntDir,
    MacawCheetahDir,
    MacawCheetahVel,
    MacawCheetahVelOOD,
    MacawWalkerParams,
)
from nacre.envs.mujoco.rand_params import HopperParams, HopperParamsEnv, WalkerParams, WalkerParamsEnv

register_gym_ids()
register_gym_ids(MACAW_GYM_IDS)

__all__ = [
    "GYM_IDS",
    "MACAW_GYM_IDS",
    "AntDir",
    "AntDirEnv",
    "AntDirRandom",
    "AntGoal",
    "AntGoalEnv",
    "CheetahDir",
    "CheetahVel",
    "FixedTaskSetMixin",
    "HalfCheetahDirEnv",
    "HalfCheetahVelEnv",
    "HopperParams",
    "HopperParamsEnv",
    "HumanoidDir",
    "HumanoidDirEnv",
    "MacawAntDir",
    "MacawCheetahDir",
    "MacawCheetahVel",
    "MacawCheetahVelOOD",
    "MacawWalkerParams",
    "WalkerParams",
    "WalkerParamsEnv",
    "make_task_env",
]
