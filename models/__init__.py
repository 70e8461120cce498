"""tenantmatch package."""
