"""Benchmark and tune optimizers: the DeepOBS / AlgoPerf protocol in a few compiled calls."""
