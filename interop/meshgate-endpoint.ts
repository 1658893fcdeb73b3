#!/usr/bin/env node
/**
 * meshgate's own side of an interop run, as a program the runner starts like any peer:
 *
 *   meshgate-endpoint.js server --proto h3|h2 --host H --port P --www DIR --ca F --cert F --key F [--no-client-cert] [--debug]
 *   meshgate-endpoint.js client --host H --port P --out DIR --ca F --cert F --key F [--expect-identity ID] PATH…
 *
 * The h3 server and client are the QUIC/HTTP/3 binding in native/ (native/quic.ts); the h2 server
 * is the h2 transport's listener (transports/h2, HTTP/2 over mutual TLS). The server serves the
 * files of --www by path; the client GETs every PATH concurrently on one session and saves each
 * body under --out. One line per event on stdout; exit status 0 only when every request succeeded.
 */
import { createReadStream, createWriteStream, readFileSync, statSync } from 'node:fs'
import { basename, join, normalize } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import type { Readable } from 'node:stream'

interface Common {
  host: string
  port: number
  ca: string
  cert: string
  key: string
}

function say (line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`)
}

/** The file under `www` a request path names, or undefined (outside the root, missing, not a file). */
function fileFor (www: string, path: string): { file: string, size: number } | undefined {
  const clean = normalize(decodeURIComponent(path.split('?')[0] ?? '/')).replace(/^(\.\.[/\\])+/, '')
  const file = join(www, clean === '/' ? 'index.html' : clean)
  if (!file.startsWith(www)) return undefined
  try {
    const st = statSync(file)
    return st.isFile() ? { file, size: st.size } : undefined
  } catch {
    return undefined
  }
}

function contentType (file: string): string {
  if (file.endsWith('.html')) return 'text/html; charset=utf-8'
  if (file.endsWith('.js')) return 'text/javascript'
  return 'application/octet-stream'
}

async function serveH3 (common: Common, www: string, requireClientCert: boolean, debug: boolean): Promise<() => Promise<void>> {
  const { createServer } = await import('../native/quic.js')
  const server = await createServer({
    debug,
    host: common.host,
    port: common.port,
    ca: common.ca,
    cert: common.cert,
    key: common.key,
    requireClientCert,
    onSession: (session) => {
      say(`session alpn=${session.alpn} peer=${session.peerIdentity === '' ? '(no client certificate)' : session.peerIdentity}`)
      session.on('close', (err?: Error) => say(`session closed${err === undefined ? '' : `: ${err.message}`}`))
      session.on('stream', (stream, headers) => {
        stream.on('error', (err: Error) => say(`stream error: ${err.message}`))
        const method = String(headers?.[':method'] ?? '')
        const path = String(headers?.[':path'] ?? '/')
        const found = method === 'GET' || method === 'HEAD' ? fileFor(www, path) : undefined
        say(`request ${method} ${path} -> ${found === undefined ? 404 : 200}`)
        if (found === undefined) {
          stream.respond({ ':status': '404' }, { endStream: true })
          stream.resume()
          return
        }
        stream.resume()
        stream.respond({ ':status': '200', 'content-type': contentType(found.file), 'content-length': String(found.size) }, { endStream: method === 'HEAD' })
        if (method !== 'GET') return
        // "finish": our side handed the whole body and the FIN to the binding (a missing FIN on
        // the wire after this line is the binding's, not ours).
        stream.once('finish', () => say(`response body ended stream=${stream.id} ${path}`))
        createReadStream(found.file).pipe(stream)
      })
    },
  })
  server.on('handshakeError', (err: Error) => say(`handshake failed: ${err.message}`))
  const address = server.address()
  say(`listening h3 ${address.host}:${address.port}`)
  return async () => await server.close()
}

async function serveH2 (common: Common, www: string): Promise<() => Promise<void>> {
  const { h2Transport } = await import('../transports/h2/index.js')
  const { MeshError } = await import('../core/errors.js')
  const logger = {
    debug: () => {},
    info: (obj: object, msg?: string) => say(`info ${msg ?? ''} ${JSON.stringify(obj)}`),
    warn: (obj: object, msg?: string) => say(`warn ${msg ?? ''} ${JSON.stringify(obj)}`),
    error: (obj: object, msg?: string) => say(`error ${msg ?? ''} ${JSON.stringify(obj)}`),
    child: () => logger,
  }
  const transport = h2Transport({ keepAliveMs: 0 })({ logger })
  const listener = await transport.listen({ host: common.host, port: common.port, tls: { ca: common.ca, cert: common.cert, key: common.key } }, {
    request: (exchange) => {
      const { method, path } = exchange.head
      const found = method === 'GET' || method === 'HEAD' ? fileFor(www, path) : undefined
      say(`request ${method} ${path} caller=${exchange.caller} -> ${found === undefined ? 404 : 200}`)
      exchange.body.resume()
      if (found === undefined) {
        exchange.respond({ status: 404, headers: {} }, null)
        return
      }
      const body: Readable | null = method === 'GET' ? createReadStream(found.file) : null
      exchange.respond({ status: 200, headers: { 'content-type': contentType(found.file), 'content-length': String(found.size) } }, body)
    },
    tunnel: (tunnel) => tunnel.reject(new MeshError('E_TARGET_NOT_ALLOWED', 'the interop server has no tunnels')),
  })
  const address = listener.address()
  say(`listening h2 ${address.host}:${address.port}`)
  return async () => await listener.close()
}

async function runClient (common: Common, out: string, paths: string[], expectIdentity: string | undefined): Promise<number> {
  const { connect } = await import('../native/quic.js')
  const started = Date.now()
  const session = await connect({ ...common, expectedIdentity: expectIdentity, handshakeTimeoutMs: 10_000 })
  say(`handshake ok alpn=${session.alpn} peer=${session.peerIdentity} in ${Date.now() - started} ms`)
  const authority = `${common.host.includes(':') ? `[${common.host}]` : common.host}:${common.port}`
  const results = await Promise.allSettled(paths.map(async (path) => {
    const stream = session.request({ ':method': 'GET', ':scheme': 'https', ':authority': authority, ':path': path }, { endStream: true })
    const status = await new Promise<string>((resolve, reject) => {
      stream.once('response', (headers) => resolve(String(headers[':status'])))
      stream.once('error', reject)
    })
    if (status !== '200') {
      stream.resume()
      throw new Error(`${path}: status ${status}`)
    }
    await pipeline(stream, createWriteStream(join(out, basename(path))))
    return path
  }))
  let failed = 0
  for (const [i, result] of results.entries()) {
    if (result.status === 'fulfilled') say(`OK ${result.value}`)
    else {
      failed++
      say(`FAIL ${paths[i] ?? '?'}: ${result.reason instanceof Error ? result.reason.message : String(result.reason)}`)
    }
  }
  const stats = session.stats()
  await Promise.race([session.close(), new Promise(resolve => setTimeout(resolve, 2_000))])
  say(`done ${paths.length - failed}/${paths.length} in ${Date.now() - started} ms` +
    (stats === undefined ? '' : ` rtt=${stats.smoothedRttMs.toFixed(2)}ms packetsSent=${stats.packetsSent} packetsReceived=${stats.packetsReceived}`))
  return failed === 0 ? 0 : 1
}

async function main (argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      proto: { type: 'string', default: 'h3' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      www: { type: 'string' },
      out: { type: 'string' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'no-client-cert': { type: 'boolean', default: false },
      'expect-identity': { type: 'string' },
      debug: { type: 'boolean', default: false },
    },
  })
  const [mode, ...paths] = positionals
  const need = (name: 'port' | 'ca' | 'cert' | 'key' | 'www' | 'out'): string => {
    const value = values[name]
    if (value === undefined) throw new Error(`--${name} is required`)
    return value
  }
  const common: Common = {
    host: values.host,
    port: Number(need('port')),
    ca: readFileSync(need('ca'), 'utf8'),
    cert: readFileSync(need('cert'), 'utf8'),
    key: readFileSync(need('key'), 'utf8'),
  }
  if (mode === 'client') return await runClient(common, need('out'), paths, values['expect-identity'])
  if (mode !== 'server') throw new Error(`mode must be server or client, not ${String(mode)}`)
  const www = normalize(need('www'))
  const close = values.proto === 'h2' ? await serveH2(common, www) : await serveH3(common, www, !values['no-client-cert'], values.debug)
  await new Promise<void>(resolve => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  say('stopping')
  await Promise.race([close(), new Promise(resolve => setTimeout(resolve, 3_000))])
  return 0
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  say(`error: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
