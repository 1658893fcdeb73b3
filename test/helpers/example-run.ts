/**
 * Running a checked-in example (examples/*.yaml) in a test: a copy of the file with its fixed ports
 * moved to free ones and its state directory moved into the test's temp dir, and a bounded wait
 * for a condition on the child's output.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './meshgate-process.js'

/** The repository root (dist/test/helpers → ../../..). */
export const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..')

export interface ExampleCopy {
  /** The rewritten copy, in `dir`. */
  readonly file: string
  /** Each fixed port of the example → the free port that replaced it. */
  readonly ports: Readonly<Record<string, number>>
}

/**
 * Writes `dir/NAME` from `examples/NAME` with every port in `fixedPorts` replaced by a free one
 * (two passes, so a new port that contains an old one is not rewritten again), the dev PKI under
 * `dir/pki`, and then each of `replace` applied in order.
 */
export async function exampleCopy (name: string, dir: string, fixedPorts: readonly string[], replace: ReadonlyArray<readonly [string, string]> = []): Promise<ExampleCopy> {
  const ports: Record<string, number> = {}
  for (const fixed of fixedPorts) ports[fixed] = await freePort()
  let text = await readFile(join(ROOT, 'examples', name), 'utf8')
  for (const fixed of fixedPorts) text = text.replaceAll(fixed, `<${fixed}>`)
  for (const [fixed, port] of Object.entries(ports)) text = text.replaceAll(`<${fixed}>`, String(port))
  text = text.replaceAll('../.meshgate/pki', join(dir, 'pki'))
  for (const [from, to] of replace) text = text.replaceAll(from, to)
  const file = join(dir, name)
  await writeFile(file, text)
  return { file, ports }
}

/** Resolves once `check()` holds, polling every 25 ms; throws naming `what` after `ms`. */
export async function until (check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
