// The file source end to end: edits (atomic rename) followed, a syntax error survived with the last good set.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { captureLog, until } from '../discovery/log-capture.js'
import { drive, driveUntil, podsOf, sawAll, startClient, startMesh, waitForEndpoints, type Client, type Mesh } from '../helpers/mesh.js'

describe('file discovery through real proxies', () => {
  let mesh: Mesh
  let client: Client
  let file: string
  const log = captureLog('info')

  /** Writes the discovery file the way editors and ConfigMaps do: a new file renamed over the old. */
  const publish = async (text: string): Promise<void> => {
    const tmp = `${file}.tmp`
    await writeFile(tmp, text)
    await rename(tmp, file)
  }
  const endpointsOf = (pods: number[]): string => `services:
  web:
    endpoints:
${pods.map((i) => `      - { peer: "${mesh.pods[i]?.peer ?? ''}", identity: "${mesh.identity}", target: "${mesh.pods[i]?.target ?? ''}" }`).join('\n')}
`

  before(async () => {
    mesh = await startMesh([0, 0, 0])
    file = join(mesh.dir, 'endpoints.yaml')
    await publish(endpointsOf([0, 1]))
    client = await startClient(mesh, `
discovery:
  sources:
    registry: { kind: file, path: ${file}, debounceMs: 20ms }
services:
  web: { source: registry }
`, { logger: log.logger })
  })
  after(async () => {
    await client?.close()
    await mesh?.close()
  })

  it('serves the endpoints of the file', async () => {
    const outcomes = await driveUntil(client, 'web', sawAll(['pod-1', 'pod-2']), 1000)
    assert.deepEqual(podsOf(outcomes), ['pod-1', 'pod-2'])
  })

  it('an edit adds a pod: it receives traffic', async () => {
    await publish(endpointsOf([0, 1, 2]))
    const outcomes = await driveUntil(client, 'web', (all) => all.some((o) => o.pod === 'pod-3'), 2000, 10)
    assert.ok(outcomes.every((o) => o.status === 200))
    await waitForEndpoints(client, 'registry', 'web', 3)
  })

  it('a syntax error: E_DISCOVERY_FILE_SYNTAX logged, last good set kept, traffic flows', async () => {
    await publish('services:\n  web: { endpoints: [ { peer: "127.0.0.2:1"\n')
    await until(() => log.withCode('E_DISCOVERY_FILE_SYNTAX').length > 0, 10_000, 'E_DISCOVERY_FILE_SYNTAX in the log')
    const outcomes = await drive(client, 'web', 90, 6)
    assert.ok(outcomes.every((o) => o.status === 200), outcomes.map((o) => o.error ?? o.pod).join(', '))
    await waitForEndpoints(client, 'registry', 'web', 3, 0) // all three pods of the last good file
  })

  it('a file of the wrong shape: E_DISCOVERY_FILE_INVALID logged, last good set kept', async () => {
    await publish('services:\n  web:\n    endpoints:\n      - { peer: nowhere, identity: x, target: y }\n')
    await until(() => log.withCode('E_DISCOVERY_FILE_INVALID').length > 0, 10_000, 'E_DISCOVERY_FILE_INVALID in the log')
    const outcomes = await drive(client, 'web', 60, 4)
    assert.ok(outcomes.every((o) => o.status === 200))
  })

  it('a good edit after the bad ones is applied: a removed pod gets no more traffic', async () => {
    await publish(endpointsOf([1, 2]))
    await waitForEndpoints(client, 'registry', 'web', 2)
    const outcomes = await drive(client, 'web', 60, 4)
    assert.ok(outcomes.every((o) => o.status === 200 && o.pod !== 'pod-1'), outcomes.map((o) => o.error ?? o.pod).join(', '))
    const metrics = await client.proxy.metrics.registry.metrics()
    assert.match(metrics, /meshgate_discovery_errors_total\{source="registry",code="E_DISCOVERY_FILE_SYNTAX"\} [1-9]/)
    assert.match(metrics, /meshgate_discovery_updates_total\{source="registry",service="web",kind="reset"\} [3-9]/)
  })
})
