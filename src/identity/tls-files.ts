/**
 * Reading a workload's TLS material (CA, certificate, key) from the PEM files a config names.
 */
import { readFile } from 'node:fs/promises'
import { MeshError } from '../../core/errors.js'
import type { TlsFiles } from '../config/types.js'
import type { TlsMaterial } from '../../transports/contract.js'

async function readPem (kind: keyof TlsFiles, file: string): Promise<string> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err))
    throw new MeshError('E_CONFIG', `cannot read TLS ${kind} file ${file}: ${reason}`, { cause: err })
  }
  if (!text.includes('-----BEGIN ')) {
    throw new MeshError('E_CONFIG', `TLS ${kind} file ${file} is not PEM (no -----BEGIN line)`)
  }
  return text
}

/**
 * Reads the three PEM files of `files`. Throws MeshError `E_CONFIG` naming the file that is
 * missing, unreadable or not PEM.
 */
export async function readTlsMaterial (files: TlsFiles): Promise<TlsMaterial> {
  const [ca, cert, key] = await Promise.all([
    readPem('ca', files.ca),
    readPem('cert', files.cert),
    readPem('key', files.key),
  ])
  return { ca, cert, key }
}
