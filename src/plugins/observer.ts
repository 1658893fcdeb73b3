/** What the plugin host reports to metrics: traps (and timeouts) per plugin, and disabled plugins. */
export interface PluginObserver {
  /** `kind`: `trap` (the VM trapped) or `timeout` (a call ran past its budget). */
  failure?: (plugin: string, kind: 'trap' | 'timeout') => void
  /** The plugin reached its trap limit and takes no more calls. */
  disabled?: (plugin: string) => void
}

export const noopPluginObserver: PluginObserver = {}
