/** The dashboard's HTML and CSS. */
export const DASHBOARD_HTML = '<!doctype html><title>meshgate</title><p>dashboard coming</p>\n'
