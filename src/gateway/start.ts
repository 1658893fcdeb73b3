/**
 * Starts the gateway role from a whole config: its TLS material, the trust roots of the caller
 * domains (kept per domain: each caller is held to its own domain's CA), its identity, and the
 * local directory it resolves exports through.
 */
import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import type { MeshConfig } from '../config/types.js'
import type { ServiceDirectory } from '../discovery/directory.js'
import { MeshError } from '../../core/errors.js'
import { readTlsMaterial } from '../identity/tls-files.js'
import type { Metrics } from '../metrics/index.js'
import { spiffeIdFromSubjectAltName } from '../../core/identity/spiffe.js'
import { certificatesOfPem } from '../../core/identity/chain.js'
import type { Telemetry } from '../telemetry.js'
import type { TransportRegistry } from '../../transports/registry.js'
import { DomainRootsWatch } from './domain-roots.js'
import { startGatewayRole, type GatewayRole } from './role.js'

export interface StartGatewayOptions {
  config: MeshConfig
  directory: ServiceDirectory
  transports: TransportRegistry
  telemetry: Telemetry
  metrics: Metrics
  logger: Logger
}

interface CallerRoots {
  roots: Map<string, X509Certificate[]>
  /** Each domain's CA file and the text it held at start (for the watch). */
  files: Map<string, string>
  texts: Map<string, string>
}

/** Every caller trust domain's roots. Throws E_CONFIG naming the key. */
async function callerRoots (config: MeshConfig): Promise<CallerRoots> {
  const roots = new Map<string, X509Certificate[]>()
  const files = new Map<string, string>()
  const texts = new Map<string, string>()
  for (const [domain, { ca }] of Object.entries(config.gateway?.trustDomains ?? {})) {
    const where = `${config.file}: gateway.trustDomains.${domain}.ca`
    let pem: string
    try {
      pem = await readFile(ca, 'utf8')
    } catch (err) {
      throw new MeshError('E_CONFIG', `${where}: cannot read ${ca} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err })
    }
    let certs: X509Certificate[]
    try {
      certs = certificatesOfPem(pem)
    } catch (err) {
      throw new MeshError('E_CONFIG', `${where}: ${ca} holds a certificate that cannot be parsed (${(err as Error).message})`, { cause: err })
    }
    if (certs.length === 0) throw new MeshError('E_CONFIG', `${where}: ${ca} holds no PEM certificate (expected the CA's -----BEGIN CERTIFICATE----- block)`)
    roots.set(domain, certs)
    files.set(domain, ca)
    texts.set(domain, pem)
  }
  if (roots.size === 0) throw new MeshError('E_CONFIG', `${config.file}: gateway.trustDomains: at least one trust domain with its ca`)
  return { roots, files, texts }
}

/** The gateway role with the watch on its trust domains' CA files (closed with it). */
export interface RunningGateway extends GatewayRole {
  readonly trustRoots: DomainRootsWatch
}

export async function startGateway (options: StartGatewayOptions): Promise<RunningGateway> {
  const { config, directory } = options
  const gateway = config.gateway
  if (gateway === undefined) throw new MeshError('E_CONFIG', `${config.file}: no gateway section`)
  const tls = await readTlsMaterial(gateway.tls)
  const caller = await callerRoots(config)
  const role = await startGatewayRole({
    config: gateway,
    tls,
    callerRoots: caller.roots,
    identity: spiffeIdFromSubjectAltName(new X509Certificate(tls.cert).subjectAltName) ?? '',
    picker: directory,
    identitiesOf: (service) => [...new Set(directory.endpoints(service).map((e) => e.identity))],
    timeouts: config.timeouts,
    transports: options.transports,
    telemetry: options.telemetry,
    observer: options.metrics.multicluster?.gateway(),
    logger: options.logger,
  })
  // The CA files are watched like the identity files (same debounce and re-check period).
  const watch = new DomainRootsWatch({
    files: caller.files,
    initial: caller.texts,
    apply: (domain, roots) => { role.setCallerRoots(domain, roots) },
    config: config.identity,
    logger: options.logger.child({ role: 'gateway' }),
    observer: options.metrics.identityObserver,
  })
  watch.start()
  return {
    ...role,
    trustRoots: watch,
    close: async () => { watch.close(); await role.close() },
    destroy: () => { watch.close(); role.destroy() },
  }
}
