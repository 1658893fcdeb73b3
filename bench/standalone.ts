/**
 * What every bench comparison that runs on its own shares: the repository root, the output and
 * work folders, fresh certificates, a timestamped log, writing `<name>.md` and `<name>.json`,
 * and running `main` only when the file is the entry point.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { makeCertificates, type BenchCertificates } from './certs.js'

/** The repository root, from a module under dist/bench/ (dist/bench/x.js or dist/bench/scenarios/x.js). */
export function repoDirOf (moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl))
  while (!dir.endsWith(join('dist', 'bench'))) {
    if (dir === dirname(dir)) throw new Error(`${moduleUrl} is not under dist/bench/`)
    dir = dirname(dir)
  }
  return resolve(dir, '..', '..')
}

/** Prints a line prefixed with the time, as every bench step logs. */
export function benchLog (line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`)
}

/** Writes `<outDir>/<name>.md` and `<outDir>/<name>.json`. */
export async function writeBenchReport (outDir: string, name: string, markdown: string, json: unknown): Promise<void> {
  await mkdir(outDir, { recursive: true })
  await writeFile(join(outDir, `${name}.md`), markdown)
  await writeFile(join(outDir, `${name}.json`), JSON.stringify(json, null, 2) + '\n')
}

export interface StandaloneContext {
  repoDir: string
  outDir: string
  /** `<outDir>/<name>-work`, created. */
  workDir: string
  certs: BenchCertificates
  log: (line: string) => void
}

/** String options only: what the comparisons take (numbers are parsed by the caller). */
type StringOptions = Record<string, { type: 'string', default?: string }>
type OptionValues = Record<string, string | undefined>

/**
 * Runs `run` when `moduleUrl` is the process's entry point: parses `options` (plus `--out`,
 * default bench/out), prepares the folders and certificates, prints the markdown `run` returns,
 * and sets exit code 1 on failure.
 */
export function runStandalone (
  name: string,
  moduleUrl: string,
  options: StringOptions,
  run: (values: OptionValues, ctx: StandaloneContext) => Promise<string>
): void {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(process.argv[1]).href) return
  const main = async (): Promise<void> => {
    const repoDir = repoDirOf(moduleUrl)
    const values = parseArgs({ options: { ...options, out: { type: 'string', default: join(repoDir, 'bench', 'out') } } }).values as OptionValues
    const outDir = resolve(values.out ?? join(repoDir, 'bench', 'out'))
    const workDir = join(outDir, `${name}-work`)
    await mkdir(workDir, { recursive: true })
    const markdown = await run(values, { repoDir, outDir, workDir, certs: await makeCertificates(workDir), log: benchLog })
    console.log('\n' + markdown)
  }
  main().catch((err: unknown) => {
    console.error(`${name} bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
    process.exitCode = 1
  })
}
