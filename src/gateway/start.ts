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
import { startGatewayRole, type GatewayRole } from './role.js'

export interface StartGatewayOptions {
  config: MeshConfig
  directory: ServiceDirectory
  transports: TransportRegistry
  telemetry: Telemetry
  metrics: Metrics
  logger: Logger
}

/** Every caller trust domain's roots. Throws E_CONFIG naming the key. */
async function callerRoots (config: MeshConfig): Promise<Map<string, X509Certificate[]>> {
  const roots = new Map<string, X509Certificate[]>()
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
  }
  if (roots.size === 0) throw new MeshError('E_CONFIG', `${config.file}: gateway.trustDomains: at least one trust domain with its ca`)
  return roots
}

export async function startGateway (options: StartGatewayOptions): Promise<GatewayRole> {
  const { config, directory } = options
  const gateway = config.gateway
  if (gateway === undefined) throw new MeshError('E_CONFIG', `${config.file}: no gateway section`)
  const tls = await readTlsMaterial(gateway.tls)
  return await startGatewayRole({
    config: gateway,
    tls,
    callerRoots: await callerRoots(config),
    identity: spiffeIdFromSubjectAltName(new X509Certificate(tls.cert).subjectAltName) ?? '',
    picker: directory,
    identitiesOf: (service) => [...new Set(directory.endpoints(service).map((e) => e.identity))],
    timeouts: config.timeouts,
    transports: options.transports,
    telemetry: options.telemetry,
    observer: options.metrics.multicluster?.gateway(),
    logger: options.logger,
  })
}
