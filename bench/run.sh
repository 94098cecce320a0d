#!/usr/bin/env bash
# The benchmark's one command: bash bench/run.sh [--rounds N] [--scenarios a,b] [--quick] ...
# Installs what it needs (npm ci, Channelstream 0.7.1 in bench/.venv-071), runs channelstream
# and 0.7.1 side by side, writes bench/results/*.json and BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# 10,000 websockets need more than the usual 1024 open files, for the server and the client
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 12000 ]; then
    echo "bench: the open-files limit is $(ulimit -n); the idle_10k scenario needs about 12000" >&2
fi
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
exec "$PY" bench/run.py "$@"
