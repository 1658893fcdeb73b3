// `meshgate redirect`: the rules it writes, install twice = once, remove is clean, removing
// nothing is harmless, and a user without CAP_NET_ADMIN gets a clear error. Runs in a network
// namespace made for the test.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { createPods, deletePods, inPod, netnsSkip, type NetnsPod } from '../helpers/netns.js'

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))
const NOBODY = 65534

describe('meshgate redirect', { skip: netnsSkip() }, () => {
  let pod: NetnsPod
  before(() => { [pod] = createPods(201) })
  after(() => deletePods())

  const natRules = async (): Promise<string> => (await inPod(pod, ['iptables', '-t', 'nat', '-S'])).stdout
  const cli = async (args: string[], uid?: number) => await inPod(pod, [process.execPath, CLI, 'redirect', ...args], { uid })

  it('removing rules that are not there says so and succeeds, changing nothing', async () => {
    const before = await natRules()
    const r = await cli(['remove'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /no meshgate redirect rules in this network namespace; nothing to remove/)
    assert.equal(await natRules(), before)
  })

  it('install writes its own chains; twice is the same as once; remove leaves the table as it was', async () => {
    const pristine = await natRules()
    const args = ['install', '--proxy-uid', '2102', '--app-ports', '8080,9000', '--exclude-outbound-ports', '443']
    const first = await cli(args)
    assert.equal(first.code, 0, first.stderr)
    const once = await natRules()
    assert.equal((await cli(args)).code, 0)
    assert.equal(await natRules(), once)
    const lines = once.split('\n')
    for (const rule of [
      '-A OUTPUT -p tcp -j MESHGATE_OUTPUT',
      '-A PREROUTING -p tcp -j MESHGATE_INBOUND',
      '-A MESHGATE_OUTPUT -m owner --uid-owner 2102 -j RETURN',
      '-A MESHGATE_OUTPUT -o lo -j RETURN',
      '-A MESHGATE_OUTPUT -p tcp -m multiport --dports 443 -j RETURN',
      '-A MESHGATE_OUTPUT -p tcp -j REDIRECT --to-ports 4140',
      '-A MESHGATE_INBOUND -p tcp -m multiport --dports 8080,9000 -j REDIRECT --to-ports 4143',
    ]) assert.ok(lines.includes(rule), `missing ${rule} in\n${once}`)
    assert.equal(lines.filter((l) => l === '-A OUTPUT -p tcp -j MESHGATE_OUTPUT').length, 1)
    const removed = await cli(['remove'])
    assert.equal(removed.code, 0, removed.stderr)
    assert.match(removed.stdout, /removed the MESHGATE_OUTPUT and MESHGATE_INBOUND chains/)
    assert.equal(await natRules(), pristine)
  })

  it('without CAP_NET_ADMIN: exit 1 with E_REDIRECT_DENIED and what the init container needs', async () => {
    for (const action of [['install', '--proxy-uid', '2102'], ['remove']]) {
      const r = await cli(action, NOBODY)
      assert.equal(r.code, 1, r.stdout + r.stderr)
      assert.match(r.stderr, /\[E_REDIRECT_DENIED\] not permitted to change iptables rules in this network namespace/)
      assert.match(r.stderr, /NET_ADMIN/)
    }
    assert.doesNotMatch(await natRules(), /MESHGATE/)
  })

  it('bad options are usage errors (exit 2) naming the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['install'], /install needs --proxy-uid/],
      [['install', '--proxy-uid', 'x'], /--proxy-uid must be a numeric UID/],
      [['install', '--proxy-uid', '1', '--app-ports', '8080,70000'], /--app-ports must be a port 1-65535, not "70000"/],
      [['install', '--proxy-uid', '1', '--app-ports', '4143'], /--app-ports must not contain --inbound-port 4143/],
      [['frobnicate'], /expected install, remove or show, not "frobnicate"/],
    ]
    for (const [args, message] of cases) {
      const r = await cli(args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, message)
    }
  })
})
