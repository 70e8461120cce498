"""``python -m tenantmatch``: the same command line as the ``tenantmatch`` console script."""

from tenantmatch.cli import main

if __name__ == "__main__":
    main()
