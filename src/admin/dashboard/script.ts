/** The dashboard's browser script. */
export const DASHBOARD_SCRIPT = '\n'
