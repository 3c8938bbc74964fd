"""Networks: MLPs (single and ensembled), the tanh-Gaussian policy, critics and context encoders."""
