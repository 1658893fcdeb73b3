/** The dashboard page and its script, embedded as strings so the build output is self-contained. */
export { DASHBOARD_CSP, DASHBOARD_HTML } from './page.js'
export { DASHBOARD_SCRIPT } from './script.js'
