"""The ``tenantmatch`` command line: the outermost layer, above ``api`` and ``training``."""

__all__: list[str] = []
