"""The data, defined once: data contract v1 as data, the enums with their Chinese labels, the
project's base errors, the packaged reference tables, and the registry tables with their as-of
snapshots. The lowest layer: it imports no other tenantmatch package."""

from tenantmatch.registry.contract import LIST_SEPARATOR, TABLES, TABLES_BY_NAME, Column, Table
from tenantmatch.registry.enums import (
    Amenity,
    Grade,
    HqType,
    Relation,
    RiskFlag,
    Stage,
    Tag,
    Theme,
    label_zh,
)
from tenantmatch.registry.errors import (
    InputError,
    NotFoundError,
    ReferenceDataError,
    RowError,
    SchemaError,
    TenantmatchError,
    ValidationFailed,
)
from tenantmatch.registry.reference import (
    division_of,
    divisions_of,
    industry_divisions,
    normalize_industry_code,
    normalize_industry_codes,
    reference_location,
    section_of_division,
    shanxi_districts,
    theme_industry_prior,
    themes,
)
from tenantmatch.registry.rules import (
    M2_PER_EMPLOYEE,
    MIN_UNIT_OVERSIZE_FACTOR,
    area_taken_m2,
    estimated_space_need_m2,
    space_fits,
)
from tenantmatch.registry.tables import Registry, Snapshot, vacancy_as_of

__all__ = [
    "LIST_SEPARATOR",
    "M2_PER_EMPLOYEE",
    "MIN_UNIT_OVERSIZE_FACTOR",
    "TABLES",
    "TABLES_BY_NAME",
    "Amenity",
    "Column",
    "Grade",
    "HqType",
    "InputError",
    "NotFoundError",
    "ReferenceDataError",
    "Registry",
    "Relation",
    "RiskFlag",
    "RowError",
    "SchemaError",
    "Snapshot",
    "Stage",
    "Table",
    "Tag",
    "TenantmatchError",
    "Theme",
    "ValidationFailed",
    "area_taken_m2",
    "division_of",
    "divisions_of",
    "estimated_space_need_m2",
    "industry_divisions",
    "label_zh",
    "normalize_industry_code",
    "normalize_industry_codes",
    "reference_location",
    "section_of_division",
    "shanxi_districts",
    "space_fits",
    "theme_industry_prior",
    "themes",
    "vacancy_as_of",
]
