/** `meshgate inject FILE`: prints FILE (or stdin for `-`) with the sidecar added to its workloads. */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { inject, InjectError } from './inject.js'
import { VERSION } from '../package-info.js'

const USAGE = 'Usage: meshgate inject [--image IMAGE] [--proxy-uid UID] [--identity-secret NAME] [--config-map NAME] FILE|-\n'

export async function runInject (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        // The image of this very version (`:latest` would make Kubernetes pull on every start).
        image: { type: 'string', default: `meshgate:${VERSION}` },
        'proxy-uid': { type: 'string', default: '2102' },
        'identity-secret': { type: 'string' },
        'config-map': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (err) {
    process.stderr.write(`meshgate inject: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    process.stdout.write(USAGE)
    return 0
  }
  if (positionals.length !== 1) {
    process.stderr.write(`meshgate inject: expected one FILE (or - for stdin), found ${positionals.length}\n${USAGE}`)
    return 2
  }
  const uid = Number(values['proxy-uid'])
  if (!/^\d+$/.test(values['proxy-uid']) || uid === 0) {
    process.stderr.write(`meshgate inject: --proxy-uid must be a numeric UID other than 0, not "${values['proxy-uid']}"\n`)
    return 2
  }
  const file = positionals[0] as string
  let text: string
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8')
  } catch (err) {
    process.stderr.write(`meshgate inject: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`)
    return 1
  }
  try {
    const result = inject(text, {
      image: values.image,
      proxyUid: uid,
      identitySecret: values['identity-secret'],
      configMap: values['config-map'],
    })
    process.stdout.write(result.yaml)
    for (const w of result.injected) process.stderr.write(`${w} injected\n`)
    for (const w of result.alreadyInjected) process.stderr.write(`${w} already has the meshgate sidecar; left as it is\n`)
    return 0
  } catch (err) {
    if (!(err instanceof InjectError)) throw err
    process.stderr.write(`meshgate inject: ${file}: ${err.message}\n`)
    return 1
  }
}
