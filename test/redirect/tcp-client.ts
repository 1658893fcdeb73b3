// A plain TCP client for the test pods: connects to HOST PORT, sends a line, half-closes, prints
// what came back. Exits 1 on an error or after 10 s.
import net from 'node:net'

const [host = '', port = '0', line = 'hi'] = process.argv.slice(2)
const socket = net.connect({ host, port: Number(port), allowHalfOpen: true }, () => socket.end(`${line}\n`))
const chunks: Buffer[] = []
socket.on('data', (c: Buffer) => chunks.push(c))
socket.on('end', () => { process.stdout.write(Buffer.concat(chunks).toString()); process.exit(0) })
socket.on('error', (err) => { process.stderr.write(`${err.message}\n`); process.exit(1) })
setTimeout(() => { process.stderr.write('timeout\n'); process.exit(1) }, 10_000).unref()
