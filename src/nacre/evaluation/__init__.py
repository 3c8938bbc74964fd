"""One meta-test protocol for every method: explore -> adapt -> evaluate, returning arrays."""
