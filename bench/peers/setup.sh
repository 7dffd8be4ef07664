#!/bin/sh
# The peers' own virtual environment, pinned; never part of agentflow's dependencies.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3.11}
test -x "$here/.venv/bin/python" || "$python" -m venv "$here/.venv"
"$here/.venv/bin/python" -m pip install --quiet --upgrade pip
"$here/.venv/bin/python" -m pip install --quiet \
    dbos==3.4.0 langgraph==1.2.24 langgraph-checkpoint-sqlite==3.1.2
