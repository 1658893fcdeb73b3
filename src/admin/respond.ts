/** Small helpers the admin handlers answer with. */
import type { IncomingMessage, ServerResponse } from 'node:http'

export const TEXT = 'text/plain; charset=utf-8'
export const JSON_TYPE = 'application/json; charset=utf-8'

export function send (res: ServerResponse, status: number, body: string, type = TEXT, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers })
  res.end(body)
}

export function sendJson (res: ServerResponse, status: number, value: unknown): void {
  send(res, status, `${JSON.stringify(value, null, 2)}\n`, JSON_TYPE)
}

/** Reads a small request body as text; rejects past `maxBytes` (default 4 KiB). */
export async function readBody (req: IncomingMessage, maxBytes = 4096): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const buf = chunk as Buffer
    size += buf.length
    if (size > maxBytes) throw new RangeError(`body larger than ${maxBytes} bytes`)
    chunks.push(buf)
  }
  return Buffer.concat(chunks).toString('utf8')
}
