"""Shared test set-up: offline, the offline joint model, a headless matplotlib."""
import os

# Tests never reach a model hub, and always use the offline joint model, so every
# machine sees the same numbers (the Makefile sets the same variables).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MMLAB_JOINT_MODEL", "conse")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import matplotlib

# mmlab sets its OpenMP policy on import (mmlab._threads); import it before any test
# module imports torch directly, so the policy is in force when torch loads.
import mmlab  # noqa: F401

matplotlib.use("Agg")
