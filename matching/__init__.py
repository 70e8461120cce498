"""tenantmatch package."""

from matching.importer import ImportReport, import_dataset, validate_dataset
from matching.storage import Repository, UpsertCount
