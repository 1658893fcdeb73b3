/**
 * The flags `node` runs meshgate with, wherever it is launched: package.json's `start` script and
 * the `bin` shebang (src/cli.ts), the Dockerfile's ENTRYPOINT, the sidecar `meshgate inject` adds,
 * and bench/. These are V8 heap settings, read once when the heap is made, so startup-v8.ts
 * (which runs after) cannot set them; test/cli/node-flags.test.ts keeps the launchers in step.
 *
 * `--max-semi-space-size=4` caps the young generation at two 4 MB semi-spaces. Under load V8
 * otherwise grows them to 16 MB each, and that memory stays committed after the load: the
 * outbound of the bench's pair went from 64 to 95 MB RSS under h2c (`h2load -c8 -m16`, 5 s) and
 * stayed there, 76 MB with the cap, at the same req/s and CPU per request (the native data path
 * allocates ~3 KB of JS heap per request, and almost none of it lives past the next scavenge).
 * 2 MB semi-spaces cost ~15 % of h2c throughput. The JS data plane, which allocates ~10× more
 * per request, pays for the cap: ~4 % of HTTP/1 req/s and a p99 at 1,000 req/s of 13–19 ms
 * instead of 8–14 ms (two runs each), for 93–98 MB of RSS after load instead of 113–118 MB.
 *
 * `--v8-pool-size=1` gives V8 one worker thread for background compilation and GC work instead
 * of Node's four. Each worker that compiles keeps its own malloc arena and zone memory, and the
 * JS here only decides, so one is enough: in the bench (two runs each, issue 11's scenarios,
 * alternating) the peak RSS under load went from 84.2 to 82.8–83.2 MB (outbound, h2c) and from
 * 80.0–80.8 to 78.1–78.3 MB (inbound, TCP -P4), with HTTP/1 at 0.84–0.92× the HAProxy pair
 * against 0.73–0.76×, h2c 0.92–1.02× against 0.95–0.98×, and TCP alike (bench/README.md).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--v8-pool-size=1']
