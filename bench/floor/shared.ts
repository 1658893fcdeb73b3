/**
 * What both halves of the node floor share: their command-line options, the TLS 1.3 + h2 settings
 * (the same windows and limits meshgate's h2 transport uses by default, so that only the code in
 * between differs) and hop-by-hop stripping (RFC 9113 §8.2.2), the one header rule a correct
 * forwarder cannot skip.
 */
import { readFileSync } from 'node:fs'
import type { IncomingHttpHeaders, OutgoingHttpHeaders, Settings } from 'node:http2'

/** Marks a request that was HTTP/1.1 at the app, so that the inbound half restores HTTP/1. */
export const ORIG_PROTO_HEADER = 'floor-orig-proto'

/** The h2 SETTINGS both halves send: meshgate's defaults (transports/h2/options.ts). */
export const SETTINGS: Settings = {
  enablePush: false,
  initialWindowSize: 4 * 1024 * 1024, // 4 MiB
  maxConcurrentStreams: 1000,
  maxHeaderListSize: 64 * 1024, // 64 KiB
}
/** Connection-level receive window, raised with WINDOW_UPDATE once the session is up: 16 MiB. */
export const CONNECTION_WINDOW = 16 * 1024 * 1024
/** node:http2's per-session memory cap, MB (its default 10 is too tight for 16 MiB windows). */
export const MAX_SESSION_MEMORY = 64

export interface TlsFiles { ca: string, cert: string, key: string }

/** PEM text of the three files. */
export function readTls (files: TlsFiles): TlsFiles {
  return { ca: readFileSync(files.ca, 'utf8'), cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') }
}

/** The process's options: one JSON argument. */
export function optionsFromArgv<T> (): T {
  const arg = process.argv[2]
  if (arg === undefined) throw new Error(`usage: node ${process.argv[1] ?? 'floor'} '<options as JSON>'`)
  return JSON.parse(arg) as T
}

/** Fields HTTP/2 forbids and HTTP/1 keeps per hop; `host` becomes `:authority`. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te', 'http2-settings'])

/**
 * `headers` without hop-by-hop fields and, unless `keepPseudo`, pseudo-headers; `te: trailers`
 * survives. Fields named by `connection` are not looked at: none of the bench's clients sends one.
 */
export function endToEnd (headers: IncomingHttpHeaders, keepPseudo: boolean, into: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  for (const name in headers) {
    if (HOP_BY_HOP.has(name)) {
      if (name === 'te' && headers.te === 'trailers') into.te = 'trailers'
      continue
    }
    if (!keepPseudo && name.charCodeAt(0) === 58 /* ':' */) continue
    into[name] = headers[name]
  }
  return into
}

// Exit through process.exit on SIGTERM (the bench's stop), so that --cpu-prof can write its profile.
process.once('SIGTERM', () => process.exit(0))
