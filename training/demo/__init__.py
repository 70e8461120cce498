"""The synthetic Shanxi demo world: buildings, enterprises, links and a simulated history of
moves written as a data-contract v1 folder, with the hidden truth kept apart in ``_truth/``."""

from tenantmatch.training.demo.ceiling import ceiling_scores
from tenantmatch.training.demo.params import MoveRates, PreferenceWeights, WorldParams
from tenantmatch.training.demo.truth import TRUTH_DIR
from tenantmatch.training.demo.world import WorldInfo, generate_world

__all__ = [
    "TRUTH_DIR",
    "MoveRates",
    "PreferenceWeights",
    "WorldInfo",
    "WorldParams",
    "ceiling_scores",
    "generate_world",
]
