"""Replay storage that grows with data, and the one definition of the encoder's context layout."""

from nacre.buffers.context import context_dim, make_context
from nacre.buffers.replay import MultiTaskReplayBuffer, TaskReplayBuffer

__all__ = ["MultiTaskReplayBuffer", "TaskReplayBuffer", "context_dim", "make_context"]
