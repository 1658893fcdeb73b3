// The sandbox around a plugin VM: only the ABI's functions and stubbed WASI are importable (no
// file or network access), and the VM's memory cannot grow past its limit.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { limitMemory } from '../../src/plugins/memory-limit.js'
import { VmInstance } from '../../src/plugins/vm-instance.js'
import { wasiStub } from '../../src/plugins/wasi-stubs.js'

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]

function name (text: string): number[] {
  return [text.length, ...Buffer.from(text, 'utf8')]
}

function section (id: number, body: number[]): number[] {
  return [id, body.length, ...body]
}

/** A module importing one `() -> ()` function. */
function importing (module: string, field: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from([
    ...HEADER,
    ...section(1, [1, 0x60, 0, 0]),
    ...section(2, [1, ...name(module), ...name(field), 0x00, 0]),
  ])
}

/** A module with one exported memory of `min` pages (and a declared maximum, if given). */
function withMemory (min: number, max?: number): Uint8Array<ArrayBuffer> {
  const limits = max === undefined ? [0x00, min] : [0x01, min, max]
  return Uint8Array.from([...HEADER, ...section(5, [1, ...limits]), ...section(7, [1, ...name('memory'), 0x02, 0])])
}

function vmOf (bytes: Uint8Array<ArrayBuffer>): VmInstance {
  return new VmInstance({ type: 'init', module: new WebAssembly.Module(bytes), name: 'x', configuration: new Uint8Array(0), maxPages: 4, logLevel: 2, shared: [], watch: new SharedArrayBuffer(16) }, { tickPeriod: () => {} })
}

test('an import outside the ABI (a socket, a file) refuses the module, naming the import', () => {
  assert.throws(() => { vmOf(importing('env', 'socket_connect')).start() }, /the plugin imports env\.socket_connect \(function\), which meshgate does not provide/)
  assert.throws(() => { vmOf(importing('node', 'fs_open')).start() }, /the plugin imports node\.fs_open/)
})

test('WASI imports are stubs: files and sockets answer EBADF/ENOSYS, proc_exit traps', () => {
  // The import itself is allowed (an SDK's runtime may import it) ...
  assert.throws(() => { vmOf(importing('wasi_snapshot_preview1', 'path_open')).start() }, /exports no memory/)
  // ... and does nothing.
  const memory = (): never => { throw new Error('no memory needed') }
  assert.equal(wasiStub('path_open', memory)(), 52)
  assert.equal(wasiStub('sock_accept', memory)(), 52)
  assert.equal(wasiStub('fd_write', memory)(1, 0, 0, 0), 8)
  assert.throws(() => wasiStub('proc_exit', memory)(3), /proc_exit\(3\)/)
})

test('memory gets a maximum: growing past it fails inside the VM', () => {
  const limited = new WebAssembly.Instance(new WebAssembly.Module(limitMemory(withMemory(1), 4)))
  const memory = limited.exports.memory as WebAssembly.Memory
  assert.equal(memory.grow(3), 1)
  assert.throws(() => memory.grow(1), RangeError)
  assert.equal(memory.buffer.byteLength, 4 * 65_536)
})

test('a lower maximum the module declares itself is kept; a minimum above the limit is refused', () => {
  const own = new WebAssembly.Instance(new WebAssembly.Module(limitMemory(withMemory(1, 2), 4)))
  assert.throws(() => (own.exports.memory as WebAssembly.Memory).grow(2), RangeError)
  assert.throws(() => limitMemory(withMemory(8), 4), /starts at 8 pages, above the limit of 4/)
  assert.throws(() => limitMemory(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), 4), /not a WebAssembly module/)
})
