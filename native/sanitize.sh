#!/usr/bin/env bash
# The native addons (the h2 engine and the QUIC addon) under AddressSanitizer,
# UndefinedBehaviorSanitizer and LeakSanitizer: builds a second copy of each with
# MESHGATE_SANITIZE=1 in a scratch tree (the regular builds are left alone), then runs the
# engine's tests, the tunnel pair tests (h2 and h3, both data planes) and the refused-stream pair
# test on them with the sanitizer runtimes preloaded into the (uninstrumented) node binary. Any
# ASan/UBSan report aborts the test process; a leak whose allocation LSan does not suppress
# (native/lsan.supp) fails the run.
#
#   native/sanitize.sh                       # build in a temp dir, run, remove the dir
#   MESHGATE_SANITIZE_DIR=/tmp/san native/sanitize.sh   # keep the tree: later runs rebuild incrementally
#   native/sanitize.sh dist/test/native/engine-fuzz.test.js   # only these test files
#   MESHGATE_ASAN_OPTIONS=fast_unwind_on_malloc=0 native/sanitize.sh   # whole allocation stacks
#                          (through GnuTLS, built without frame pointers); about 10x slower
#
# Needs g++ (libasan, libubsan), the engine's build dependencies, and compiled tests (npm run build).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$(date +%s)

if [ -n "${MESHGATE_SANITIZE_DIR:-}" ]; then
  work=$MESHGATE_SANITIZE_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/meshgate-sanitize.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi

# The engine's gyp file reaches ../src/ (peer-cert, socket-splice, shared with the QUIC addon):
# keep that layout. cp -p keeps mtimes, so a kept tree only recompiles what changed.
mkdir -p "$work/engine/src" "$work/src"
cp -p native/engine/binding.gyp "$work/engine/"
cp -p native/engine/src/* "$work/engine/src/"
cp -p native/binding.gyp "$work/"
cp -p native/src/* "$work/src/"

gyp=(node "$root/node_modules/node-gyp/bin/node-gyp.js")
nodedirArgs=()
prefix=$(dirname "$(dirname "$(command -v node)")")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/node_api.h" ]; then
  nodedirArgs+=("--nodedir=$prefix")
fi
export MESHGATE_SANITIZE=1
export CXXFLAGS="${CXXFLAGS:-} -g"  # file:line in reports
export NODE_PATH="$root/node_modules"  # binding.gyp's require('node-addon-api') runs in $work
for dir in "$work/engine" "$work"; do
  echo "sanitize: building $dir with ASan + UBSan"
  if [ ! -f "$dir/build/Makefile" ]; then
    "${gyp[@]}" configure "--directory=$dir" "${nodedirArgs[@]}" >"$dir/build.log" 2>&1 || { cat "$dir/build.log"; exit 1; }
  fi
  "${gyp[@]}" build "--directory=$dir" "${nodedirArgs[@]}" >>"$dir/build.log" 2>&1 || { cat "$dir/build.log"; exit 1; }
done
addon="$work/engine/build/Release/meshgate_engine.node"
quicAddon="$work/build/Release/meshgate_quic.node"
built=$(date +%s)

if [ "$#" -gt 0 ]; then
  tests=("$@")
else
  [ -f dist/test/transports/h2-native.test.js ] || npx tsc -p tsconfig.json
  # The engine's own tests, the QUIC addon's tunnel tests, then the pair tests of TCP and WebSocket
  # tunnels (h2 and h3, both data planes: the splices of both addons), and the credential swap of
  # identity rotation (both addons' refcounted credentials, sessions outliving a swap).
  tests=(dist/test/native/engine-*.test.js dist/test/native/tunnel.test.js dist/test/transports/h2-native.test.js dist/test/pair/tcp.test.js dist/test/pair/websocket.test.js dist/test/transports/rotation.test.js dist/test/pair/identity-rotation.test.js dist/test/pair/refused-stream.test.js)
fi

asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
for lib in "$asan" "$ubsan"; do
  [ -f "$lib" ] || { echo "sanitize: $lib not found (apt-get install -y g++)"; exit 1; }
done
logs="$work/logs"

# node is not instrumented: the runtimes are preloaded, ASan's first. Reports go to one file per
# process (log_path), so the node:test child processes' findings are not lost in TAP output.
run_tests() {
  rm -rf "$logs"
  mkdir -p "$logs"
  echo "sanitize: running ${tests[*]}"
  status=0
  MESHGATE_ENGINE_ADDON="$addon" \
  MESHGATE_QUIC_ADDON="$quicAddon" \
  LD_PRELOAD="$asan:$ubsan" \
  ASAN_OPTIONS="${MESHGATE_ASAN_OPTIONS:+$MESHGATE_ASAN_OPTIONS:}detect_leaks=1:abort_on_error=1:halt_on_error=1:log_path=$logs/asan" \
  LSAN_OPTIONS="suppressions=$root/native/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$logs/ubsan" \
    node --test --test-concurrency=1 "${tests[@]}" || status=$?
  reports=$(find "$logs" -type f | sort)
}

# True when every report is LeakSanitizer's own tracer failing while it stops the process's
# threads at exit ("Tracer caught signal", "LeakSanitizer has encountered a fatal error"): a
# crash of the tool, seen now and then on this kernel, with no finding in it.
only_tracer_crashes() {
  [ -n "$reports" ] || return 1
  for f in $reports; do
    grep -q 'LeakSanitizer has encountered a fatal error' "$f" || return 1
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer: detected)|runtime error|SUMMARY:' "$f"; then return 1; fi
  done
}

run_tests
if [ "$status" -ne 0 ] && only_tracer_crashes; then
  for f in $reports; do echo "---- $f"; cat "$f"; done
  echo "sanitize: LeakSanitizer's tracer crashed (no finding above); running the tests once more"
  run_tests
fi

if [ -n "$reports" ]; then
  for f in $reports; do
    echo "---- $f"
    cat "$f"
  done
  echo "sanitize: FAILED: sanitizer reports above"
  status=1
fi
finished=$(date +%s)
echo "sanitize: build $((built - started)) s, tests $((finished - built)) s, exit $status"
exit "$status"
