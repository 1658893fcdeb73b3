/**
 * A small server speaking namerd's HTTP resolve interface for tests: `GET /api/1/resolve/<ns>?path=P`
 * answers the current answer for (ns, P) as one JSON object; with `&watch=true` it keeps the
 * response open and writes each new answer as one more object (chunked). Not namerd itself: no
 * dtabs or namers, only what the test sets.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export type NamerdAnswer =
  | { type: 'bound', addrs: Array<{ ip: string, port: number, meta?: Record<string, string> }>, meta?: Record<string, string> }
  | { type: 'neg' } | { type: 'failed' }

export class FakeNamerd {
  readonly #answers = new Map<string, NamerdAnswer>()
  readonly #watchers = new Map<string, Set<http.ServerResponse>>()
  readonly #server: http.Server
  /** Requests seen: `<ns> <path> watch|once`. */
  readonly requests: string[] = []

  constructor () {
    this.#server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://namerd')
      const m = /^\/api\/1\/resolve\/([^/]+)$/.exec(url.pathname)
      const path = url.searchParams.get('path')
      if (m === null || path === null) { res.writeHead(404).end('no such route'); return }
      const key = `${decodeURIComponent(m[1])} ${path}`
      const watch = url.searchParams.get('watch') === 'true'
      this.requests.push(`${key} ${watch ? 'watch' : 'once'}`)
      const answer = this.#answers.get(key) ?? { type: 'neg' }
      res.writeHead(200, { 'content-type': 'application/json' })
      if (!watch) { res.end(JSON.stringify(answer)); return }
      res.write(JSON.stringify(answer))
      let set = this.#watchers.get(key)
      if (set === undefined) this.#watchers.set(key, set = new Set())
      set.add(res)
      res.on('close', () => set.delete(res))
    })
  }

  async listen (): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  /** Sets the answer for (namespace, path) and sends it to every open watch of it. */
  set (namespace: string, path: string, answer: NamerdAnswer): void {
    const key = `${namespace} ${path}`
    this.#answers.set(key, answer)
    for (const res of this.#watchers.get(key) ?? []) if (!res.writableEnded) res.write(JSON.stringify(answer) + '\n')
  }

  /** Ends every open watch (the client must come back). */
  dropWatches (): void {
    for (const set of this.#watchers.values()) {
      for (const res of set) res.end()
      set.clear()
    }
  }

  async close (): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise((resolve) => this.#server.close(resolve))
  }
}
