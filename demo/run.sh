#!/bin/sh
# Runs channelstream and one demo chat backend together; Ctrl-C stops both.
#
#   demo/run.sh pyramid     # or: demo/run.sh flask
#
# Then open http://127.0.0.1:6543/ (pyramid) or http://127.0.0.1:5000/ (flask)
# in two browser windows. Ports and secrets come from the environment:
#   CHANNELSTREAM_PORT (8000), DEMO_PORT (6543 pyramid / 5000 flask),
#   CHANNELSTREAM_SECRET, CHANNELSTREAM_ADMIN_SECRET, PYTHON (the venv's python).
set -eu

framework="${1:-}"
case "$framework" in
    pyramid) default_port=6543 ;;
    flask) default_port=5000 ;;
    *) echo "usage: $0 pyramid|flask" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$root/.venv/bin/python" ]; then PYTHON="$root/.venv/bin/python"; else PYTHON=python3; fi
fi
bindir="$(dirname "$PYTHON")"
pserve="$bindir/pserve"
[ -x "$pserve" ] || pserve=pserve

cs_port="${CHANNELSTREAM_PORT:-8000}"
demo_port="${DEMO_PORT:-$default_port}"
export CHANNELSTREAM_SECRET="${CHANNELSTREAM_SECRET:-demo-secret-change-me}"
export CHANNELSTREAM_ADMIN_SECRET="${CHANNELSTREAM_ADMIN_SECRET:-demo-admin-secret-change-me}"
export CHANNELSTREAM_LISTEN="127.0.0.1:$cs_port"
export CHANNELSTREAM_URL="http://127.0.0.1:$cs_port"

"$pserve" "$root/development.ini" &
cs_pid=$!
demo_pid=""
cleanup() {
    trap - INT TERM EXIT
    [ -n "$demo_pid" ] && kill "$demo_pid" 2>/dev/null || true
    kill "$cs_pid" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

# Wait (up to 20 s) until channelstream answers its health check.
"$PYTHON" - "$CHANNELSTREAM_URL/health" <<'PY'
import sys, time, urllib.request
deadline = time.monotonic() + 20
while True:
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1)
        break
    except Exception:
        if time.monotonic() > deadline:
            sys.exit("channelstream did not start; see its output above")
        time.sleep(0.2)
PY

cd "$root"
"$PYTHON" -m "demo.${framework}_app" --listen "127.0.0.1:$demo_port" &
demo_pid=$!
echo "channelstream on $CHANNELSTREAM_URL, $framework demo on http://127.0.0.1:$demo_port/"
wait "$demo_pid"
