"""nacre: meta-reinforcement learning (PEARL, MACAW) on modern Gymnasium and MuJoCo."""

__version__ = "0.1.0"
