// Invalid configs: every problem reported at once, each with file, exact path, found and expected.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, MeshError } from '../../core/errors.js'
import { loadConfig, parseConfig } from '../../src/config/load.js'

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'meshgate-config-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

async function problemsOf (text: string, name = 'bad.yaml'): Promise<ConfigError> {
  const file = join(dir, name)
  await writeFile(file, text)
  const err = await loadConfig(file).then(() => undefined, (e: unknown) => e)
  assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
  assert.equal(err.code, 'E_CONFIG')
  assert.equal(err.file, file)
  return err
}

const SEVERAL = `services:
  demo:
    endpoints:
      - peer: 127.0.0.1
        identity: http://not-spiffe
        target: 127.0.0.1:8080
outbound:
  tls: { ca: ca.crt, cert: me.crt, key: me.key }
  listeners:
    - { name: app, host: 127.0.0.1, port: 4140, tcpService: nope }
    - { name: tcp, host: 127.0.0.1, port: 70000, protocol: tcp }
    - { name: dup, host: 127.0.0.1, port: 4140 }
inbound:
  tls: { ca: ca.crt, cert: me.crt, key: me.key }
  listeners: [{ host: 127.0.0.1, port: "4143" }]
timeouts: { connectMs: soon }
`

test('every problem is reported with its exact path', async () => {
  const err = await problemsOf(SEVERAL)
  assert.deepEqual(err.problems.map((p) => p.path), [
    'services.demo.endpoints[0].peer',
    'services.demo.endpoints[0].identity',
    'outbound.listeners[0].tcpService',
    'outbound.listeners[1].port',
    'outbound.listeners[1].tcpService',
    'outbound.listeners[2].port',
    // A missing key is placed at the line of the map that lacks it (line 14, where inbound's map starts).
    'inbound.targets',
    'inbound.listeners[0].port',
    'timeouts.connectMs',
  ])
  const at = (path: string): { found: string, expected: string } => {
    const problem = err.problems.find((p) => p.path === path)
    assert.ok(problem !== undefined, path)
    return problem
  }
  assert.deepEqual(at('outbound.listeners[1].port'), { path: 'outbound.listeners[1].port', found: '70000 (line 11)', expected: 'a port 0–65535' })
  assert.equal(at('services.demo.endpoints[0].peer').found, '"127.0.0.1" (line 4)')
  assert.match(at('services.demo.endpoints[0].peer').expected, /host:port/)
  assert.match(at('services.demo.endpoints[0].identity').expected, /SPIFFE ID/)
  assert.equal(at('outbound.listeners[0].tcpService').found, '"nope" (line 10)')
  assert.match(at('outbound.listeners[0].tcpService').expected, /service in services \(one of: demo\)/)
  assert.match(at('outbound.listeners[1].tcpService').expected, /protocol tcp needs one/)
  assert.equal(at('outbound.listeners[1].tcpService').found, 'missing (line 11)')
  assert.match(at('outbound.listeners[2].port').expected, /already taken by outbound\.listeners\[0\] \(127\.0\.0\.1:4140\)/)
  assert.equal(at('inbound.listeners[0].port').found, '"4143" (line 15)')
  assert.match(at('inbound.targets').found, /^missing/)
  assert.match(at('timeouts.connectMs').expected, /duration/)
  // The message names the file on every line.
  const lines = err.message.split('\n')
  assert.match(lines[0], /^invalid config \(9 problems\):$/)
  for (const line of lines.slice(1)) assert.ok(line.includes(err.file), line)
  assert.ok(err.message.includes(`${err.file}: outbound.listeners[1].port: expected a port 0–65535, found 70000 (line 11)`))
})

test('unknown keys are rejected, with a suggestion when one is close', async () => {
  const err = await problemsOf(`
servces: {}
admin: { host: 127.0.0.1, prot: 4191 }
outbound:
  tls: { ca: a, cert: b, key: c }
  listeners: [{ host: 127.0.0.1, port: 1, colour: blue }]
`)
  assert.deepEqual(err.problems.map((p) => [p.path, p.found]), [
    ['servces', 'unknown key "servces" (line 2)'],
    ['admin.prot', 'unknown key "prot" (line 3)'],
    ['outbound.listeners[0].colour', 'unknown key "colour" (line 6)'],
  ])
  assert.match(err.problems[0].expected, /did you mean "services"/)
  assert.match(err.problems[1].expected, /did you mean "port"/)
  assert.match(err.problems[2].expected, /known keys: name, host, port, protocol, tcpService/)
})

test('inbound needs targets, and targets need callers', async () => {
  const err = await problemsOf(`
inbound:
  tls: { ca: a, cert: b, key: c }
  listeners: [{ host: 127.0.0.1, port: 4143 }]
  targets: [{ address: 127.0.0.1:8080, allow: [] }, { address: "[::1]:8080", allow: ["spiffe://Bad Domain"] }]
`)
  assert.deepEqual(err.problems.map((p) => p.path), ['inbound.targets[0].allow', 'inbound.targets[1].allow[0]'])
})

