"""The synthetic Shanxi demo world: buildings, enterprises, links and a simulated history of
moves written as a data-contract v1 folder, with the hidden truth kept apart in ``_truth/``."""

from tenantmatch.training.demo.ceiling import ceiling_scores
from tenantmatch.training.demo.params import MoveRates, PreferenceWeights, Records, WorldParams
from tenantmatch.training.demo.suite import WORLDS, SuiteWorld, suite_world, world_names
from tenantmatch.training.demo.truth import TRUTH_DIR
from tenantmatch.training.demo.world import WorldInfo, generate_world, with_hidden_months

__all__ = [
    "TRUTH_DIR",
    "WORLDS",
    "MoveRates",
    "PreferenceWeights",
    "Records",
    "SuiteWorld",
    "WorldInfo",
    "WorldParams",
    "ceiling_scores",
    "generate_world",
    "suite_world",
    "with_hidden_months",
    "world_names",
]
