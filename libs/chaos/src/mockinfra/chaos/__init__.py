"""Chaos scenarios with ground truth, and the fault-control command line."""
