/**
 * The vocabulary of the interop runner: test-case names (after the public QUIC interop runner),
 * directions, one result per cell, and the shape of a peer definition (interop/peers/*.ts).
 */

/** Test cases, in matrix order (names and meanings of the public QUIC interop runner). */
export const CASES = [
  'handshake',
  'transfer',
  'multiplexing',
  'http3',
  'chacha20',
  'keyupdate',
  'retry',
  'resumption',
  'zerortt',
  'connectionmigration',
] as const

export type CaseName = typeof CASES[number]

/** One line per case for --help and the reports. */
export const CASE_MEANING: Readonly<Record<CaseName, string>> = {
  handshake: 'one handshake, one small file',
  transfer: 'several files of different sizes on one connection, sha256 compared',
  multiplexing: 'many small files on concurrent streams of one connection',
  http3: 'plain HTTP/3 GETs (ALPN h3)',
  chacha20: 'one side offers or accepts only TLS_CHACHA20_POLY1305_SHA256',
  keyupdate: 'the client updates the 1-RTT keys during a transfer (RFC 9001 §6)',
  retry: 'the server sends a Retry before accepting (RFC 9000 §8.1.2)',
  resumption: 'a second connection resumes the TLS session of the first',
  zerortt: 'a resumed connection sends its request in 0-RTT',
  connectionmigration: 'the client moves to a new local address mid-transfer (RFC 9000 §9)',
}

/**
 * Which side meshgate plays: `server` = the peer's client talks to our server; `client` = our
 * client talks to the peer's server.
 */
export const DIRECTIONS = ['server', 'client'] as const
export type Direction = typeof DIRECTIONS[number]

export type Status = 'pass' | 'fail' | 'unsupported'

/** One cell of the matrix. */
export interface CaseResult {
  peer: string
  /** meshgate's role in this cell. */
  direction: Direction
  testCase: CaseName
  status: Status
  /** Why it failed or is unsupported; what it proved when it passed. */
  reason: string
  /** Wall time, ms (0 when not run). */
  durationMs: number
  /** Directory with this cell's logs, relative to the output dir ('' when not run). */
  logs: string
}

/** The certificate files of one run (PEM), all from one throw-away test CA. */
export interface CertFiles {
  ca: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
  /** The server's SPIFFE ID (URI SAN), which our client expects. */
  serverIdentity: string
  /** base64 SHA-256 of the server leaf's SubjectPublicKeyInfo (Chromium's SPKI allow-list). */
  serverSpkiSha256: string
  /** DNS name the server certificate also carries (for peers that check names). */
  serverName: string
}

/** One file the server serves in a case, and what the client must end up with. */
export interface PlannedFile {
  name: string
  size: number
  sha256: string
}

/** Everything one case run needs; handed to peers and to our own side. */
export interface CaseRun {
  testCase: CaseName
  direction: Direction
  host: string
  port: number
  certs: CertFiles
  /** Directory the server serves. */
  www: string
  /** Directory the client saves into. */
  download: string
  /** Directory for this cell's logs and scratch files. */
  dir: string
  files: PlannedFile[]
  /** Aborted when the case's time is up. */
  signal: AbortSignal
  /** Starts a process whose output goes to `<dir>/<label>.log`; killed at the end of the case. */
  spawn: (label: string, launch: Launch) => RunningProcess
}

/** How to start a program. */
export interface Launch {
  command: string
  args: string[]
  env?: Record<string, string>
  cwd?: string
}

export interface RunningProcess {
  readonly pid: number | undefined
  /** Exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>
  /** stdout and stderr so far. */
  output: () => string
}

/** What a client run reports; files it saved under `download` are checked by the runner. */
export interface ClientOutcome {
  /** The client's own verdict (exit status 0, every request answered). */
  ok: boolean
  detail: string
  /** Hashes the client computed itself (Chromium); otherwise the runner hashes the saved files. */
  sha256?: Record<string, string>
  /**
   * Body sizes in bytes, for a client that can neither save nor hash bodies (nghttp 1.52:
   * --remote-name is not implemented); then only sizes are compared, and the result says so.
   */
  sizes?: Record<string, number>
}

/** Output of both sides, for the evidence checks of a case. */
export interface CaseLogs {
  /** Output of the process labelled `server`. */
  server: string
  /** Output of the process labelled `client` (the last client run when there are several). */
  client: string
  /** Every process of the case by its label (`client-1`, `client`, `server`…). */
  byLabel: Record<string, string>
}

/**
 * One interop peer. A peer plays server, client or both; `supports` says which cases it can do
 * in a role (undefined = yes, else the reason). `evidence` reads the logs for proof that the
 * case's feature really happened (a Retry sent, a key update confirmed…).
 */
export interface PeerDefinition {
  readonly name: string
  readonly description: string
  /** The protocol spoken to meshgate. */
  readonly protocol: 'h3' | 'h2'
  /** Debian packages the peer comes from (the "not installed" hint). */
  readonly packages: readonly string[]
  /** False when the peer's client presents no certificate (our server then does not ask). */
  readonly clientCertificate?: boolean
  /** Undefined when the peer can run here; else why not (not installed, build failed…). */
  available: (env: RunEnvironment) => Promise<string | undefined>
  /** The peer's own limits, per role it plays (`server`: the peer is the server). */
  supports: (testCase: CaseName, peerRole: 'server' | 'client') => string | undefined
  server?: (run: CaseRun) => Launch
  client?: (run: CaseRun) => Promise<ClientOutcome>
  /** Undefined when the logs prove the case's feature, else what is missing. */
  evidence?: (run: CaseRun, logs: CaseLogs) => string | undefined
}

/** Where the runner keeps its files. */
export interface RunEnvironment {
  /** The package root (where package.json is). */
  root: string
  /** The output directory of this run. */
  outDir: string
  /** A cache directory kept across runs (built peers). */
  cacheDir: string
}
