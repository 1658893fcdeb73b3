/**
 * `meshgate redirect install|remove|show`: the init container's job (as Linkerd's proxy-init),
 * run in the pod's network namespace before the app starts.
 */
import { parseArgs } from 'node:util'
import { MeshError } from '../../core/errors.js'
import { installRedirect, removeRedirect, showRedirect, systemIptables } from './iptables.js'
import { checkRedirectOptions, type RedirectOptions } from './rules.js'

export const REDIRECT_HELP = `Usage:
  meshgate redirect install --proxy-uid UID [--outbound-port 4140] [--inbound-port 4143]
                            [--app-ports P,P..] [--exclude-outbound-ports P,P..] [--iptables BIN]
  meshgate redirect remove  [--iptables BIN]
  meshgate redirect show    [--iptables BIN]

install   writes the nat chains MESHGATE_OUTPUT (hooked to OUTPUT) and MESHGATE_INBOUND (hooked
          to PREROUTING) in the current network namespace: outbound TCP of every UID but
          --proxy-uid goes to --outbound-port (loopback and --exclude-outbound-ports excepted);
          inbound TCP to --app-ports goes to --inbound-port. Running it again rewrites them.
remove    deletes those chains and their jumps only; nothing there is not an error.
Needs root or CAP_NET_ADMIN in the namespace (an init container: capabilities NET_ADMIN, NET_RAW).
`

class RedirectUsage extends Error {}

function port (flag: string, text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new RedirectUsage(`${flag} must be a port 1-65535, not "${text}"`)
  return n
}

function ports (flag: string, text: string | undefined): number[] {
  if (text === undefined || text === '') return []
  return [...new Set(text.split(',').map((p) => port(flag, p.trim())))]
}

function parseOptions (argv: string[]): { action: string, options: RedirectOptions, iptables: string } {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'proxy-uid': { type: 'string' },
        'outbound-port': { type: 'string', default: '4140' },
        'inbound-port': { type: 'string', default: '4143' },
        'app-ports': { type: 'string' },
        'exclude-outbound-ports': { type: 'string' },
        iptables: { type: 'string', default: 'iptables' },
      },
    })
  } catch (err) {
    throw new RedirectUsage(err instanceof Error ? err.message : String(err))
  }
  const { values, positionals } = parsed
  const [action, ...extra] = positionals
  if (action !== 'install' && action !== 'remove' && action !== 'show') throw new RedirectUsage(`expected install, remove or show, not ${action === undefined ? 'nothing' : `"${action}"`}`)
  if (extra.length > 0) throw new RedirectUsage(`too many arguments: ${extra.join(' ')}`)
  const uidText = values['proxy-uid']
  if (action === 'install' && uidText === undefined) throw new RedirectUsage('install needs --proxy-uid: the UID the proxy runs as, whose traffic is not redirected')
  const proxyUid = uidText === undefined ? 0 : Number(uidText)
  if (!/^\d+$/.test(uidText ?? '0') || proxyUid > 0xffffffff) throw new RedirectUsage(`--proxy-uid must be a numeric UID, not "${uidText ?? ''}"`)
  const options: RedirectOptions = {
    proxyUid,
    outboundPort: port('--outbound-port', values['outbound-port']),
    inboundPort: port('--inbound-port', values['inbound-port']),
    appPorts: ports('--app-ports', values['app-ports']),
    excludeOutboundPorts: ports('--exclude-outbound-ports', values['exclude-outbound-ports']),
  }
  const problems = checkRedirectOptions(options)
  if (problems.length > 0) throw new RedirectUsage(problems.join('; '))
  return { action, options, iptables: values.iptables }
}

/** Runs the subcommand; exit status 0 ok, 1 failure (no permission, iptables error), 2 usage. */
export function runRedirect (argv: string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(REDIRECT_HELP)
    return 0
  }
  let parsed
  try {
    parsed = parseOptions(argv)
  } catch (err) {
    if (!(err instanceof RedirectUsage)) throw err
    process.stderr.write(`meshgate redirect: ${err.message}\n${REDIRECT_HELP}`)
    return 2
  }
  const run = systemIptables(parsed.iptables)
  try {
    switch (parsed.action) {
      case 'install': {
        const { rules } = installRedirect(run, parsed.options)
        const o = parsed.options
        process.stdout.write(`meshgate redirect: installed ${rules} rules: outbound TCP (all UIDs but ${o.proxyUid}) → :${o.outboundPort}` +
          `${o.appPorts.length > 0 ? `, inbound TCP to ${o.appPorts.join(',')} → :${o.inboundPort}` : ', no inbound redirect (no --app-ports)'}\n`)
        return 0
      }
      case 'remove': {
        const { removed } = removeRedirect(run)
        process.stdout.write(removed
          ? 'meshgate redirect: removed the MESHGATE_OUTPUT and MESHGATE_INBOUND chains and their jumps\n'
          : 'meshgate redirect: no meshgate redirect rules in this network namespace; nothing to remove\n')
        return 0
      }
      default:
        process.stdout.write(`${showRedirect(run) || 'meshgate redirect: no meshgate redirect rules in this network namespace'}\n`)
        return 0
    }
  } catch (err) {
    if (!(err instanceof MeshError)) throw err
    process.stderr.write(`meshgate redirect: [${err.code}] ${err.message}\n`)
    return 1
  }
}
