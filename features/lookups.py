"""The lookups feature functions read (``ContextData``), apart from how they are built.

Feature modules annotate with ``ContextData``; ``features.context.FeatureContext`` extends it with
``build`` and the precomputed feature blocks, so no feature module imports the context module.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from tenantmatch.features.vocab import Vocabulary

KEY_SPAN = 64.0  # > log(1 + any head count), so sorted keys group by building


@dataclass(frozen=True, eq=False)
class TenantSizes:
    """Current tenants' sizes (1 + employees) sorted per building, with running sums."""

    keys: np.ndarray  # (n,) building position * KEY_SPAN + log(size), ascending
    cum_size: np.ndarray  # (n + 1,) running sum of size
    cum_inverse: np.ndarray  # (n + 1,) running sum of 1 / size
    starts: np.ndarray  # (n_buildings,) first row of each building
    ends: np.ndarray  # (n_buildings,) one past the last row

    def mean_similarity(
        self, b_pos: np.ndarray, *, size: np.ndarray, is_tenant: np.ndarray
    ) -> np.ndarray:
        """Mean of min(size, s) / max(size, s) over the building's tenants (the enterprise
        itself left out); NaN where ``size`` is NaN or no other tenant has a known size."""
        start, end = self.starts[b_pos], self.ends[b_pos]
        with np.errstate(invalid="ignore", divide="ignore"):
            at = np.searchsorted(self.keys, b_pos * KEY_SPAN + np.log(size), side="right")
            at = np.clip(at, start, end)
            below = (self.cum_size[at] - self.cum_size[start]) / size
            above = (self.cum_inverse[end] - self.cum_inverse[at]) * size
            count = end - start - is_tenant
            return (below + above - is_tenant) / np.where(count > 0, count, np.nan)


@dataclass(frozen=True, eq=False)
class ContextData:
    """Per-snapshot lookups that feature functions read; positions index ``buildings`` /
    ``enterprises`` rows. ``FeatureContext`` builds them and adds the precomputed blocks."""

    as_of: pd.Timestamp
    vocab: Vocabulary
    buildings: pd.DataFrame  # float64 attributes, index building_id
    enterprises: pd.DataFrame  # float64 attributes, index enterprise_id
    tenants: sparse.csr_array  # (n_ent, n_bld) 1.0 where an open tenancy
    partners: dict[str, sparse.csr_array]  # relation -> (n_ent, n_bld) partners in building
    division_mix: np.ndarray  # (n_bld, 100) current tenants per division
    section_mix: np.ndarray  # (n_bld, n_sections) current tenants per section
    theme_fit: np.ndarray  # (n_themes, 100) learned lift, rows by buildings.theme_idx
    theme_prior: np.ndarray  # (n_themes, 100) prior weight 0..1, NaN for a theme it lacks
    sizes: TenantSizes
    prior_events: sparse.csr_array  # (n_ent, n_bld) max stage rank, 0 = none
    last_event_days: sparse.csr_array  # (n_ent, n_bld) days since the latest event + 1, 0 = none
    last_event_stage: sparse.csr_array  # (n_ent, n_bld) latest event's stage rank + 2, 0 = none
    building_array: np.ndarray  # ``buildings`` as one (n_bld, k) float64 block, for fast joins
    enterprise_array: np.ndarray  # ``enterprises``' own (n_ent, m) float64 block (F order)
    cities: pd.Index  # the city names city_code indexes (both sides)
    places: pd.Index  # the "city|district" names place_code indexes (both sides)

    @functools.cached_property
    def joined_columns(self) -> pd.Index:
        """Column labels of the ``b_*`` / ``e_*`` attributes a feature join gathers, as an
        object index (label lookups on it are cheaper than on an arrow string index)."""
        names = [f"b_{c}" for c in self.buildings.columns]
        return pd.Index(names + [f"e_{c}" for c in self.enterprises.columns], dtype=object)

    @functools.cached_property
    def division_total(self) -> np.ndarray:
        """(n_bld,) current tenants with a known division: ``division_mix`` summed per row."""
        return self.division_mix.sum(axis=1)

    @functools.cached_property
    def section_total(self) -> np.ndarray:
        """(n_bld,) current tenants with a known section: ``section_mix`` summed per row."""
        return self.section_mix.sum(axis=1)
