"""Meta-RL algorithms."""
