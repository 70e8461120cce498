"""The Alembic environment of tenantmatch's schema, shipped inside the package so that an
installed wheel can upgrade its database (``tenantmatch db upgrade``); run it only through
``store.revisions``, which hands it an open connection."""
