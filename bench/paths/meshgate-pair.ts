/**
 * The meshgate pair: two `meshgate run` processes (outbound-only, inbound-only) with a peer
 * session between them, built from this checkout's dist/. Two paths of the matrix differ only in
 * the configs' `dataPlane`: `meshgate-native` (the native h2 engine, native/engine/) and
 * `meshgate-js` (node:http2). `meshgatePair()` makes variants of the path (another transport,
 * extra CLI arguments such as a metrics switch) for later scenarios.
 */
import { access, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { TrafficPorts } from '../haproxy.js'
import { NODE_FLAGS } from '../../src/node-flags.js'
import { inboundConfig, MESHGATE_CLI, outboundConfig } from '../meshgate.js'
import { freePorts } from '../ports.js'
import { BenchProcess, type StartOptions } from '../processes.js'
import type { BenchContext, PathDefinition } from './types.js'

/** The config's `dataPlane` values (src/config/types.ts `DataPlaneSetting`). */
export type BenchDataPlane = 'native' | 'js' | 'auto'

export interface MeshgatePairOptions {
  id: string
  title: string
  /** Transport between the pair (default `h2`). */
  transport?: 'h2' | 'h3'
  /**
   * `dataPlane:` in both configs (default: no key, so meshgate's default `auto`). With `native`
   * the path is not available, with the engine's reason, when the addon does not load here; with
   * `native` or `js` the path checks each process's `/config` for the data plane it runs.
   */
  dataPlane?: BenchDataPlane
  /** Extra `meshgate run` arguments for both processes. */
  extraArgs?: string[]
  /** Extra top-level YAML keys for both processes' configs (e.g. `metrics: { enabled: false }`). */
  extraConfig?: Record<string, unknown>
  /** `plugins:` of the outbound side's HTTP listeners (issue 15). */
  outboundPlugins?: Array<Record<string, unknown>>
  /** `routes:` of the outbound side's HTTP services, given the service's name (issue 13). */
  outboundRoutes?: (service: string) => Array<Record<string, unknown>>
}

/** Admin `/config`'s `dataPlane`: what the config said, what runs and why (src/data-plane.ts). */
interface DataPlaneSelection {
  configured?: string
  effective?: string
  reason?: string
}

/** Why the native h2 engine cannot run here, on one line, or undefined when its addon loads. */
export async function nativeEngineUnavailable (): Promise<string | undefined> {
  // Loaded only when a native path starts; this is the check meshgate itself makes at start.
  const { h2NativeAvailability } = await import('../../transports/h2-native/index.js')
  const availability = h2NativeAvailability()
  if (availability.available) return undefined
  const reason = availability.reason.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ')
  return `the native h2 engine addon does not load here (${reason})`
}

/** The versions of the native engine, e.g. `nghttp2 1.52.0, GnuTLS 3.7.9`, or undefined. */
async function nativeEngineVersions (): Promise<string | undefined> {
  const { h2NativeAvailability } = await import('../../transports/h2-native/index.js')
  const availability = h2NativeAvailability()
  return availability.available ? `nghttp2 ${availability.versions.nghttp2}, GnuTLS ${availability.versions.gnutls}` : undefined
}

/** The data plane a started meshgate process reports on its admin `/config`, retried for a few seconds. */
async function readDataPlane (adminPort: number, timeoutMs = 5_000): Promise<DataPlaneSelection> {
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://127.0.0.1:${adminPort}/config`, { signal: AbortSignal.timeout(2_000) })
      if (response.ok) {
        const body = await response.json() as { dataPlane?: DataPlaneSelection | string }
        if (typeof body.dataPlane === 'object' && body.dataPlane !== null) return body.dataPlane
        last = `/config has no dataPlane selection (${JSON.stringify(body.dataPlane)})`
      } else {
        last = `/config answered ${response.status}`
      }
    } catch (err) {
      last = (err as Error).message
    }
    await sleep(100)
  }
  throw new Error(`cannot read the data plane from 127.0.0.1:${adminPort}/config: ${last}`)
}

/** The ports and config files of one meshgate pair, written by `writePairConfigs`. */
export interface PairConfigs {
  entry: TrafficPorts
  peerPort: number
  inboundAdmin: number
  outboundAdmin: number
  inboundFile: string
  outboundFile: string
}

/** Picks free ports and writes both configs of the pair `options` describes into the work directory. */
export async function writePairConfigs (context: BenchContext, options: MeshgatePairOptions): Promise<PairConfigs> {
  const [http1, h2c, tcp, peerPort, outboundAdmin, inboundAdmin] = await freePorts(6) as [number, number, number, number, number, number]
  const entry: TrafficPorts = { http1, h2c, tcp }
  const extra = { ...(options.dataPlane === undefined ? {} : { dataPlane: options.dataPlane }), ...options.extraConfig }
  const inboundFile = join(context.workDir, `${options.id}-inbound.yaml`)
  const outboundFile = join(context.workDir, `${options.id}-outbound.yaml`)
  await writeFile(inboundFile, inboundConfig({ certs: context.certs, peerPort, upstream: context.upstream, adminPort: inboundAdmin, extra }))
  await writeFile(outboundFile, outboundConfig({
    certs: context.certs, listen: entry, peerPort, upstream: context.upstream, adminPort: outboundAdmin, transport: options.transport, extra, plugins: options.outboundPlugins, routes: options.outboundRoutes,
  }))
  return { entry, peerPort, inboundAdmin, outboundAdmin, inboundFile, outboundFile }
}

