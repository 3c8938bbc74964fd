import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture
def tiny_cfg():
    from nacre.algos.pearl.config import preset

    return preset("tiny", "sparse-point-robot")
