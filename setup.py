"""Package discovery (the rest of the metadata is in pyproject.toml).

Every package under ``rawconv/`` is found, so a new format folder cannot be missed; the
Dask layer in ``parallel/`` is installed as ``rawconv.parallel``.
"""

from setuptools import find_packages, setup

PARALLEL = ["rawconv.parallel", *(f"rawconv.parallel.{p}" for p in find_packages("parallel"))]

setup(
    packages=[*find_packages(include=["rawconv", "rawconv.*"]), *PARALLEL],
    package_dir={"rawconv.parallel": "parallel"},
)
