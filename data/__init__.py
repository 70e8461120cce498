"""Reference data shipped with the package (read with importlib.resources, see data/README.md)."""
