/**
 * The data-plane switch: which h2 engine carries peer sessions in this process — the native
 * engine (transports/h2-native: libnghttp2 + GnuTLS in an addon) or node:http2 (transports/h2) —
 * decided once at start from the config's `dataPlane` and whether the engine addon loads.
 */
import type { DataPlaneSetting, MeshConfig } from './config/types.js'
import { MeshError } from '../core/errors.js'
import type { H2NativeAvailability } from '../transports/h2-native/index.js'

/** The engine a running proxy uses for h2 peer sessions. */
export type DataPlane = 'native' | 'js'

/** What `dataPlane` resolved to, and why; served by the admin `/config` endpoint. */
export interface DataPlaneSelection {
  /** The config's value. */
  readonly configured: DataPlaneSetting
  /** What this process runs. */
  readonly effective: DataPlane
  /** Why: the engine's versions when native runs, the availability check's reason when `auto` falls back. */
  readonly reason: string
  /** How to get the native engine, when `auto` fell back to js because it does not load. */
  readonly installHint?: string
}

/** The first line of a possibly multi-line reason (a loader lists every path it tried). */
function firstLine (text: string): string {
  return text.split('\n')[0] ?? ''
}

/**
 * Resolves `config.dataPlane`: `js` always runs js (and needs no `availability`); `native` runs
 * native or throws E_TRANSPORT_UNAVAILABLE naming the file, the key, the reason and the install
 * hint; `auto` runs native when the engine loads, else js with the availability check's reason.
 */
export function selectDataPlane (config: Pick<MeshConfig, 'file' | 'dataPlane'>, availability: H2NativeAvailability | undefined): DataPlaneSelection {
  const configured = config.dataPlane
  if (configured === 'js') return { configured, effective: 'js', reason: 'chosen in the config' }
  if (availability === undefined) throw new MeshError('E_INTERNAL', `dataPlane: ${configured} needs the native engine's availability`)
  if (availability.available) {
    const { nghttp2, gnutls } = availability.versions
    return { configured, effective: 'native', reason: `the native engine loads (nghttp2 ${nghttp2}, GnuTLS ${gnutls})` }
  }
  if (configured === 'native') {
    const more = availability.reason.includes('\n') ? `\n${availability.reason}` : ''
    throw new MeshError('E_TRANSPORT_UNAVAILABLE',
      `${config.file}: dataPlane: native asks for the native h2 engine, but it is not available (${firstLine(availability.reason)}): ${availability.installHint}${more}`)
  }
  return { configured, effective: 'js', reason: availability.reason, installHint: availability.installHint }
}

/** One line for people: `data plane: js (dataPlane auto; native engine not available: …; to get it: …)`. */
export function describeDataPlane (selection: DataPlaneSelection): string {
  const why = selection.effective === 'js' && selection.configured === 'auto'
    ? `native engine not available: ${firstLine(selection.reason)}${selection.installHint === undefined ? '' : `; to get it: ${selection.installHint}`}`
    : selection.reason
  return `data plane: ${selection.effective} (dataPlane ${selection.configured}; ${why})`
}
