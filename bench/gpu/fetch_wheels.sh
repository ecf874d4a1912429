#!/usr/bin/env bash
# Fetch, here (where pip reaches the registry), the wheels the GPU machine lacks, into the ignored
# folder bench/gpu/wheels/ that `run(carry=["bench/gpu/wheels"])` takes along. Exact versions as in
# requirements.txt (and, for their needs, as the project's venv has them); only what the measured
# imports need and the GPU machine's image (Python 3.12, x86-64) does not already hold. See README.md.
#
#   bash bench/gpu/fetch_wheels.sh [pip]      # pip: the pip to download with (default: python3 -m pip)
set -euo pipefail
cd "$(dirname "$0")"
PIP=${1:-python3 -m pip}
DEST=wheels

WHEELS=(
    # The RL stack: requirements.txt's pins.
    gymnasium==1.4.0
    ale-py==0.12.1
    stable-baselines3==2.9.2
    sb3-contrib==2.9.2
    rl-zoo3==2.9.2
    huggingface_hub==2.4.0
    moviepy==2.2.1
    # What those import and the GPU machine lacks (KINDS.md's list): the venv's versions.
    farama-notifications==0.0.6    # gymnasium
    optuna==5.0.0                  # rl_zoo3 (alembic only for a database's schema: not carried)
    colorlog==6.12.0               # optuna
    sqlalchemy==2.1.9              # agents.tune.tuning, which agents.jobs.manager imports
    sb3-team-hf-integration==3.2   # huggingface_sb3, which rl_zoo3 imports
    wasabi==1.1.3                  # huggingface_sb3
    httpx2==2.16.2                 # huggingface_hub 2.x
    httpcore2==2.16.2              # httpx2
    truststore==0.10.5             # httpx2
    brotli==1.2.1                  # httpx2
    proglog==0.1.12                # moviepy (agents.play.video imports moviepy.config)
    decorator==5.3.1               # moviepy
    python-dotenv==1.2.4           # moviepy.config
)
# Not carried: imageio-ffmpeg (its wheel is ~30 MB of ffmpeg binary; nothing measured encodes video,
# and measure.py sets FFMPEG_BINARY=auto-detect so that moviepy.config does not ask it for ffmpeg).

rm -rf "$DEST"
mkdir -p "$DEST"
PLATFORMS=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
    manylinux2014_x86_64 manylinux1_x86_64; do
    PLATFORMS+=(--platform "$tag")
done
# (grep: this machine's pip config names local indexes that may be absent; pip warns of each.)
$PIP download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLATFORMS[@]}" \
    -d "$DEST" "${WHEELS[@]}" 2> >(grep -v 'is ignored: it is neither' >&2)

ls -l "$DEST"/*.whl | awk '{printf "%8.1f KiB  %s\n", $5 / 1024, $NF}'
du -cb "$DEST"/*.whl | tail -1 | awk '{printf "total: %.1f MiB in '"$(ls "$DEST"/*.whl | wc -l)"' wheels\n", $1 / 1048576}'
