"""Operator and developer tools: training, running the stack, evaluation, benchmarks."""
