/** The layers of idle-floor/stack.ts, each a process that loads the ones before it and one more. */
export const FLOOR_LAYERS = ['runtime', 'engine', 'deps', 'admin'] as const
export type FloorLayer = typeof FLOOR_LAYERS[number]

/** What each layer adds to the one before, for the report. */
export const FLOOR_LAYER_TEXT: Record<FloorLayer, string> = {
  runtime: 'Node with meshgate\'s flags and start-up V8 settings, nothing loaded',
  engine: '+ the engine addon (memory given back after start-up, as meshgate does)',
  deps: '+ pino logger, yaml document, prom-client registry with one counter',
  admin: '+ node:http server on loopback, asked once',
}
