"""Stand-ins for real experiments: benchmark functions and emulators built from real data.

Each simulator is a plain callable from a parameter mapping to an objective value. They
import torch, pandas or botorch only when built, so describing one stays cheap.
"""
