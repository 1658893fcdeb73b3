/**
 * Maps failures talking to a local workload (socket errors, node:http errors) to mesh error codes.
 */
import { MeshError } from '../../core/errors.js'

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EADDRNOTAVAIL'])

export function upstreamError (err: unknown, target: string): MeshError {
  if (err instanceof MeshError) return err
  const e = err as { code?: string, message?: string, cause?: { code?: string } }
  const code = e.code ?? e.cause?.code
  const message = `${target}: ${e.message ?? String(err)}`
  if (code !== undefined && UNREACHABLE.has(code)) return new MeshError('E_UPSTREAM_UNREACHABLE', message, { cause: err })
  if (code === 'ETIMEDOUT') return new MeshError('E_IDLE_TIMEOUT', message, { cause: err })
  return new MeshError('E_UPSTREAM_RESET', message, { cause: err })
}
