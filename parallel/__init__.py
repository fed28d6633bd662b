"""rawconv.parallel: index, plan, decode on a Dask cluster and merge (filled by a later issue)."""
