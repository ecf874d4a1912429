#!/usr/bin/env bash
# The one command the GPU machine runs (see bench/gpu/README.md), from the repository root:
#
#   bash bench/gpu/run.sh [measure.py options, e.g. --slice 120]
#
# Installs the carried wheels (bench/gpu/wheels/, from fetch_wheels.sh) into /tmp/site when this
# Python lacks the RL stack, puts them and the repository on PYTHONPATH, and runs measure.py, whose
# last stdout line is the JSON summary (also $OUT/gpu.json when $OUT is set).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
SITE=${GPU_SITE:-/tmp/site}
WHEELS=${GPU_WHEELS:-bench/gpu/wheels}
# moviepy.config would ask imageio-ffmpeg (not carried: ~30 MB of ffmpeg) for ffmpeg at import time;
# nothing measured encodes video, so it is told to look for a system ffmpeg instead.
"$PY" -c "import imageio_ffmpeg" 2>/dev/null || export FFMPEG_BINARY=${FFMPEG_BINARY:-auto-detect}
NEEDED="import gymnasium, ale_py, stable_baselines3, sb3_contrib, rl_zoo3, huggingface_sb3, optuna, sqlalchemy, moviepy"

if ! "$PY" -c "$NEEDED" 2>/dev/null; then
    wheels=("$WHEELS"/*.whl)
    if [ ! -e "${wheels[0]}" ]; then
        echo "$WHEELS/ holds no wheels: run bench/gpu/fetch_wheels.sh where pip works, and carry it" >&2
        exit 2
    fi
    started=$SECONDS
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "${wheels[@]}"
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    echo "[run.sh] installed ${#wheels[@]} wheels into $SITE in $((SECONDS - started)) s" >&2
    "$PY" -c "$NEEDED"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
exec "$PY" bench/gpu/measure.py "$@"
