from setuptools import Extension, setup

setup(ext_modules=[Extension("fastcount._fast", ["fastcount/_fast.c"])])
