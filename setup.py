"""Build hook for the optional compiled walk (layerpeek/_speedups.c).

Everything else about the package is in pyproject.toml.  ``optional=True``:
without a C compiler the build goes on and layerpeek uses its pure-Python
walk (same results, slower ``layerpeek.table``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "layerpeek._speedups",
            sources=["layerpeek/_speedups.c"],
            optional=True,
        )
    ]
)
