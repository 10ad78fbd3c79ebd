#!/bin/bash
# This checkout's adds against another's, beside tantivy: benchmarks.tantivy_compare (this checkout's script and
# benchmark modules) run over each checkout's retrieval code in turn, on a fresh copy of one database each time
# (synced first).
#
#   .venv/bin/python -m benchmarks.lab.checkouts bd9dab5 /tmp/add4-base      # the other checkout, built
#   benchmarks/lab/tantivy_ab.sh /tmp/add4-base /tmp/nrt100k /tmp/tvab       # OTHER DB_DIR OUT
#
# Environment: ROUNDS (4), ADDS (30 single articles), HUNDREDS (40 adds of ~100 passages), CORPUS
# (default ../shared/corpora/ant-multisource.jsonl.gz). JSON per run in OUT/{base,mine}-ROUND.json.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
OTHER=$(cd "$1" && pwd); SRC=$2; OUT=$3
PY=$HERE/.venv/bin/python
CORPUS=${CORPUS:-$(cd "$HERE/.." && pwd)/shared/corpora/ant-multisource.jsonl.gz}
WORK=$(mktemp -d /tmp/tantivy-ab-XXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
for round in $(seq 1 "${ROUNDS:-4}"); do
  for who in base mine; do
    rm -rf "$WORK/$who"; mkdir -p "$WORK/$who"; cp "$SRC"/news.db* "$WORK/$who/"; sync; sleep 2
    code=$([ $who = base ] && echo "$OTHER" || echo "$HERE")
    # This checkout's benchmark code over that checkout's retrieval (and bot) packages.
    mix=$WORK/code-$who; rm -rf "$mix"; mkdir -p "$mix"
    ln -s "$HERE/benchmarks" "$mix/benchmarks"; ln -s "$code/retrieval" "$mix/retrieval"; ln -s "$code/bot" "$mix/bot"
    (cd "$mix" && PYTHONPATH=$mix $PY -c "import runpy, sys; sys.argv[0] = 'tantivy_compare'; \
runpy.run_path('$HERE/benchmarks/tantivy_compare.py', run_name='__main__')" \
       --corpus "$CORPUS" --workdir "$WORK/$who" --adds "${ADDS:-30}" --hundreds "${HUNDREDS:-40}" --queries 200 \
       --runs 1 > "$OUT/$who-$round.json" 2> "$OUT/$who-$round.log")
    grep "add " "$OUT/$who-$round.log" | sed "s/^/$who $round /"
  done
done
