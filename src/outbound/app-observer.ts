/**
 * What the outbound listeners report about app clients that hit a limit, for metrics: sessions
 * and connections closed by a rule, and h2c streams the client reset. Counted, never logged one
 * by one (a hostile client would turn each into a log line).
 */

/** Why an app connection or h2c session was closed by a limit. */
export type AppCloseReason = 'rapid_reset' | 'header_timeout' | 'max_requests' | 'flood'

export interface AppClientObserver {
  /** An app connection (HTTP/1) or h2c session was closed by the rule `reason`. */
  sessionClosed: (reason: AppCloseReason) => void
  /** The app client reset an h2c stream before its exchange ended (RST_STREAM). */
  streamReset: () => void
}

export const noopAppClientObserver: AppClientObserver = {
  sessionClosed: () => {},
  streamReset: () => {},
}
