/**
 * The worker thread of one plugin VM: it owns the instance, runs each call the main thread sends
 * and answers in order, and runs the root context's tick timer between calls. Started by
 * plugin-vm.ts, which terminates it when a call runs past its budget (a VM cannot be interrupted
 * from inside its own thread).
 */
import { parentPort } from 'node:worker_threads'
import { VmInstance } from './vm-instance.js'
import type { MainMessage, VmCall, VmInit, WorkerMessage } from './vm-protocol.js'

const port = parentPort
if (port === null) throw new Error('vm-worker.ts runs as a worker thread only')

let vm: VmInstance | undefined
let tick: NodeJS.Timeout | undefined
let running: Int32Array<ArrayBufferLike> = new Int32Array(1)
let since: Float64Array<ArrayBufferLike> = new Float64Array(2)

/** Tells the main thread's watchdog what runs now (0: nothing, -1: a tick). */
function enter (seq: number): void {
  since[1] = Date.now()
  Atomics.store(running, 0, seq)
}

function post (msg: WorkerMessage): void {
  port?.postMessage(msg)
}

function setTick (ms: number): void {
  if (tick !== undefined) clearInterval(tick)
  tick = undefined
  if (ms > 0) tick = setInterval(onTick, ms)
}

function onTick (): void {
  if (vm === undefined) return
  enter(-1)
  try {
    vm.tick()
  } catch (err) {
    post({ type: 'trap', seq: 0, message: `on_tick: ${(err as Error).message}`, logs: vm.takeLogs() })
  } finally {
    enter(0)
  }
}

function init (msg: VmInit): void {
  running = new Int32Array(msg.watch, 0, 1)
  since = new Float64Array(msg.watch)
  vm = new VmInstance(msg, { tickPeriod: setTick })
  try {
    vm.start()
    post({ type: 'ready', logs: vm.takeLogs() })
  } catch (err) {
    post({ type: 'failed', message: (err as Error).message, logs: vm.takeLogs() })
  }
}

port.on('message', (msg: MainMessage) => {
  if (msg.type === 'init') {
    init(msg)
    return
  }
  if (vm !== undefined) vm.logLevel = msg.logLevel
  // Each result goes as soon as it is there: a later call of the batch may never return.
  for (const call of msg.calls) run(call)
})

function run (call: VmCall): void {
  if (vm === undefined) return
  enter(call.seq)
  try {
    post(vm.call(call))
  } catch (err) {
    post({ type: 'trap', seq: call.seq, message: `${call.op}: ${(err as Error).message}`, logs: vm.takeLogs() })
  } finally {
    enter(0)
  }
}
