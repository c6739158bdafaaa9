"""The board as one static HTML page (no server, no network): sortable, per period, per measure.

The data is embedded as JSON; a small script draws the table, the sparklines (the last 30
days' totals per member) and the tier badges, and re-sorts on a click on a column header.
The kiosk variant refreshes itself every ``kiosk_seconds`` and shows the periods in turn.
"""

from __future__ import annotations

from html import escape
from typing import Any

import orjson

# the tray's palette (app.gui.tray.TIER_COLOURS), by tier: none, 10M, 100M, 1B
TIER_COLOURS = {"": "#6b7280", "10M": "#16a34a", "100M": "#2563eb", "1B": "#d97706"}
ROW_FIELDS = (
    "member", "total", "fresh", "cr", "out", "calls", "cost_usd", "days", "best_tier", "rank_total", "rank_fresh"
)

STYLE = """
:root { color-scheme: light dark; --fg:#111827; --bg:#f9fafb; --muted:#6b7280; --line:#e5e7eb; --card:#fff; }
@media (prefers-color-scheme: dark) {
  :root { --fg:#e5e7eb; --bg:#111827; --muted:#9ca3af; --line:#374151; --card:#1f2937; }
}
body { font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
       color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 1180px; margin: 0 auto; padding: 12px 20px; }
h1 { font-size: 26px; margin: 8px 0 2px; } .sub { color: var(--muted); }
.controls { display: flex; gap: 18px; flex-wrap: wrap; align-items: center; margin: 10px 0; }
.seg button { border: 1px solid var(--line); background: var(--card); color: var(--fg); padding: 6px 12px;
              cursor: pointer; font: inherit; } .seg button + button { border-left: none; }
.seg button:first-child { border-radius: 6px 0 0 6px; } .seg button:last-child { border-radius: 0 6px 6px 0; }
.seg button[aria-pressed="true"] { background: #2563eb; color: #fff; border-color: #2563eb; }
table { width: 100%; border-collapse: collapse; background: var(--card); border-radius: 8px; overflow: hidden; }
th, td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { cursor: pointer; user-select: none; font-weight: 600; color: var(--muted); font-size: 13px; }
th.text, td.text { text-align: left; } th[aria-sort] { color: var(--fg); }
th[aria-sort="ascending"]::after { content: " ▲"; } th[aria-sort="descending"]::after { content: " ▼"; }
td.member { font-weight: 600; } td.rank { color: var(--muted); width: 2.5em; }
.badge { display: inline-block; min-width: 3.2em; text-align: center; padding: 1px 7px; border-radius: 999px;
         color: #fff; font-size: 12px; font-weight: 700; }
.flag { color: #b91c1c; font-size: 12px; } svg.spark { vertical-align: middle; }
.rej { color: var(--muted); font-size: 13px; } .rej li { margin: 2px 0; }
body.kiosk { font-size: 24px; } body.kiosk header, body.kiosk main { max-width: none; }
body.kiosk th { font-size: 18px; } body.kiosk .badge { font-size: 18px; } body.kiosk h1 { font-size: 40px; }
body.kiosk .controls { display: none; }
body.kiosk .col-cr, body.kiosk .col-out, body.kiosk .col-cost_usd, body.kiosk .col-calls { display: none; }
"""

