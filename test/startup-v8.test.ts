// src/startup-v8.ts: no TurboFan while a process starts, V8's defaults after endStartup(), and a user's own flag left alone.
import assert from 'node:assert/strict'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { run } from './helpers/exec.js'

const STARTUP_V8 = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'startup-v8.js')

/** Runs a hot function before and after endStartup() and says which phase TurboFan optimised it in. */
async function optimisedIn (nodeFlags: string[]): Promise<{ before: boolean, after: boolean }> {
  const program = `
    const { endStartup } = await import(${JSON.stringify(STARTUP_V8)})
    function hot (n) { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s }
    for (let i = 0; i < 3000; i++) hot(1000)
    await new Promise((resolve) => setTimeout(resolve, 50))
    console.log('--- endStartup')
    endStartup()
    for (let i = 0; i < 3000; i++) hot(1000)
    await new Promise((resolve) => setTimeout(resolve, 50))`
  const { code, stdout, stderr } = await run(process.execPath, [...nodeFlags, '--trace-opt', '--input-type=module', '-e', program])
  assert.equal(code, 0, stderr)
  const [before = '', after = ''] = stdout.split('--- endStartup')
  const optimised = (text: string): boolean => /completed optimizing .*<JSFunction hot /.test(text)
  return { before: optimised(before), after: optimised(after) }
}

test('TurboFan is off until endStartup() and back on after it', async () => {
  assert.deepEqual(await optimisedIn([]), { before: false, after: true })
})

test('a --no-turbofan given by the user stays in force', async () => {
  assert.deepEqual(await optimisedIn(['--no-turbofan']), { before: false, after: false })
})
