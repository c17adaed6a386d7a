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
samples=(hello sum s3-object-info counter behave wasi-check http-request)
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
# With --check, compares a built module with dist/; else copies it there.
check_or_copy() {
  local built=$1 name=$2
  if [[ "$mode" == "--check" ]]; then
    if ! cmp -s "$built" "dist/$name.wasm"; then
      echo "dist/$name.wasm is out of date: run sample-functions/build.sh" >&2
      status=1
    fi
  else
    cp "$built" "dist/$name.wasm"
  fi
}
mode="${1:-}"
for s in "${samples[@]}"; do
  built="$target_dir/wasm32-wasip1/release/$s.wasm"
  # A library (cdylib) named with hyphens is built with underscores.
  [[ -f "$built" ]] || built="$target_dir/wasm32-wasip1/release/${s//-/_}.wasm"
  check_or_copy "$built" "$s"
done
# The C conformance program: clang and wasi-libc from Debian
# (apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32).
if command -v clang-14 >/dev/null && [[ -f /usr/lib/wasm32-wasi/crt1-command.o ]]; then
  built="$target_dir/wasi-check-c.wasm"
  clang-14 --target=wasm32-wasi --sysroot=/usr -isystem /usr/include/wasm32-wasi \
    -L/usr/lib/wasm32-wasi -fuse-ld=/usr/bin/wasm-ld-14 -O2 -Wall -Werror \
    -ffile-prefix-map="$PWD"=/sample-functions -Wl,--strip-debug \
    -o "$built" wasi-check-c/check.c
  check_or_copy "$built" wasi-check-c
else
  echo "note: clang-14 and wasi-libc are not installed; dist/wasi-check-c.wasm was not rebuilt" >&2
fi
# The AssemblyScript conformance program: the compiler from the npm registry,
# pinned in wasi-check-as/package-lock.json. `--check` (run by the tests)
# rebuilds it only where the compiler is installed already, so the tests need
# no download.
if command -v npm >/dev/null && { [[ "${1:-}" != "--check" ]] || [[ -d wasi-check-as/node_modules ]]; }; then
  built="$(cd "$target_dir" && pwd)/wasi-check-as.wasm"
  (cd wasi-check-as && npm ci --silent --no-audit --no-fund && npm run --silent build -- "$built")
  check_or_copy "$built" wasi-check-as
else
  echo "note: the AssemblyScript compiler is not installed (npm ci in wasi-check-as); dist/wasi-check-as.wasm was not checked" >&2
fi
[[ "${1:-}" == "--check" && $status == 0 ]] && echo "sample functions are current"
exit $status
