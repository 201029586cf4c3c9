"""Choosing experiments: Sobol to start, then a GP and noisy log expected improvement.

Importing this package is cheap; torch and BoTorch load on the first suggestion.
"""

from tansaku.proposer.proposer import Observation, Proposal, Proposer

__all__ = ["Observation", "Proposal", "Proposer"]
