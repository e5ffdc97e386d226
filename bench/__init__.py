"""Benchmark of Gazar's analysis engine against PostGIS and naive geopandas (``scripts/bench``).

Not part of the shipped package: run it from the repository root with ``python -m bench.run``.
"""
