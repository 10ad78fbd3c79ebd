"""The native parts: the analysis chain's hot loop (retrieval/_chain.c), ingest's text scans
(retrieval/_scan.c), story signatures (retrieval/_minhash.c), BM25's top-k kernel (retrieval/_topk.c) and
re-ranking's passage scores (retrieval/_rerank.c) and where an excerpt is cut (retrieval/_excerpt.c).

Everything else about the package is in pyproject.toml. The extensions are
optional at build time so that a machine without a C compiler still installs
the project (analysis then runs the pure-Python chain and ranking the numpy
`topk._top_numpy`, with a warning); `make test` checks that they were built
(tests/test_native_chain.py, tests/test_native_scan.py, tests/test_native_topk.py,
tests/test_rerank.py).
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("retrieval._chain", ["retrieval/_chain.c"], optional=True, extra_compile_args=["-O2", "-Wall"]),
    Extension("retrieval._edits", ["retrieval/_edits.c"], optional=True, extra_compile_args=["-O2", "-Wall"]),
    # -ffp-contract=off: `impact_table` must round each operation as numpy does (see there).
    Extension("retrieval._scan", ["retrieval/_scan.c"], optional=True, depends=["retrieval/_buffers.h"],
              extra_compile_args=["-O2", "-Wall", "-ffp-contract=off"]),
    # -O3: the signature loop is vectorised (see sign() in the file).
    Extension("retrieval._minhash", ["retrieval/_minhash.c"], optional=True, extra_compile_args=["-O3", "-Wall"]),
    # -ffp-contract=off: each `sum + impact * factor` must round twice, as numpy's does (an FMA
    # would round once and the scores would no longer be bit-identical to the numpy `_top_numpy`).
    Extension("retrieval._topk", ["retrieval/_topk.c"], optional=True, depends=["retrieval/_buffers.h"],
              extra_compile_args=["-O2", "-Wall", "-ffp-contract=off"]),
    Extension("retrieval._excerpt", ["retrieval/_excerpt.c"], optional=True, extra_compile_args=["-O2", "-Wall"]),
    # The same for re-ranking's passage scores (rerank.rerank_parts).
    Extension("retrieval._rerank", ["retrieval/_rerank.c"], optional=True, depends=["retrieval/_buffers.h"],
              extra_compile_args=["-O2", "-Wall", "-ffp-contract=off"]),
])
