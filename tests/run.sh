#!/usr/bin/env bash
# The test command the README gives: installs what the tests need, runs every
# test, then opens the real app in a virtual X server, makes it invoke a sample
# and checks the screenshot of the window.
set -euo pipefail
cd "$(dirname "$0")/.."

# The wasm target lets a test check that the committed sample modules match
# their sources (without it that one check is skipped, not failed).
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
  rustup target add wasm32-wasip1 || echo "note: could not add wasm32-wasip1; the sample rebuild check will be skipped"
fi

# boto3 (the AWS SDK for Python) checks that `lambdesk serve` works with an unchanged SDK.
if ! python3 -c "import boto3" >/dev/null 2>&1; then
  python3 -m pip install --quiet boto3
fi

# The AWS CLI (version 1 is on PyPI) checks the versions and aliases API as
# scripts use it; its test says so and skips when it cannot be installed.
if ! command -v aws >/dev/null 2>&1; then
  python3 -m pip install --quiet awscli 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages awscli 2>/dev/null \
    || echo "note: could not install the AWS CLI; its test will be skipped"
fi

# A virtual X server for the real-window check.
if ! command -v xvfb-run >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xauth >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xauth >/dev/null
  fi
fi

cargo test

# Real window: a fresh profile, the built app, a screenshot.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
shot="${LAMBDESK_SCREENSHOT:-$profile/window.png}"
# `cargo test` built the binary (for the CLI tests); a separate `cargo build`
# would resolve features without the dev-dependencies and compile wasmtime again.
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/lambdesk"
test -x "$bin" || { echo "no binary at $bin" >&2; exit 1; }
if command -v xvfb-run >/dev/null 2>&1; then
  XDG_DATA_HOME="$profile/data" XDG_CONFIG_HOME="$profile/config" XDG_CACHE_HOME="$profile/cache" \
  LAMBDESK_WORKSPACE="$profile/workspace" WGPU_BACKEND=gl \
    xvfb-run -a -s "-screen 0 1400x900x24" timeout 180 "$bin" --smoke-test "$shot"
  echo "real-window check: the app invoked hello and rendered $(stat -c %s "$shot") bytes of screenshot to $shot"
else
  echo "real-window check failed: xvfb-run is not installed and could not be installed" >&2
  exit 1
fi
