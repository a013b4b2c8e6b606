#!/bin/sh
# An example command proposer for `harness optimize --proposer command:examples/propose_edit.sh`.
#
# It runs sandboxed with the candidate folder (a copy of the parent) as its working directory
# and makes one real edit per experiment to the starter solver's sampling parameters (its
# `strategy.json`), then writes its proposal as JSON to $HARNESS_PROPOSAL. It reads nothing
# but the candidate: a real proposer would read $HARNESS_BRIEF (the directive, notes, the
# parent's train failures) and the workspace view under $HARNESS_VIEW (train transcripts,
# every candidate's code).
set -eu

case "$HARNESS_EXPERIMENT" in
  1) key=temperature; value=0.0
     what="greedy decoding (temperature 0)"
     why="Sampling at the server's default temperature 0.8 makes a 135M model drift on short arithmetic; greedy decoding should make its most likely answer the one given." ;;
  *) key=max_tokens; value=256
     what="shorter replies (max_tokens 256)"
     why="Short-answer tasks need few tokens; long rambles cost time and bury the answer line." ;;
esac

if [ ! -f strategy.json ]; then
  echo "this agent has no strategy.json to edit" >&2
  exit 1
fi
python3 - "$key" "$value" <<'PY'
import json, sys
key, value = sys.argv[1], float(sys.argv[2])
data = json.load(open("strategy.json"))
data.setdefault("model_params", {})[key] = int(value) if key == "max_tokens" else value
open("strategy.json", "w").write(json.dumps(data, indent=2) + "\n")
PY

cat > "$HARNESS_PROPOSAL" <<JSON
{"description": "$what", "hypothesis": "$why", "mechanism": "$what",
 "component": "param", "predicted_fixes": [], "risk_tasks": []}
JSON
