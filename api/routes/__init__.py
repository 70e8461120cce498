"""HTTP routes: each validates, makes one call into ``matching``, converts to an ``...Out``."""
