# The C extension is declared here so that setuptools compiles it; the rest
# of the metadata lives in pyproject.toml.
from setuptools import Extension, setup

setup(
    packages=["testapp"],
    ext_modules=[Extension("testapp._speedups", ["testapp/_speedups.c"])],
)
