"""The synthetic Shanxi demo world: buildings, enterprises, links and a simulated history of
moves written as a data-contract v1 folder, with the hidden truth kept apart in ``_truth/``."""

from training.demo.ceiling import ceiling_scores
from training.demo.params import MoveRates, PreferenceWeights, WorldParams
from training.demo.truth import TRUTH_DIR
from training.demo.world import WorldInfo, generate_world

__all__ = [
    "TRUTH_DIR",
    "MoveRates",
    "PreferenceWeights",
    "WorldInfo",
    "WorldParams",
    "ceiling_scores",
    "generate_world",
]
