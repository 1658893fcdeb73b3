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
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4']
