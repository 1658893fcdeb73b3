/**
 * The WASI functions an SDK's runtime may import, answered without any file, clock-free or
 * network access: `proc_exit` ends the call as a trap, writes and reads fail with EBADF, every
 * other WASI function with ENOSYS. Arguments and environment are empty.
 */
import type { GuestMemory } from './guest-memory.js'

const ERRNO_SUCCESS = 0
const ERRNO_BADF = 8
const ERRNO_NOSYS = 52

/** Thrown by `proc_exit`: the VM asked to stop (the SDKs' abort does); the call is a trap. */
export class ProcExit extends Error {
  constructor (readonly code: number) {
    super(`the plugin called proc_exit(${code})`)
  }
}

export const WASI_MODULES: ReadonlySet<string> = new Set(['wasi_unstable', 'wasi_snapshot_preview1'])

/** The stub for one WASI import by name. */
export function wasiStub (name: string, memory: () => GuestMemory): (...args: number[]) => number {
  switch (name) {
    case 'proc_exit':
      return (code) => { throw new ProcExit(code ?? 0) }
    case 'args_sizes_get':
    case 'environ_sizes_get':
      return (countPtr = 0, sizePtr = 0) => {
        memory().writeU32(countPtr, 0)
        memory().writeU32(sizePtr, 0)
        return ERRNO_SUCCESS
      }
    case 'args_get':
    case 'environ_get':
      return () => ERRNO_SUCCESS
    case 'fd_write':
    case 'fd_read':
    case 'fd_close':
    case 'fd_seek':
    case 'fd_fdstat_get':
    case 'fd_prestat_get':
      return () => ERRNO_BADF
    default:
      return () => ERRNO_NOSYS
  }
}
