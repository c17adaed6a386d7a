#!/usr/bin/env bash
# Rebuilds the sample functions into sample-functions/dist/*.wasm (committed, so
# the app and the tests run without the wasm target).
#   ./build.sh          rebuild and copy into dist/
#   ./build.sh --check  rebuild into a temporary folder and fail if dist/ differs
set -euo pipefail
cd "$(dirname "$0")"
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
  echo "The wasm32-wasip1 target is not installed. Add it with:" >&2
  echo "  rustup target add wasm32-wasip1" >&2
  exit 2
fi
samples=(hello sum s3-object-info counter behave)
target_dir=target
if [[ "${1:-}" == "--check" ]]; then
  target_dir=$(mktemp -d)
  trap 'rm -rf "$target_dir"' EXIT
fi
# Stable paths inside the binaries (panic locations), wherever the repo is cloned.
export RUSTFLAGS="--remap-path-prefix=$HOME/.cargo/registry/src=/cargo --remap-path-prefix=$PWD=/sample-functions"
export CARGO_TARGET_DIR="$target_dir"
cargo build --quiet --release --locked --target wasm32-wasip1
status=0
mkdir -p dist
for s in "${samples[@]}"; do
  built="$target_dir/wasm32-wasip1/release/$s.wasm"
  if [[ "${1:-}" == "--check" ]]; then
    if ! cmp -s "$built" "dist/$s.wasm"; then
      echo "dist/$s.wasm is out of date: run sample-functions/build.sh" >&2
      status=1
    fi
  else
    cp "$built" "dist/$s.wasm"
  fi
done
[[ "${1:-}" == "--check" && $status == 0 ]] && echo "sample functions are current"
exit $status