test('cross references: aliases, duplicate targets, endpoints served here, devPki files', async () => {
  const err = await problemsOf(`
devPki: { dir: pki, workloads: [client] }
services:
  a:
    aliases: [b.local]
    endpoints: [{ peer: "127.0.0.1:4143", identity: "spiffe://mesh.local/ns/default/sa/s", target: "127.0.0.1:9999" }]
  b:
    aliases: [b.local, a]
    endpoints: [{ peer: "10.1.1.1:4143", identity: "spiffe://mesh.local/ns/default/sa/s", target: "127.0.0.1:9999" }]
inbound:
  tls: { ca: pki/ca.crt, cert: pki/server.crt, key: pki/client.key }
  listeners: [{ host: 0.0.0.0, port: 4143 }]
  targets:
    - { address: "127.0.0.1:8080", allow: ["*"] }
    - { address: "127.0.0.1:8080", allow: ["spiffe://mesh.local"] }
admin: { port: 4143 }
`)
  assert.deepEqual(err.problems.map((p) => p.path), [
    'services.a.endpoints[0].target',
    'services.b.aliases[0]',
    'services.b.aliases[1]',
    'inbound.tls.cert',
    'inbound.targets[1].address',
    'admin.port',
  ])
})

test('dataPlane: a value other than native, js or auto is one problem naming the file, the path and the choices', async () => {
  const err = await problemsOf('log: { level: info }\ndataPlane: rust\n', 'plane.yaml')
  assert.deepEqual(err.problems, [{ path: 'dataPlane', found: '"rust" (line 2)', expected: 'one of "native", "js", "auto"' }])
  assert.ok(err.message.includes(`${join(dir, 'plane.yaml')}: dataPlane: expected one of "native", "js", "auto", found "rust" (line 2)`), err.message)
  // Not a string at all, and a misspelt key, are reported the same way.
  const wrongType = await problemsOf('dataPlane: [native]\n', 'plane-list.yaml')
  assert.deepEqual(wrongType.problems, [{ path: 'dataPlane', found: 'a list of 1 (line 1)', expected: 'one of "native", "js", "auto"' }])
  const misspelt = await problemsOf('dataplane: js\n', 'plane-key.yaml')
  assert.deepEqual(misspelt.problems.map((p) => [p.path, p.expected]), [['dataplane', 'no such key (did you mean "dataPlane"?)']])
})

test('app-client limits: a bad header-read timeout or request limit names the file, the path, the range and the line', async () => {
  const err = await problemsOf('timeouts: { headerReadMs: 0 }\nlimits: { maxRequestsPerConnection: 0 }\n', 'limits.yaml')
  assert.deepEqual(err.problems, [
    { path: 'timeouts.headerReadMs', found: '0 (line 1)', expected: 'a duration 1ms–1h (like 250ms, 5s, 2m)' },
    { path: 'limits.maxRequestsPerConnection', found: '0 (line 2)', expected: 'a whole number of requests 1–2147483647' },
  ])
  assert.ok(err.message.includes(`${join(dir, 'limits.yaml')}: timeouts.headerReadMs: expected a duration 1ms–1h (like 250ms, 5s, 2m), found 0 (line 1)`), err.message)
  const wrongType = await problemsOf('timeouts: { headerReadMs: soon }\nlimits: { maxRequestsPerConnection: 2.5 }\n', 'limits-type.yaml')
  assert.deepEqual(wrongType.problems.map((p) => [p.path, p.found]), [['timeouts.headerReadMs', '"soon" (line 1)'], ['limits.maxRequestsPerConnection', '2.5 (line 2)']])
  const tooLong = await problemsOf('timeouts: { headerReadMs: 2h }\n', 'limits-long.yaml')
  assert.deepEqual(tooLong.problems.map((p) => p.path), ['timeouts.headerReadMs'])
})

test('a YAML syntax error names the file and the line', async () => {
  const err = await problemsOf('services:\n  demo:\n    aliases: [a, b\n  other: 1\n', 'syntax.yaml')
  assert.equal(err.problems.length >= 1, true)
  assert.match(err.problems[0].path, /^line 4, column \d+$/)
  assert.equal(err.problems[0].expected, 'valid YAML')
  assert.ok(err.message.includes(join(dir, 'syntax.yaml')))
  assert.match(err.message, /line 4/)
})

test('duplicate YAML keys are a syntax error', () => {
  assert.throws(() => parseConfig('drainMs: 1s\ndrainMs: 2s\n', '/x/dup.yaml'), (e: unknown) =>
    e instanceof ConfigError && /^line 2/.test(e.problems[0].path) && /unique/.test(e.problems[0].found))
})

test('a top level that is not a map is one problem', () => {
  assert.throws(() => parseConfig('- a\n- b\n', '/x/list.yaml'), (e: unknown) =>
    e instanceof ConfigError && e.problems.length === 1 && e.problems[0].path === '(top level)' && e.problems[0].found === 'a list of 2 (line 1)')
})

test('a missing file is E_CONFIG naming the file', async () => {
  const file = join(dir, 'nope.yaml')
  await assert.rejects(loadConfig(file), (e: unknown) => e instanceof MeshError && e.code === 'E_CONFIG' && e.message.includes(file) && e.message.includes('ENOENT'))
})
