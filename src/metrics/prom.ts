/**
 * The prom-client classes meshgate uses, loaded file by file. The package's index also loads
 * Summary (tdigest), Pushgateway (http, https, zlib), the cluster aggregator and the default
 * collectors with @opentelemetry/api: ~2 MB of RSS in every proxy for code it never runs.
 * test/metrics/prom.test.ts checks that these are the package's own classes.
 */
import { createRequire } from 'node:module'
import type * as PromClient from 'prom-client'

const require = createRequire(import.meta.url)

// Each class is a value and a type of the same name, as in prom-client's own typings.
/* eslint-disable @typescript-eslint/no-redeclare */
export type Registry = PromClient.Registry
export const Registry = require('prom-client/lib/registry') as typeof PromClient.Registry
export type Counter<T extends string = string> = PromClient.Counter<T>
export const Counter = require('prom-client/lib/counter') as typeof PromClient.Counter
export type Gauge<T extends string = string> = PromClient.Gauge<T>
export const Gauge = require('prom-client/lib/gauge') as typeof PromClient.Gauge
export type Histogram<T extends string = string> = PromClient.Histogram<T>
export const Histogram = require('prom-client/lib/histogram') as typeof PromClient.Histogram
/* eslint-enable @typescript-eslint/no-redeclare */

/** One of prom-client's runtime collectors (`lib/metrics/<name>.js`): registers its metrics on `registry`. */
export type RuntimeCollector = (registry: Registry, config: { eventLoopMonitoringPrecision: number }) => void

/** The collector `prom-client/lib/metrics/<name>.js`. */
export function runtimeCollector (name: string): RuntimeCollector {
  return require(`prom-client/lib/metrics/${name}`) as RuntimeCollector
}
