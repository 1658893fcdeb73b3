#!/usr/bin/env -S node --max-semi-space-size=4 --v8-pool-size=1
/**
 * The `meshgate` command's entry point (package.json `bin`). It sets V8's start-up settings
 * (startup-v8.ts) before anything else is even parsed, then loads the command (command.ts): an
 * ES module's static imports are all loaded before its first statement runs, so the command's
 * module graph must come in through import().
 */
import './startup-v8.js'

await import('./command.js')