SCRIPT = """
(function () {
  const data = JSON.parse(document.getElementById('board-data').textContent);
  const kiosk = document.body.classList.contains('kiosk');
  const colours = data.colours;
  const members = Object.fromEntries(data.members.map(m => [m.member, m]));
  const state = { period: 'today', measure: 'total', sort: null, dir: -1 };
  const fmt = n => n == null ? '–' : n >= 1e9 ? (n / 1e9).toFixed(2) + 'B' : n >= 1e6 ? (n / 1e6).toFixed(1) + 'M'
      : n >= 1e3 ? (n / 1e3).toFixed(1) + 'K' : String(n);
  const columns = [
    { key: 'rank', title: '#', cls: 'rank' },
    { key: 'member', title: 'Member', cls: 'text member' },
    { key: 'tier', title: 'Tier today', cls: 'text' },
    { key: 'total', title: 'Total' }, { key: 'fresh', title: 'Fresh' }, { key: 'cr', title: 'Cache read' },
    { key: 'out', title: 'Output' }, { key: 'calls', title: 'Calls' }, { key: 'cost_usd', title: 'Cost' },
    { key: 'days', title: 'Days' }, { key: 'streak', title: 'Streak' },
    { key: 'spark', title: '30 days', cls: 'text', nosort: true }, { key: 'flags', title: 'Flags', cls: 'text' },
  ];
  function value(row, key) {
    const m = members[row.member];
    if (key === 'rank') return row['rank_' + state.measure];
    if (key === 'tier') return m.tier ? data.milestones[m.tier] : 0;
    if (key === 'streak') return m.streak;
    if (key === 'flags') return m.flags.length;
    if (key === 'member') return row.member.toLowerCase();
    return row[key] == null ? -1 : row[key];
  }
  function badge(tier) {
    const s = document.createElement('span');
    s.className = 'badge'; s.textContent = tier || '—'; s.style.background = colours[tier || ''];
    return s;
  }
  function spark(values) {
    const w = 120, h = 26, max = Math.max(1, ...values), ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'spark'); svg.setAttribute('width', w); svg.setAttribute('height', h);
    const pts = values.map((v, i) => (i * (w - 2) / (values.length - 1) + 1).toFixed(1) + ','
        + (h - 2 - v / max * (h - 4)).toFixed(1)).join(' ');
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', pts); line.setAttribute('fill', 'none');
    line.setAttribute('stroke', '#2563eb'); line.setAttribute('stroke-width', '1.6');
    svg.appendChild(line);
    const last = document.createElementNS(ns, 'circle');
    last.setAttribute('cx', w - 1); last.setAttribute('cy', h - 2 - values[values.length - 1] / max * (h - 4));
    last.setAttribute('r', 2.2); last.setAttribute('fill', '#2563eb'); svg.appendChild(last);
    return svg;
  }
  function render() {
    const rows = data.periods[state.period].slice();
    const key = state.sort || 'rank';
    const dir = state.sort ? state.dir : 1;
    rows.sort((a, b) => {
      const x = value(a, key), y = value(b, key);
      if (x < y) return -dir; if (x > y) return dir;
      return a['rank_' + state.measure] - b['rank_' + state.measure];
    });
    const head = document.getElementById('head'), body = document.getElementById('rows');
    head.textContent = ''; body.textContent = '';
    const tr = document.createElement('tr');
    for (const c of columns) {
      const th = document.createElement('th');
      th.textContent = c.title; th.className = (c.cls || '') + ' col-' + c.key; th.dataset.key = c.key;
      if (c.key === key) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      if (!c.nosort) th.addEventListener('click', () => {
        if (state.sort === c.key) state.dir = -state.dir;
        else { state.sort = c.key; state.dir = (c.key === 'member' || c.key === 'rank') ? 1 : -1; }
        render();
      });
      tr.appendChild(th);
    }
    head.appendChild(tr);
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      const m = members[r.member], row = document.createElement('tr');
      for (const c of columns) {
        const td = document.createElement('td'); td.className = (c.cls || '') + ' col-' + c.key;
        if (c.key === 'rank') td.textContent = r['rank_' + state.measure];
        else if (c.key === 'member') td.textContent = r.member;
        else if (c.key === 'tier') td.appendChild(badge(m.tier));
        else if (c.key === 'spark') td.appendChild(spark(m.spark));
        else if (c.key === 'streak')
          td.textContent = m.streak + (m.best_streak > m.streak ? ' (best ' + m.best_streak + ')' : '');
        else if (c.key === 'flags') { td.textContent = m.flags.join(', '); td.className += ' flag'; }
        else if (c.key === 'cost_usd') td.textContent = r.cost_usd == null ? '–' : '$' + r.cost_usd.toFixed(2);
        else if (c.key === 'days') td.textContent = r.days;
        else td.textContent = fmt(r[c.key]);
        if (c.key === 'total' || c.key === 'fresh') td.title = r[c.key].toLocaleString();
        row.appendChild(td);
      }
      frag.appendChild(row);
    }
    body.appendChild(frag);
    for (const b of document.querySelectorAll('[data-period]'))
      b.setAttribute('aria-pressed', b.dataset.period === state.period);
    for (const b of document.querySelectorAll('[data-measure]'))
      b.setAttribute('aria-pressed', b.dataset.measure === state.measure);
    document.getElementById('showing').textContent = data.titles[state.period] + ', ranked by '
        + (state.measure === 'total' ? 'total tokens' : 'fresh tokens (total without cache reads)');
  }
  for (const b of document.querySelectorAll('[data-period]'))
    b.addEventListener('click', () => { state.period = b.dataset.period; render(); });
  for (const b of document.querySelectorAll('[data-measure]'))
    b.addEventListener('click', () => { state.measure = b.dataset.measure; state.sort = null; render(); });
  if (kiosk) {
    const order = Object.keys(data.periods); let i = 0;
    setInterval(() => { i = (i + 1) % order.length; state.period = order[i]; render(); }, 15000);
  }
  render();
})();
"""


