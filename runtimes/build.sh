#!/usr/bin/env bash
# Rebuilds the language runtimes into runtimes/dist/*.wasm (committed and
# embedded in the binary, so the app and the tests run without the wasm target).
#   ./build.sh          rebuild and copy into dist/
#   ./build.sh --check  rebuild and fail if dist/ differs from the sources
# The JavaScript module is compared byte for byte with a fresh build. The
# Python one cannot be: RustPython's build still differs by a few bytes of
# data layout between checkouts (vendor/PATCHES.md fixes the causes found),
# so it is built (it must still compile) and checked against a stamp written
# beside it: the SHA-256 of every input (its sources, the shared guest crate,
# the vendored crates, the lock file, this script, the compiler's version)
# and of the module built from them.
set -euo pipefail
cd "$(dirname "$0")"
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
  echo "The wasm32-wasip1 target is not installed. Add it with:" >&2
  echo "  rustup target add wasm32-wasip1" >&2
  exit 2
fi
# A build folder of its own (reused: the check rebuilds only what changed).
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/lambdesk-runtimes"
# Stable paths inside the binaries, wherever the repo is cloned.
export RUSTFLAGS="--remap-path-prefix=$HOME/.cargo/registry/src=/cargo --remap-path-prefix=$PWD=/runtimes"
export CARGO_TARGET_DIR="$target_dir"
# RustPython embeds its standard library's folder (unused: the library is
# frozen into the module); a fixed one, not this machine's registry path.
export win_lib_path=/var/lang/lib/python3.14
status=0
mkdir -p dist

# The stamp of the Python module's inputs (paths relative to runtimes/).
python_inputs() {
  {
    find python guest vendor -type f -not -path '*/target/*' | LC_ALL=C sort | xargs sha256sum
    sha256sum Cargo.toml Cargo.lock build.sh
    rustc -V
  } | sha256sum | cut -d' ' -f1
}

# One package at a time, so each runtime's dependencies get only the features
# it asks for (a workspace build would unify them, changing the other module).
for pair in "lambdesk-js:lambdesk_js:javascript" "lambdesk-python:lambdesk_python:python"; do
  package="${pair%%:*}"
  rest="${pair#*:}"
  built="$target_dir/wasm32-wasip1/release/${rest%%:*}.wasm"
  name="${rest##*:}"
  cargo build --quiet --release --locked --target wasm32-wasip1 -p "$package"
  if [[ "${1:-}" == "--check" ]]; then
    if [[ "$name" == python ]]; then
      want="inputs $(python_inputs) module $(sha256sum dist/python.wasm | cut -d' ' -f1)"
      current=$([[ -f dist/python.stamp ]] && cat dist/python.stamp || true)
      if [[ "$current" != "$want" ]]; then
        echo "runtimes/dist/$name.wasm is out of date: run runtimes/build.sh" >&2
        status=1
      fi
    elif ! cmp -s "$built" "dist/$name.wasm"; then
      echo "runtimes/dist/$name.wasm is out of date: run runtimes/build.sh" >&2
      status=1
    fi
  else
    cp "$built" "dist/$name.wasm"
    if [[ "$name" == python ]]; then
      echo "inputs $(python_inputs) module $(sha256sum dist/python.wasm | cut -d' ' -f1)" > dist/python.stamp
    fi
  fi
done
[[ "${1:-}" == "--check" && $status == 0 ]] && echo "runtimes are current"
exit $status
