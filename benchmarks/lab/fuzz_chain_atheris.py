"""Coverage-guided fuzzing of the C analysis chain with atheris (optional; `pip install atheris`).

Each input is read as text (atheris' ConsumeUnicode: ASCII, UTF-16 or UTF-32 code units, lone
surrogates included) and analysed by the C chain and by the pure-Python chain, its
specification; any difference or crash stops the run. atheris guides on the Python code it
reaches (the fallback chain, the term callback); the C loop is not instrumented with gcc, so
run it on the AddressSanitizer build as benchmarks/lab/fuzz_chain.py describes, e.g.:

    LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so) \\
        ASAN_OPTIONS=detect_leaks=0 PYTHONPATH=/tmp/asan-c \\
        .venv/bin/python benchmarks/lab/fuzz_chain_atheris.py -max_total_time=300

Arguments are libFuzzer's (-max_total_time, -runs, a corpus folder). With atheris 3.0 on
Python 3.11 here, libFuzzer reported no coverage from the instrumented Python ("no interesting
inputs"), also with atheris.instrument_all(): the runs so far were therefore random inputs of
growing length (up to 4,096 bytes), not guided ones (docs/reliability.md).
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from retrieval import analysis as a


def one_input(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicode(len(data))
    expected = a.reference_analyze(text)
    if a.analyze(text) != expected or a.analyze_joined(text) != " ".join(expected):
        raise AssertionError(f"the C chain differs from the Python chain on {text!r}")
    if a.analyze_query(text) != a.reference_analyze_query(text):
        raise AssertionError(f"the C query chain differs on {text!r}")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