def _json_for_script(value: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>``, no ``<!--``)."""
    return orjson.dumps(value).decode().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(board: dict[str, Any], kiosk_seconds: int | None = None) -> str:
    """The board page; with ``kiosk_seconds`` the wall-screen variant that reloads itself."""
    from app.club.board import PERIOD_TITLES

    data = {
        "as_of": board["as_of"],
        "milestones": board["milestones"],
        "colours": TIER_COLOURS,
        "titles": PERIOD_TITLES,
        "periods": {p: [{k: r[k] for k in ROW_FIELDS} for r in rows] for p, rows in board["periods"].items()},
        "members": [
            {k: m[k] for k in ("member", "tier", "streak", "best_streak", "spark", "flags")} for m in board["members"]
        ],
    }
    refresh = f'<meta http-equiv="refresh" content="{int(kiosk_seconds)}">' if kiosk_seconds else ""
    rejected = "".join(
        f"<li>{escape(r['file'])}: <b>{escape(r['rule'])}</b> ({escape(r['action'])}) – {escape(r['reason'])}</li>"
        for r in board["rejections"][:200]
    )
    more = len(board["rejections"]) - 200
    rejected += f"<li>… and {more} more (leaderboard.json lists all)</li>" if more > 0 else ""
    legend = " ".join(
        f'<span class="badge" style="background:{TIER_COLOURS[t]}">{escape(t)}</span> ≥ {m:,} tokens a day'
        for t, m in board["milestones"].items()
    )
    buttons = "".join(f'<button data-period="{p}">{escape(t)}</button>' for p, t in PERIOD_TITLES.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{refresh}<title>TokenClub leaderboard · {escape(board["as_of"])}</title>
<style>{STYLE}</style></head>
<body class="{'kiosk' if kiosk_seconds else ''}">
<header><h1>TokenClub leaderboard</h1>
<div class="sub">{len(board["members"])} members · days up to {escape(board["as_of"])}
 · generated {escape(board["generated"])} · <span id="showing"></span></div>
<div class="controls">
<div class="seg" role="group" aria-label="Period">{buttons}</div>
<div class="seg" role="group" aria-label="Ranking"><button data-measure="total">Total tokens</button><button
 data-measure="fresh">Fresh tokens</button></div>
</div></header>
<main><table><thead id="head"></thead><tbody id="rows"></tbody></table>
<noscript><p>This board needs JavaScript to draw its table; leaderboard.csv has the same numbers.</p></noscript>
</main>
<footer class="sub"><p>{legend}. Fresh tokens are the total without cache reads. Streak: days in a row at
10M or more (today counts once reached). {escape(board["ranking"]["tie_breaks"])}</p>
<p>{board["files"]["merged"]} files merged, {board["files"]["rejected"]} rejected.</p>
<ul class="rej">{rejected}</ul></footer>
<script id="board-data" type="application/json">{_json_for_script(data)}</script>
<script>{SCRIPT}</script>
</body></html>
"""
