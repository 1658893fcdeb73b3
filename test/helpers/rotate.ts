/**
 * Identity rotation helpers: replacing TLS files the way cert-manager does (write, then rename
 * over) and the way kubelet does (a `..data` symlink swapped to a new timestamped directory), the
 * serial a fresh TLS client sees, and a bounded wait.
 */
import { X509Certificate } from 'node:crypto'
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { setTimeout as sleep } from 'node:timers/promises'
import type { TlsMaterial } from '../../transports/contract.js'

let counter = 0

/** Writes `text` next to `file` and renames it over `file` (one atomic change). */
export async function replaceFile (file: string, text: string): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}-${++counter}`
  await writeFile(temporary, text, { mode: 0o600 })
  await rename(temporary, file)
}

/** The files of a kubelet-style projected volume: `<dir>/<name>` → `..data/<name>`. */
export interface DataDirFiles {
  ca: string
  cert: string
  key: string
}

/**
 * Publishes `tls` into `dir` as kubelet updates a Secret volume: a new `..<stamp>` directory, a
 * `..data_tmp` symlink to it renamed over `..data`; the visible files are symlinks through
 * `..data` (made on the first call). Returns the visible paths.
 */
export async function publishDataDir (dir: string, tls: TlsMaterial): Promise<DataDirFiles> {
  const stamp = `..${Date.now()}_${++counter}`
  await mkdir(join(dir, stamp), { recursive: true })
  await writeFile(join(dir, stamp, 'ca.crt'), tls.ca)
  await writeFile(join(dir, stamp, 'tls.crt'), tls.cert)
  await writeFile(join(dir, stamp, 'tls.key'), tls.key, { mode: 0o600 })
  await symlink(stamp, join(dir, '..data_tmp'))
  await rename(join(dir, '..data_tmp'), join(dir, '..data'))
  for (const name of ['ca.crt', 'tls.crt', 'tls.key']) {
    await symlink(join('..data', name), join(dir, name)).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err })
  }
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') }
}

/** Upper-case hex serial of a PEM certificate (the first of a chain), as node:tls reports it. */
export function serialOf (pem: string): string {
  return new X509Certificate(pem).serialNumber
}

/**
 * Opens a fresh TLS 1.3 connection (ALPN h2) to 127.0.0.1:`port` trusting only `ca`, presenting
 * `client`, and resolves with the serial of the certificate the server presented; rejects when
 * the handshake fails (5 s bound).
 */
export async function presentedSerial (port: number, ca: string, client?: TlsMaterial): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca,
      cert: client?.cert,
      key: client?.key,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
      // The mesh checks the SPIFFE ID, not a host name; this client only reads the serial.
      checkServerIdentity: () => undefined,
    })
    const timer = setTimeout(() => socket.destroy(new Error('TLS handshake took longer than 5 s')), 5000)
    socket.once('secureConnect', () => {
      clearTimeout(timer)
      const serial = socket.getPeerCertificate().serialNumber
      socket.destroy()
      resolve(serial)
    })
    socket.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

/** Polls `probe` every 25 ms until it returns true; throws naming `what` after `timeoutMs`. */
export async function waitFor (probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(25)
  }
}
