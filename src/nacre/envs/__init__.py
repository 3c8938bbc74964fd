"""Task distributions: the protocol, the registry and the built-in families."""

from nacre.envs.base import Task, TaskDistribution, TaskSplit, check_task_env
from nacre.envs.registry import UnknownTaskDistribution, make_distribution, register, registered_ids

__all__ = [
    "Task",
    "TaskDistribution",
    "TaskSplit",
    "UnknownTaskDistribution",
    "check_task_env",
    "make_distribution",
    "register",
    "registered_ids",
]
