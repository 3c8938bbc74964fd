"""The on-policy foundation of the gradient-based meta-learners (MAML-TRPO, ProMP; RL2-PPO and MAESN build on
it too): a lockstep trajectory sampler, returns / GAE / the linear feature baseline, a functional Gaussian MLP
policy, trust-region pieces, the meta-gradient building blocks and the meta-test protocol."""

#: the algorithms built on this foundation (``nacre train`` names)
ON_POLICY_ALGORITHMS = ("maml-trpo", "promp", "rl2-ppo", "maesn")
