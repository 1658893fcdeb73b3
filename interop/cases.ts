/**
 * What each test case moves: the files the server serves (sizes chosen so a transfer spans a
 * key update or a migration where the case needs it), written with random content, and the check
 * that the client ended up with exactly those bytes (sha256).
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CaseName, ClientOutcome, PlannedFile } from './types.js'

const KiB = 1024
const MiB = 1024 * KiB

/** File sizes per case, bytes. */
const SIZES: Readonly<Record<CaseName, readonly number[]>> = {
  handshake: [1 * KiB],
  transfer: [2 * KiB, 100 * KiB + 7, 1 * MiB, 5 * MiB + 3],
  multiplexing: Array.from({ length: 50 }, (_, i) => 1 * KiB + 97 * i),
  http3: [1 * KiB, 20 * KiB, 200 * KiB],
  chacha20: [1 * KiB, 1 * MiB],
  // Long enough to be in flight when the client updates its keys 1 ms after the handshake.
  keyupdate: [8 * MiB],
  retry: [1 * KiB, 100 * KiB],
  resumption: [1 * KiB, 10 * KiB],
  zerortt: [1 * KiB],
  // Long enough to be in flight when the client moves to a new port.
  connectionmigration: [10 * MiB],
}

/** Writes the case's files into `www` and returns their names, sizes and hashes. */
export function writeCaseFiles (testCase: CaseName, www: string): PlannedFile[] {
  return SIZES[testCase].map((size, i) => {
    const name = `${testCase}-${i + 1}.bin`
    const data = randomBytes(size)
    writeFileSync(join(www, name), data)
    return { name, size, sha256: createHash('sha256').update(data).digest('hex') }
  })
}

async function fileSha256 (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Undefined when every planned file arrived intact, else what is missing or different. */
export async function verifyDownloads (files: PlannedFile[], download: string, outcome: ClientOutcome): Promise<string | undefined> {
  const missing: string[] = []
  const different: string[] = []
  if (outcome.sizes !== undefined) {
    for (const file of files) {
      const got = outcome.sizes[file.name]
      if (got === undefined) missing.push(file.name)
      else if (got !== file.size) different.push(`${file.name} (${got} of ${file.size} bytes)`)
    }
  }
  for (const file of outcome.sizes === undefined ? files : []) {
    let got: string | undefined = outcome.sha256?.[file.name]
    if (outcome.sha256 === undefined) {
      const path = join(download, file.name)
      got = existsSync(path) ? await fileSha256(path) : undefined
    }
    if (got === undefined) missing.push(file.name)
    else if (got !== file.sha256) different.push(file.name)
  }
  const problems: string[] = []
  if (missing.length > 0) problems.push(`${missing.length}/${files.length} file(s) not received (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`)
  if (different.length > 0) problems.push(`${different.length} file(s) with a different ${outcome.sizes === undefined ? 'sha256' : 'size'} (${different.slice(0, 3).join(', ')})`)
  return problems.length === 0 ? undefined : problems.join('; ')
}

/** "4 files, 6.1 MB" */
export function describeFiles (files: PlannedFile[]): string {
  const total = files.reduce((sum, f) => sum + f.size, 0)
  const size = total >= MiB ? `${(total / MiB).toFixed(1)} MiB` : `${(total / KiB).toFixed(1)} KiB`
  return `${files.length} file${files.length === 1 ? '' : 's'}, ${size}`
}
