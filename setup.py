"""The one native part: the analysis chain's hot loop (retrieval/_chain.c).

Everything else about the package is in pyproject.toml. The extension is
optional at build time so that a machine without a C compiler still installs
the project (analysis then runs the pure-Python chain, with a warning);
`make test` checks that it was built (tests/test_native_chain.py).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("retrieval._chain", ["retrieval/_chain.c"], optional=True,
                             extra_compile_args=["-O2", "-Wall"])])
