/** The dashboard's HTML and CSS; the script is /dashboard.js (no inline script, so a strict CSP holds). */

export const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'"

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshgate</title>
<style>
  :root { color-scheme: dark; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: #0d1117; color: #c9d1d9; }
  header { display: flex; align-items: baseline; gap: 16px; padding: 12px 20px; border-bottom: 1px solid #30363d; }
  header h1 { font-size: 18px; margin: 0; }
  #status.ok { color: #3fb950; } #status.bad { color: #f85149; }
  main { padding: 16px 20px; display: grid; gap: 16px; }
  .kpis { display: grid; grid-template-columns: repeat(7, minmax(110px, 1fr)); gap: 12px; }
  .kpi { background: #161b22; border: 1px solid #30363d; border-radius: 6px; padding: 10px 12px; }
  .kpi .label { font-size: 12px; color: #8b949e; }
  .kpi .value { font-size: 22px; font-variant-numeric: tabular-nums; }
  .charts { display: grid; grid-template-columns: repeat(2, minmax(300px, 1fr)); gap: 12px; }
  section { background: #161b22; border: 1px solid #30363d; border-radius: 6px; padding: 10px 12px; overflow: auto; }
  section h2 { font-size: 13px; margin: 0 0 6px; color: #8b949e; font-weight: 600; }
  canvas { width: 100%; height: 180px; display: block; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #21262d; white-space: nowrap; }
  th { color: #8b949e; font-weight: 600; font-size: 12px; }
  .tables { display: grid; grid-template-columns: 2fr 1fr; gap: 12px; }
  form { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 6px; align-items: center; }
  input { background: #0d1117; color: #c9d1d9; border: 1px solid #30363d; border-radius: 4px; padding: 3px 6px; }
  button { background: #21262d; color: #c9d1d9; border: 1px solid #30363d; border-radius: 4px; padding: 3px 10px; cursor: pointer; }
  #tap-wrap { max-height: 320px; overflow: auto; }
  .muted { color: #8b949e; font-size: 12px; }
</style>
</head>
<body>
<header><h1>meshgate</h1><span id="status">connecting…</span></header>
<main>
  <div class="kpis">
    <div class="kpi"><div class="label">requests</div><div class="value" id="kpi-rps">–</div></div>
    <div class="kpi"><div class="label">success</div><div class="value" id="kpi-success">–</div></div>
    <div class="kpi"><div class="label">p50 latency</div><div class="value" id="kpi-p50">–</div></div>
    <div class="kpi"><div class="label">p99 latency</div><div class="value" id="kpi-p99">–</div></div>
    <div class="kpi"><div class="label">open tunnels</div><div class="value" id="kpi-tunnels">–</div></div>
    <div class="kpi"><div class="label">tunnel bytes</div><div class="value" id="kpi-bytes">–</div></div>
    <div class="kpi"><div class="label">peer sessions</div><div class="value" id="kpi-sessions">–</div></div>
  </div>
  <div class="charts">
    <section><h2>Request rate</h2><canvas id="chart-rps"></canvas></section>
    <section><h2>Success rate</h2><canvas id="chart-success"></canvas></section>
    <section><h2>Latency (to response head)</h2><canvas id="chart-latency"></canvas></section>
    <section><h2>TCP tunnel bytes</h2><canvas id="chart-tcp"></canvas></section>
  </div>
  <div class="tables">
    <section><h2>Per authority</h2>
      <table><thead><tr><th>authority</th><th>direction</th><th>rate</th><th>success</th><th>p50</th><th>p99</th><th>route</th></tr></thead><tbody id="authorities"></tbody></table>
    </section>
    <section><h2>Peer sessions per transport</h2>
      <table><thead><tr><th>transport</th><th>side</th><th>sessions</th><th>streams</th></tr></thead><tbody id="sessions"></tbody></table>
    </section>
  </div>
  <section><h2>Live tap</h2>
    <form id="tap-form">
      <input id="tap-authority" placeholder="authority">
      <input id="tap-pathPrefix" placeholder="path prefix">
      <input id="tap-method" placeholder="method" size="8">
      <input id="tap-identity" placeholder="identity">
      <button type="submit">Follow</button><button type="button" id="tap-pause">Pause</button>
      <span id="tap-state" class="muted"></span><span id="tap-dropped" class="muted"></span>
    </form>
    <div id="tap-wrap"><table><thead><tr><th>time</th><th>kind</th><th>direction</th><th>method</th><th>authority</th><th>path / bytes</th><th>status</th><th>latency</th><th>caller</th></tr></thead><tbody id="tap"></tbody></table></div>
  </section>
</main>
<script src="dashboard.js"></script>
</body>
</html>
`