/** How one side of the pair is started (`meshgate run <file>`); `readyPorts` must listen before it counts as started. */
export function pairSideStart (context: BenchContext, options: MeshgatePairOptions, role: 'inbound' | 'outbound', file: string, readyPorts: number[], adminPort: number): StartOptions {
  return {
    // Unique across variants, since the memory table lists processes of every path.
    name: `${options.id}-${role}`,
    command: process.execPath,
    args: [...NODE_FLAGS, join(context.repoDir, MESHGATE_CLI), 'run', file, ...(options.extraArgs ?? [])],
    cwd: context.repoDir,
    env: { ...process.env, NODE_ENV: 'production' },
    logFile: join(context.workDir, `${options.id}-${role}.log`),
    readyPorts,
    metricsUrl: `http://127.0.0.1:${adminPort}/metrics`,
  }
}

/** Fails the start of a path that needs `dataPlane: native` when the addon does not load here, or dist/ is not built. */
export async function checkPairCanStart (context: BenchContext, options: MeshgatePairOptions): Promise<void> {
  await access(join(context.repoDir, MESHGATE_CLI)).catch(() => { throw new Error(`${MESHGATE_CLI} not found (run \`npx tsc -p tsconfig.json\`)`) })
  if (options.dataPlane === 'native') {
    const unavailable = await nativeEngineUnavailable()
    if (unavailable !== undefined) throw new Error(`skipped, ${unavailable}`)
  }
}

/**
 * What the started processes run, as the path's description; for a pinned `dataPlane` it fails
 * when a process reports another one on its admin `/config`.
 */
export async function describePair (options: MeshgatePairOptions, adminPorts: readonly number[]): Promise<string> {
  // Pinned data planes are checked; for `auto` the selection is only reported, if it can be read.
  const pinned = options.dataPlane === 'native' || options.dataPlane === 'js'
  const selections = await Promise.all(adminPorts.map(async (port) =>
    await readDataPlane(port).catch((err: unknown) => { if (pinned) throw err; return {} as DataPlaneSelection })))
  const effective = [...new Set(selections.map((s) => s.effective ?? 'unknown'))]
  if (pinned) {
    const wrong = selections.find((s) => s.effective !== options.dataPlane)
    if (wrong !== undefined) throw new Error(`dataPlane: ${options.dataPlane} in the configs, but a process runs ${wrong.effective ?? 'unknown'} (${wrong.reason ?? 'no reason given'})`)
  }
  const versions = effective.includes('native') ? await nativeEngineVersions() : undefined
  return `${options.transport === 'h3' ? 'transport h3; ' : ''}h2 data plane ${effective.join(' / ')} (dataPlane: ${options.dataPlane ?? 'auto'} in both configs${versions === undefined ? '' : `; ${versions}`})`
}

export function meshgatePair (options: MeshgatePairOptions): PathDefinition {
  return {
    id: options.id,
    title: options.title,
    start: async (context) => {
      await checkPairCanStart(context, options)
      const configs = await writePairConfigs(context, options)
      const { entry, peerPort, inboundAdmin, outboundAdmin } = configs
      const processes: BenchProcess[] = []
      const stop = async (): Promise<void> => { await Promise.all(processes.map(async (p) => await p.stop(5_000))) }
      let description: string | undefined
      try {
        // The admin server starts last (src/proxy.ts), so it listening means the rest does.
        processes.push(await BenchProcess.start(pairSideStart(context, options, 'inbound', configs.inboundFile, [peerPort, inboundAdmin], inboundAdmin)))
        processes.push(await BenchProcess.start(pairSideStart(context, options, 'outbound', configs.outboundFile, [entry.http1, entry.h2c, entry.tcp, outboundAdmin], outboundAdmin)))
        description = await describePair(options, [inboundAdmin, outboundAdmin])
      } catch (err) {
        await stop()
        throw err
      }
      return { entry, processes, stop, description }
    },
  }
}

/** The pair on the native h2 engine (nghttp2 + GnuTLS in native/engine/): `dataPlane: native`. */
export const MESHGATE_NATIVE: MeshgatePairOptions = { id: 'meshgate-native', title: 'meshgate native', dataPlane: 'native' }
export const meshgateNativePath: PathDefinition = meshgatePair(MESHGATE_NATIVE)

/** The pair over h3 on the native data plane: the QUIC addon splices tunnels to their sockets. */
export const meshgateNativeH3Path: PathDefinition = meshgatePair({ id: 'meshgate-native-h3', title: 'meshgate native h3', transport: 'h3', dataPlane: 'native' })

/** The pair on node:http2 (transports/h2): `dataPlane: js`, the data path of issues 2–5's reports. */
export const MESHGATE_JS: MeshgatePairOptions = { id: 'meshgate-js', title: 'meshgate js', dataPlane: 'js' }
export const meshgateJsPath: PathDefinition = meshgatePair(MESHGATE_JS)
