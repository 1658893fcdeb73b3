// The Dockerfile keeps building what deploy/kubernetes uses (docker itself cannot run here): every
// path it copies exists, the build stage has the engine's and QUIC addon's -dev packages, the
// runtime has iptables for the init container, the npm scripts it calls exist, and the entrypoint
// and relative paths the manifests run resolve in the build output (dist/ after tsc).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { NODE_FLAGS } from '../../src/node-flags.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8')
const stages = dockerfile.split(/^FROM /m).slice(1)
const lines = (stage: string): string[] => stage.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim())

describe('Dockerfile', () => {
  it('has a build stage and a runtime stage; every COPY of the build stage names a path in the repo', () => {
    assert.equal(stages.length, 2)
    const copies = lines(stages[0] as string).filter((l) => l.startsWith('COPY '))
    assert.ok(copies.length > 0)
    const sources = copies.flatMap((l) => l.split(/\s+/).slice(1, -1))
    for (const s of sources) assert.ok(existsSync(ROOT + s), `COPY ${s}: not in the repo`)
    for (const dir of ['core', 'src', 'transports', 'native']) assert.ok(sources.includes(dir), `the build copies ${dir}/ (tsconfig includes it)`)
  })

  it('the build stage installs the -dev packages of both addons and runs npm scripts that exist', () => {
    const build = lines(stages[0] as string).join(' ')
    for (const p of ['libnghttp2-dev', 'libgnutls28-dev', 'libngtcp2-dev', 'libnghttp3-dev', 'g++', 'python3']) assert.match(build, new RegExp(`\\s${p.replace('+', '\\+')}\\s`), p)
    const scripts = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts
    for (const [, name] of build.matchAll(/npm run ([\w:-]+)/g)) assert.ok(scripts[name as string] !== undefined, `npm run ${name as string}`)
    // npm ci runs prepare: tsc, then the addons' build script.
    assert.match(build, /npm ci/)
    assert.match(scripts.prepare ?? '', /tsc -p tsconfig\.json/)
    for (const [, f] of `${scripts.prepare ?? ''} ${scripts['native:build'] ?? ''}`.matchAll(/node (\S+\.mjs)/g)) assert.ok(existsSync(ROOT + (f as string)), f)
  })

  it('the runtime ships iptables and the addons\' libraries, copies from the build stage only what it made, and runs dist/src/cli.js from /app', () => {
    const runtime = lines(stages[1] as string)
    const text = runtime.join(' ')
    for (const p of ['iptables', 'libnghttp2-14', 'libgnutls30', 'libngtcp2-9', 'libnghttp3-3']) assert.match(text, new RegExp(`\\s${p}\\s`), p)
    for (const l of runtime.filter((x) => x.startsWith('COPY --from=build '))) {
      const from = l.split(/\s+/)[2] as string
      assert.match(from, /^\/app\//)
      // What the build stage has at /app: the repo's files, plus dist/ and node_modules/ it makes.
      assert.ok(existsSync(ROOT + from.slice('/app/'.length)), `${from}: neither in the repo nor made by the build`)
    }
    assert.ok(runtime.includes('WORKDIR /app'))
    const entry = runtime.find((l) => l.startsWith('ENTRYPOINT '))
    assert.deepEqual(JSON.parse(entry?.slice('ENTRYPOINT '.length) ?? 'null'), ['node', ...NODE_FLAGS, 'dist/src/cli.js'])
    assert.ok(existsSync(`${ROOT}dist/src/cli.js`))
    const cmd = JSON.parse(runtime.find((l) => l.startsWith('CMD '))?.slice(4) ?? 'null') as string[]
    assert.ok(existsSync(ROOT + (cmd.at(-1) as string)), `CMD names ${cmd.at(-1) as string}`)
  })

  it('every image and in-image path the manifests run exists: the entrypoint\'s CLI for the init container, the sidecar\'s node script', () => {
    const text = readFileSync(`${ROOT}deploy/kubernetes/demo/demo-injected.yaml`, 'utf8')
    const docs = parseAllDocuments(text).map((d) => d.toJS() as Record<string, any>)
    const tag = /docker build -t (\S+) \./.exec(dockerfile)?.[1]
    const containers = docs.filter((d) => d.kind === 'Deployment').flatMap((d) => [...d.spec.template.spec.containers, ...d.spec.template.spec.initContainers])
    assert.ok(containers.length >= 4)
    for (const c of containers) {
      assert.equal(c.image, tag, `${c.name as string}: the image the Dockerfile says to build`)
      for (const [, script] of [...(c.command ?? []), ...(c.args ?? [])].join(' ').matchAll(/node (dist\/\S+\.js)/g)) {
        assert.ok(existsSync(ROOT + (script as string)), `${c.name as string} runs ${script as string}`)
      }
    }
  })
})
