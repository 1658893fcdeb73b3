/**
 * The plugins of one listener, loaded from its `plugins:` config: each module compiled once with
 * its memory capped, its imports checked, and its VM started in a worker. `open()` starts one
 * request's pass through them (plugin-stream.ts).
 */
import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import type { PluginConfig } from '../config/types.js'
import { MeshError } from '../../core/errors.js'
import { ABI_VERSION_EXPORTS } from './abi.js'
import { limitMemory, pagesFor } from './memory-limit.js'
import type { PluginObserver } from './observer.js'
import { PluginStream } from './plugin-stream.js'
import { PluginVm } from './plugin-vm.js'
import type { PropertyMap } from './vm-protocol.js'

export interface PluginChainDeps {
  logger: Logger
  observer: PluginObserver
}

export class PluginChain {
  readonly #members: Array<{ vm: PluginVm, failOpen: boolean }>

  private constructor (members: Array<{ vm: PluginVm, failOpen: boolean }>) {
    this.#members = members
  }

  /** Loads and starts every plugin; rejects with E_PLUGIN naming the plugin and its file. */
  static async load (configs: readonly PluginConfig[], deps: PluginChainDeps): Promise<PluginChain> {
    const members: Array<{ vm: PluginVm, failOpen: boolean }> = []
    try {
      for (const config of configs) members.push({ vm: await startVm(config, deps), failOpen: config.failOpen })
    } catch (err) {
      await Promise.all(members.map(async (m) => { await m.vm.close() }))
      throw err
    }
    return new PluginChain(members)
  }

  get names (): string[] { return this.#members.map((m) => m.vm.name) }

  /** A request's pass through the plugins, with the properties they may read. */
  open (properties: PropertyMap): PluginStream {
    return new PluginStream(this.#members, properties)
  }

  async close (): Promise<void> {
    await Promise.all(this.#members.map(async (m) => { await m.vm.close() }))
  }
}

async function startVm (config: PluginConfig, deps: PluginChainDeps): Promise<PluginVm> {
  const where = `plugin "${config.name}" (${config.wasm})`
  let module: WebAssembly.Module
  try {
    const bytes = limitMemory(new Uint8Array(await readFile(config.wasm)), pagesFor(config.maxMemory))
    module = new WebAssembly.Module(bytes)
  } catch (err) {
    throw new MeshError('E_PLUGIN', `${where}: ${(err as Error).message}`, { cause: err })
  }
  const exported = new Set(WebAssembly.Module.exports(module).map((e) => e.name))
  if (!ABI_VERSION_EXPORTS.some((name) => exported.has(name))) {
    throw new MeshError('E_PLUGIN', `${where}: not a Proxy-Wasm module (it exports none of ${ABI_VERSION_EXPORTS.join(', ')})`)
  }
  const configuration = Buffer.from(typeof config.config === 'string' ? config.config : JSON.stringify(config.config), 'utf8')
  try {
    return await PluginVm.start({
      name: config.name,
      module,
      configuration,
      maxPages: pagesFor(config.maxMemory),
      callTimeoutMs: config.callTimeoutMs,
      startTimeoutMs: Math.max(5_000, config.callTimeoutMs * 10),
      maxTraps: config.maxTraps,
      logger: deps.logger.child({ component: 'plugin' }),
      observer: deps.observer,
    })
  } catch (err) {
    throw new MeshError('E_PLUGIN', `${where}: ${(err as Error).message}`, { cause: err })
  }
}
