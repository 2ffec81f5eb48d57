"""A distributor for lld 22's distributed ThinLTO that runs the backend jobs
on a Dask cluster, shipping inputs by content, with an action cache on the
workers. The command is ``lto-engine-dask`` (see ``cli``)."""

__version__ = "0.1.0"
