"""Two checkouts side by side: get one, check it is built, and run a program under either's code.

Every A/B script in `benchmarks/lab/` compares this checkout with another one
through these functions: each version runs in its own process with its code
first on `PYTHONPATH`, pinned to the same core when asked, and the versions
take turns (`alternating`) so both see the same load on a shared machine.

    .venv/bin/python -m benchmarks.lab.checkouts main /tmp/main-code   # export `main` and build its C extensions
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def export(ref: str, dest: Path) -> Path:
    """The tree of `ref` in `dest`, with its C extensions built in place (a `git archive` has only their sources)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=dest, check=True)
    return dest


def problem(code: Path) -> str | None:
    """Why `code` cannot be measured (not a checkout, or C extensions not built), or None.

    Without its extensions a version runs its pure-Python fallbacks, and the
    comparison would measure those.
    """
    if not (code / "retrieval" / "engine.py").exists():
        return f"{code} is not a checkout of this project (no retrieval/engine.py)"
    unbuilt = [c.name for c in sorted((code / "retrieval").glob("*.c")) if not any(c.parent.glob(f"{c.stem}.*.so"))]
    if unbuilt:
        return (f"{code}: {', '.join(unbuilt)} not built, so its pure-Python fallback would be measured;"
                f" build it first: (cd {code} && {sys.executable} setup.py -q build_ext --inplace)")
    return None


def require(parser: argparse.ArgumentParser, code: Path) -> Path:
    """`code` resolved, or the parser's error saying why it cannot be measured."""
    if (why := problem(code)) is not None:
        parser.error(why)
    return code.resolve()


def environment(code: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(code)}


def _pinned(core: int | None):
    return None if core is None else (lambda: os.sched_setaffinity(0, {core}))


def run(code: Path, argv: Sequence[str], *, core: int | None = None, cwd: Path | None = None) -> str:
    """`python ARGV` under `code` (on `core` if given); its stdout, or SystemExit with its stderr."""
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=cwd or code,
                          env=environment(code), preexec_fn=_pinned(core))
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:2])} under {code} failed:\n{proc.stderr.strip()[-2000:]}")
    return proc.stdout


def run_json(code: Path, argv: Sequence[str], *, core: int | None = None, cwd: Path | None = None) -> dict:
    """`run`, and the JSON object on the last line of its output."""
    return json.loads(run(code, argv, core=core, cwd=cwd).strip().splitlines()[-1])


def start(code: Path, argv: Sequence[str], *, core: int | None = None) -> subprocess.Popen[str]:
    """`python ARGV` under `code`, left running with line-buffered text pipes on stdin and stdout."""
    return subprocess.Popen([sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=code, env=environment(code), preexec_fn=_pinned(core))


def alternating(names: Iterable[str], rounds: int) -> Iterator[tuple[int, str]]:
    """(round, version) in turn, the order reversed every other round: both see the same load."""
    order = list(names)
    for r in range(rounds):
        for name in order if r % 2 == 0 else reversed(order):
            yield r, name


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Export a git ref with its C extensions built, for the A/B scripts.")
    p.add_argument("ref", help="a commit, branch or tag of this repository")
    p.add_argument("dest", type=Path, help="an empty folder")
    args = p.parse_args(argv)
    print(export(args.ref, args.dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
