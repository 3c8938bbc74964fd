import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture
def tiny_cfg():
    from nacre.algos.pearl.config import preset

    return preset("tiny", "sparse-point-robot")


def make_point_robot_dataset(root, n_train=6, n_test=3, episodes=16, seed=0):
    """A small offline point-robot dataset written with nacre's store: per goal, episodes of a goal-seeking
    scripted policy whose action noise varies from episode to episode (std 0.2 to 2.0, in [-1, 1] units),
    so the data mixes good and poor behaviour as a learning agent's replay buffer does."""
    import numpy as np

    from nacre.datasets import init_dataset_root, write_task_dataset
    from nacre.envs.registry import make_distribution
    from nacre.vector_rollout import rollout_batch

    dist = make_distribution("point-robot")
    split = dist.split(seed, n_train, n_test)
    tasks = [*split.train, *split.test]
    splits = {"train": list(range(n_train)), "test": list(range(n_train, n_train + n_test))}
    init_dataset_root(
        root,
        distribution_id=dist.id,
        tasks=tasks,
        splits=splits,
        config={"behaviour": "scripted-noisy-goal-seeking", "seed": seed, "episodes": episodes},
    )
    rng = np.random.default_rng(seed)
    for i, task in enumerate(tasks):
        env = dist.make_env(task)
        goal = np.asarray(task["goal"], dtype=np.float32)
        trajs = []
        for _ in range(episodes):
            std = rng.uniform(0.2, 2.0)

            def policy(obs, idx, s=std, g=goal):
                return np.clip((g - obs) / 0.1 + s * rng.standard_normal(obs.shape), -1, 1)

            trajs.append(rollout_batch([env], policy, rng, dist.episode_length)[0])
        write_task_dataset(root, i, trajs, list(range(episodes)), env.observation_space, env.action_space)
    return root


@pytest.fixture(scope="session")
def point_dataset(tmp_path_factory):
    return make_point_robot_dataset(tmp_path_factory.mktemp("offline") / "point")
