// The "app" of a test pod, run inside its network namespace by two-pods.test.ts: unchanged app
// code that knows nothing of meshgate. HTTP/1 on 8080 and h2c on 8081 answer with what they saw
// (protocol, the meshgate-client-id header, the peer address); TCP 9000 echoes with a prefix;
// TCP 7000 is a plain server no service names (the pass-through case). Prints "ready".
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'

const seen = (proto: string, headers: http.IncomingHttpHeaders, remote: string | undefined): string =>
  JSON.stringify({ proto, clientId: headers['meshgate-client-id'] ?? null, remote: remote ?? null })

const h1 = http.createServer((req, res) => { res.end(seen('http1', req.headers, req.socket.remoteAddress)) })
const h2c = http2.createServer()
h2c.on('stream', (stream, headers) => {
  stream.respond({ ':status': 200 })
  stream.end(seen('h2', headers as http.IncomingHttpHeaders, stream.session?.socket.remoteAddress))
})
const echo = net.createServer({ allowHalfOpen: true }, (s) => {
  s.write('echo:')
  s.pipe(s)
})
const plain = net.createServer((s) => {
  s.once('data', (d) => s.end(`plain:${d.toString().trim()}:from:${s.remoteAddress ?? ''}`))
})
let pending = 4
const up = (): void => { if (--pending === 0) process.stdout.write('ready\n') }
h1.listen(8080, '0.0.0.0', up)
h2c.listen(8081, '0.0.0.0', up)
echo.listen(9000, '0.0.0.0', up)
plain.listen(7000, '0.0.0.0', up)
process.on('SIGTERM', () => process.exit(0))
