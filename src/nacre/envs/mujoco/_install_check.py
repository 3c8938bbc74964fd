"""Imported first by :mod:`nacre.envs.mujoco`: a broken MuJoCo install becomes a one-line nacre error
(:class:`~nacre.envs.mujoco_install.MujocoInstallError`, with the repair command) instead of an ``OSError``."""

from nacre.envs.mujoco_install import import_mujoco

import_mujoco()
