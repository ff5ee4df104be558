// logwarden's dashboard: hash-routed views over the query API (/api/v1/, see
// /api/v1/openapi.json). Every list is paged with the API's cursors and every chart asks for a
// step that keeps it under MAX_POINTS points, so 100k templates and a week of windows cost the
// page no more than an hour does.
import { api, ApiError, getToken, setToken } from './api.js';
import {
  align, destroyCharts, levelColor, MAX_POINTS, pickStep, rangeSeconds, sparkline, stepParam,
  timeChart,
} from './charts.js';
import {
  $, debounce, epoch, fmtNum, h, iso, table, timeEl, valueText,
} from './dom.js';

const PAGE = 50;           // rows per page of incidents, templates and sources
const SPARK_BUCKETS = 24;  // points per template sparkline

const RANGE_KEY = 'logwarden.range';
const state = { range: sessionStorage.getItem(RANGE_KEY) || '-1h' };

// ---- routing ---------------------------------------------------------------------------------

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = (q >= 0 ? raw.slice(0, q) : raw).split('/').map(decodeURIComponent);
  const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  return { view: path[0] || 'overview', arg: path.slice(1).join('/'), params };
}

// Changes the query of the current view without a new history entry (filters, paging, search).
function setParams(view, params, arg) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') p.set(k, v);
  const qs = p.toString();
  const hash = `#/${view}${arg ? '/' + encodeURIComponent(arg) : ''}${qs ? '?' + qs : ''}`;
  history.replaceState(null, '', hash);
}

const views = {
  overview: viewOverview,
  incidents: viewIncidents,
  incident: viewIncident,
  templates: viewTemplates,
  template: viewTemplate,
  sources: viewSources,
  source: viewSource,
  rules: viewRules,
};
const NAV_OF = { incident: 'incidents', template: 'templates', source: 'sources' };

let current = null;

async function route() {
  const r = parseHash();
  const fn = views[r.view];
  if (current) current.abort();
  const ctrl = new AbortController();
  current = ctrl;
  destroyCharts();
  hideError();
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === (NAV_OF[r.view] || r.view)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = $('#main');
  main.setAttribute('aria-busy', 'true');
  if (!fn) {
    main.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, 'No such view. ',
      h('a', { href: '#/overview' }, 'Back to the overview.')));
    main.removeAttribute('aria-busy');
    return;
  }
  const ctx = {
    arg: r.arg, params: r.params, signal: ctrl.signal,
    get: (path, params) => api(path, { params, signal: ctrl.signal }),
    // Swaps the view's content in, unless the user has moved on meanwhile.
    show: (...nodes) => {
      if (ctrl.signal.aborted) return false;
      main.replaceChildren(...nodes);
      return true;
    },
  };
  try {
    await fn(ctx);
  } catch (e) {
    if (e.name === 'AbortError' || ctrl.signal.aborted) return;
    failView(main, e, route);
  } finally {
    if (current === ctrl) main.removeAttribute('aria-busy');
  }
}

// An API failure: a form for the token on 401 (and on 403 for writes), else the message, plainly.
function failView(main, e, retry) {
  if (e instanceof ApiError && e.status === 401) {
    main.replaceChildren(tokenForm(getToken()
      ? 'The token given is not accepted by this logwarden. Enter a valid token.'
      : 'This logwarden asks for a token. Enter its read-only or read-write token.', retry));
    $('#token-input').focus();
    return;
  }
  // Anything but an API error is a bug of the page: the console gets the stack too.
  if (!(e instanceof ApiError)) console.error(e);
  showError(e.message);
  main.replaceChildren(h('h1', {}, 'Something went wrong'), h('p', { class: 'error-inline' }, e.message),
    h('p', {}, h('button', { type: 'button', onclick: retry }, 'Try again')));
}

function tokenForm(reason, done) {
  const input = h('input', {
    id: 'token-input', type: 'password', name: 'token', autocomplete: 'current-password',
    required: true, size: 40, 'aria-describedby': 'token-help',
  });
  return h('section', { class: 'card token' },
    h('h1', {}, 'Token needed'),
    h('p', { id: 'token-help' }, reason, ' It is kept for this browser tab only (sessionStorage) ' +
      'and sent as "Authorization: Bearer …" with every request.'),
    h('form', {
      onsubmit: (ev) => {
        ev.preventDefault();
        setToken(input.value.trim());
        updateTokenButton();
        done();
      },
    }, h('label', { for: 'token-input' }, 'Token'), ' ', input, ' ',
    h('button', { type: 'submit' }, 'Use token')));
}

function updateTokenButton() {
  const b = $('#forget-token');
  b.hidden = !getToken();
}

function showError(msg) {
  const el = $('#error');
  el.replaceChildren(h('span', {}, msg), ' ',
    h('button', { type: 'button', class: 'link', onclick: hideError, 'aria-label': 'Dismiss error' }, 'Dismiss'));
  el.hidden = false;
}

function hideError() {
  $('#error').hidden = true;
}

function flash(msg) {
  const el = $('#status');
  el.textContent = msg;
  el.hidden = false;
  clearTimeout(flash.t);
  flash.t = setTimeout(() => { el.hidden = true; }, 8000);
}

// ---- shared pieces ---------------------------------------------------------------------------

function rangeParams() {
  return { from: state.range, to: 'now' };
}

function rangeLabel() {
  const sel = $('#range');
  return sel.options[sel.selectedIndex].text;
}

// Cursor paging: the API gives next_cursor; the previous pages' cursors are kept in the hash
// ("prev" is a comma list) so Back and reload work.
function pager(params, nextCursor, go) {
  const prev = (params.get('prev') || '').split(',').filter(Boolean);
  const cur = params.get('cursor') || '';
  const page = prev.length + 1;
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('button', {
      type: 'button', disabled: page === 1,
      onclick: () => go({ cursor: prev[prev.length - 1] === '-' ? '' : prev[prev.length - 1], prev: prev.slice(0, -1).join(',') }),
    }, '‹ Previous'),
    h('span', { class: 'muted' }, `page ${page}`),
    h('button', {
      type: 'button', disabled: !nextCursor,
      onclick: () => go({ cursor: nextCursor, prev: [...prev, cur || '-'].join(',') }),
    }, 'Next ›'));
}

function severityBadge(s) {
  return h('span', { class: `badge sev-${String(s || 'unknown').replace(/[^a-z]/g, '')}` }, s || '?');
}

function stateBadge(inc) {
  if (inc.feedback) {
    return h('span', { class: 'badge muted-badge' },
      inc.feedback.kind === 'expected' ? 'expected' : 'false positive');
  }
  return h('span', { class: `badge state-${inc.state === 'open' ? 'open' : 'closed'}` }, inc.state || '?');
}

const templateLink = (id, text) =>
  (id === null || id === undefined ? '–' : h('a', { href: `#/template/${id}`, class: 'tpl' }, text || `#${id}`));
const sourceLink = (s) => (s ? h('a', { href: `#/source/${encodeURIComponent(s)}` }, s) : '–');

function explanation(ex) {
  if (!ex || typeof ex !== 'object') return ex ? h('p', {}, String(ex)) : null;
  const entries = Object.entries(ex);
  if (entries.length === 0) return null;
  return h('dl', { class: 'explain' }, entries.map(([k, v]) => [h('dt', {}, k.replace(/_/g, ' ')), h('dd', {}, valueText(v))]));
}

function exampleLines(list, title = 'Example lines') {
  if (!list || list.length === 0) return h('p', { class: 'muted' }, 'No example lines kept.');
  return h('div', { class: 'examples' }, h('h4', {}, title),
    h('pre', { class: 'lines', tabindex: '0' }, list.map((l) => {
      if (typeof l === 'string') return h('span', { class: 'line' }, l);
      return h('span', { class: 'line' },
        l.time ? h('span', { class: 'muted' }, timeEl(l.time), ' ') : null,
        l.source ? h('span', { class: 'src' }, `${l.source} `) : null, l.line ?? l.text ?? JSON.stringify(l));
    })));
}

// Marks "false positive" or "expected" on incident @inc; resolves to the new rule.
async function sendFeedback(inc, kind, scope, expires) {
  const body = { kind, note: 'marked in the dashboard' };
  if (scope) body.scope = scope;
  if (expires !== undefined) body.expires = expires;
  const r = await api(`/api/v1/incidents/${encodeURIComponent(inc.id)}/feedback`, { method: 'POST', body });
  return r && r.rule ? r.rule : null;
}

// The narrowest scope that covers the incident (the API's own default too).
function defaultScope(inc) {
  return inc.template_id !== null && inc.template_id !== undefined ? 'detector_template' : 'detector';
}

function feedbackButtons(inc, onDone, compact) {
  const wrap = h('span', { class: 'fb' });
  const go = async (kind, btn) => {
    for (const b of wrap.querySelectorAll('button')) b.disabled = true;
    btn.textContent = 'Saving…';
    try {
      const rule = await sendFeedback(inc, kind, defaultScope(inc), kind === 'expected' ? '24h' : null);
      flash(`Incident ${inc.id} marked ${kind === 'expected' ? 'expected' : 'false positive'}` +
        (rule && rule.id !== undefined ? `: rule ${rule.id} (listed under Rules, where it can be deleted).` : '.'));
      onDone(kind, rule);
    } catch (e) {
      for (const b of wrap.querySelectorAll('button')) b.disabled = false;
      btn.textContent = kind === 'expected' ? 'Expected' : 'False positive';
      if (e instanceof ApiError && e.status === 403) showError(`${e.message}. Marking needs the read-write token: use "Forget token" and enter it.`);
      else showError(e.message);
    }
  };
  const fp = h('button', { type: 'button', class: 'btn-fp', 'data-action': 'false-positive', title: 'Not a problem: stop alerting on this', 'aria-label': compact ? `False positive: ${inc.id}` : null }, 'False positive');
  const ex = h('button', { type: 'button', class: 'btn-expected', 'data-action': 'expected', title: 'Known and expected: silence it for 24 hours', 'aria-label': compact ? `Expected: ${inc.id}` : null }, 'Expected');
  fp.addEventListener('click', () => go('false_positive', fp));
  ex.addEventListener('click', () => go('expected', ex));
  wrap.append(fp, ' ', ex);
  return wrap;
}

function incidentsTable(items, { withFeedback = true, onFeedback } = {}) {
  const cols = [
    { label: 'Last seen', cell: (i) => timeEl(i.last_seen) },
    { label: 'Severity', cell: (i) => severityBadge(i.severity) },
    { label: 'Incident', cell: (i) => h('a', { href: `#/incident/${encodeURIComponent(i.id)}` }, i.summary || i.id) },
    { label: 'Detector', cell: (i) => i.detector || '–' },
    { label: 'Source', cell: (i) => sourceLink(i.source) },
    { label: 'Alerts', cls: 'num', cell: (i) => fmtNum(i.n_alerts) },
    { label: 'State', cell: (i) => stateBadge(i) },
  ];
  if (withFeedback) {
    cols.push({
      label: 'Feedback',
      cell: (i) => (i.feedback || i.state !== 'open' ? '' : feedbackButtons(i, (kind, rule) => onFeedback(i, kind, rule), true)),
    });
  }
  return table('Incidents', cols, items, (i) => ({ 'data-incident': i.id }));
}

// Series of one template, source or level (or all lines) over [from, to] with its anomalies.
async function seriesChart(ctx, { title, filter, from, to, spanS, band, height }) {
  const step = pickStep(spanS);
  const s = await ctx.get('/api/v1/series', { ...filter, from, to, step: stepParam(step) });
  const [times, values] = align(s.step_s || step, s.points || []);
  const markers = (s.anomalies || []).map((a) => ({
    t: epoch(a.time), iso: a.time,
    label: `${a.detector || ''}${a.score !== undefined ? ` (score ${valueText(a.score)})` : ''}: ${a.summary || ''}`,
  }));
  return timeChart({
    title: `${title} per ${stepParam(s.step_s || step)}`, times, series: [{ label: 'lines', values, color: levelColor('info', 0), fill: 'rgba(25,118,210,0.10)' }],
    markers, band, stepS: s.step_s || step, height,
  });
}

// ---- overview --------------------------------------------------------------------------------

async function viewOverview(ctx) {
  const spanS = rangeSeconds(state.range);
  const step = pickStep(spanS);
  // The charts first: the open incidents are asked for once they are drawn, so that on a big
  // store the two queries do not compete for the daemon's reader and its two cores.
  const ov = await ctx.get('/api/v1/overview', { ...rangeParams(), step: stepParam(step) });
  const t = ov.totals || {};
  const stepS = ov.step_s || step;
  const levels = Object.keys(ov.by_level || {}).sort();
  const [times, lines, ...byLevel] = align(stepS, ov.lines || [], ...levels.map((l) => ov.by_level[l]));
  const [atimes, anomalies] = align(stepS, ov.anomalies || []);
  const perSec = ov.ingest && ov.ingest.lines_per_s;
  const stat = (label, value, href) => h('div', { class: 'stat' },
    h('div', { class: 'stat-value' }, href ? h('a', { href }, value) : value), h('div', { class: 'stat-label' }, label));

  let pending = 2;
  const drawn = () => {
    pending -= 1;
    if (pending === 0 && performance.getEntriesByName('lw:overview-drawn').length === 0) {
      // Read by bench/dashboard-render.sh: navigation start to both charts drawn.
      performance.mark('lw:overview-drawn');
    }
  };
  const once = () => { let done = false; return () => { if (!done) { done = true; drawn(); } }; };
  const linesChart = timeChart({
    title: `Lines per ${stepParam(stepS)}, by level`, times, stepS,
    series: [{ label: 'all lines', values: lines, color: 'rgba(60,60,60,0.85)', fill: 'rgba(120,120,120,0.10)' },
      ...levels.map((l, i) => ({ label: l, values: byLevel[i], color: levelColor(l, i) }))],
    onDrawn: once(),
  });
  const anomChart = timeChart({
    title: `Anomalies per ${stepParam(stepS)}`, times: atimes, stepS, height: 140,
    series: [{ label: 'anomalies', values: anomalies, color: '#d32f2f', fill: 'rgba(211,47,47,0.35)', bars: true }],
    empty: 'No anomalies in this range.', onDrawn: once(),
  });
  const incBox = h('div', { id: 'overview-incidents' }, h('p', { class: 'muted' }, 'Loading open incidents…'));
  const shown = ctx.show(
    h('h1', {}, 'Overview ', h('span', { class: 'muted small' }, rangeLabel())),
    h('section', { class: 'stats', 'aria-label': 'Totals' },
      stat('ingest, lines/s', perSec === undefined ? '–' : fmtNum(Math.round(perSec * 10) / 10)),
      stat('lines', fmtNum(t.lines)),
      stat('templates', fmtNum(t.templates), '#/templates'),
      stat('sources', fmtNum(t.sources), '#/sources'),
      stat('anomalies', fmtNum(t.anomalies)),
      stat('open incidents', fmtNum(t.open_incidents), '#/incidents?state=open')),
    h('section', { class: 'card' }, linesChart),
    h('section', { class: 'card' }, anomChart),
    h('section', { class: 'card' }, h('h2', {}, 'Open incidents'), incBox));
  if (!shown) return;
  linesChart.mount();
  anomChart.mount();
  const inc = await ctx.get('/api/v1/incidents', { ...rangeParams(), state: 'open', limit: 10 });
  const items = inc.items || [];
  incBox.replaceChildren(items.length === 0 ? h('p', { class: 'muted' }, 'No open incidents in this range.')
    : incidentsTable(items, { onFeedback: (i) => { incBox.querySelector(`tr[data-incident="${CSS.escape(i.id)}"]`)?.remove(); } }),
  inc.next_cursor ? h('p', {}, h('a', { href: '#/incidents?state=open' }, 'All open incidents ›')) : null);
}

// ---- incidents -------------------------------------------------------------------------------

async function viewIncidents(ctx) {
  const p = ctx.params;
  const f = {
    state: p.get('state') || 'open', severity: p.get('severity') || '', detector: p.get('detector') || '',
    source: p.get('source') || '', template: p.get('template') || '',
  };
  const go = (over) => {
    setParams('incidents', { ...f, cursor: p.get('cursor'), prev: p.get('prev'), ...over });
    route();
  };
  const res = await ctx.get('/api/v1/incidents', {
    ...rangeParams(), state: f.state, severity: f.severity, detector: f.detector, source: f.source,
    template: f.template, limit: PAGE, cursor: p.get('cursor'),
  });
  const items = res.items || [];
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter incidents', onsubmit: (e) => e.preventDefault() });
  const sel = (name, label, opts) => h('label', {}, label, ' ', h('select', {
    name, onchange: (e) => go({ [name]: e.target.value, cursor: '', prev: '' }),
  }, opts.map(([v, t]) => h('option', { value: v, selected: f[name] === v }, t))));
  const txt = (name, label, ph) => {
    const input = h('input', { name, type: 'search', value: f[name], placeholder: ph, size: 14 });
    input.addEventListener('input', debounce(() => go({ [name]: input.value.trim(), cursor: '', prev: '' }), 400));
    return h('label', {}, label, ' ', input);
  };
  form.append(
    sel('state', 'State', [['open', 'open'], ['resolved', 'resolved'], ['all', 'all']]),
    sel('severity', 'Severity', [['', 'any'], ['critical', 'critical'], ['warning', 'warning']]),
    txt('detector', 'Detector', 'e.g. volume'),
    txt('source', 'Source', 'host or file'),
    txt('template', 'Template id', 'e.g. 42'));
  const list = h('div', { id: 'incident-list' });
  const render = () => {
    list.replaceChildren(items.length === 0
      ? h('p', { class: 'muted empty' }, `No ${f.state === 'all' ? '' : f.state + ' '}incidents in ${rangeLabel()} with these filters.`)
      : incidentsTable(items, {
        onFeedback: (inc, kind, rule) => {
          if (f.state === 'open') {
            items.splice(items.indexOf(inc), 1);
          } else {
            inc.feedback = { kind, rule_id: rule ? rule.id : null };
          }
          render();
        },
      }));
  };
  render();
  const focused = document.activeElement && document.activeElement.name;
  if (!ctx.show(h('h1', {}, 'Incidents ', h('span', { class: 'muted small' }, rangeLabel())), form, list,
    pager(p, res.next_cursor, go))) return;
  // Typing in a filter re-renders the view: keep the caret where it was.
  if (focused && form.elements[focused]) {
    const el = form.elements[focused];
    el.focus();
    if (el.setSelectionRange && el.type === 'search') el.setSelectionRange(el.value.length, el.value.length);
  }
}

async function viewIncident(ctx) {
  const inc = await ctx.get(`/api/v1/incidents/${encodeURIComponent(ctx.arg)}`);
  const first = epoch(inc.first_seen);
  const last = epoch(inc.last_seen);
  // The chart shows the incident with an hour before it and a quarter after.
  const from = Math.floor(first - 3600);
  const to = Math.ceil(last + 900);
  const filter = inc.template_id !== null && inc.template_id !== undefined ? { template: inc.template_id }
    : inc.source ? { source: inc.source } : {};
  let chart = null;
  try {
    chart = await seriesChart(ctx, {
      title: inc.template_id !== null && inc.template_id !== undefined ? `Lines of template #${inc.template_id}`
        : inc.source ? `Lines of ${inc.source}` : 'All lines',
      filter, from: iso(from), to: iso(to), spanS: to - from, band: [first, last],
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    chart = h('p', { class: 'error-inline' }, `The chart could not be loaded: ${e.message}`);
  }
  // The rule's scope; the first option is the API's default for such an incident.
  const hasTpl = inc.template_id !== null && inc.template_id !== undefined;
  const scopes = hasTpl
    ? [['detector_template', 'this detector on this template'], ['template', 'this template, any detector'],
      inc.source ? ['template_source', 'this template from this source'] : null]
    : [['detector', 'this detector, everywhere'], inc.source ? ['detector_source', 'this detector on this source'] : null,
      inc.source ? ['source', 'this source, any detector'] : null];
  const scope = h('select', { id: 'fb-scope', name: 'scope' },
    scopes.filter(Boolean).map(([v, t]) => h('option', { value: v }, t)));
  const expires = h('select', { id: 'fb-expires', name: 'expires' },
    [['', 'never'], ['1h', '1 hour'], ['24h', '24 hours'], ['7d', '7 days']].map(([v, t]) => h('option', { value: v }, t)));
  const fbBox = h('div', { class: 'feedback-box' });
  const renderFb = () => {
    if (inc.feedback) {
      fbBox.replaceChildren(h('p', {}, 'Marked ', stateBadge(inc),
        inc.feedback.rule_id !== undefined && inc.feedback.rule_id !== null ? ` (rule ${inc.feedback.rule_id}, ` : ' (',
        h('a', { href: '#/rules' }, 'rules'), ').'));
      return;
    }
    const buttons = h('p', {});
    for (const [kind, label] of [['false_positive', 'False positive'], ['expected', 'Expected']]) {
      const b = h('button', { type: 'button', 'data-action': kind === 'expected' ? 'expected' : 'false-positive' }, label);
      b.addEventListener('click', async () => {
        b.disabled = true;
        try {
          const rule = await sendFeedback(inc, kind, scope.value || null, expires.value || null);
          inc.feedback = { kind, rule_id: rule ? rule.id : null };
          inc.state = 'resolved';
          flash(`Incident ${inc.id} marked ${kind === 'expected' ? 'expected' : 'false positive'}.`);
          renderFb();
        } catch (e) {
          b.disabled = false;
          showError(e.message);
        }
      });
      buttons.append(b, ' ');
    }
    fbBox.replaceChildren(h('h2', {}, 'Teach logwarden'),
      h('p', { class: 'muted' }, 'Marking stores a rule that the detectors and the alert manager respect; the incident leaves the open list.'),
      scope.options.length ? h('p', {}, h('label', { for: 'fb-scope' }, 'Scope '), scope) : null,
      h('p', {}, h('label', { for: 'fb-expires' }, 'Expires '), expires), buttons);
  };
  renderFb();
  const alerts = inc.alerts || [];
  const anomalies = inc.anomalies || [];
  const shown = ctx.show(
    h('p', {}, h('a', { href: '#/incidents' }, '‹ Incidents')),
    h('h1', {}, inc.summary || `Incident ${inc.id}`),
    h('section', { class: 'card' }, h('dl', { class: 'facts' },
      h('dt', {}, 'Incident'), h('dd', {}, inc.id),
      h('dt', {}, 'Severity'), h('dd', {}, severityBadge(inc.severity)),
      h('dt', {}, 'State'), h('dd', {}, stateBadge(inc)),
      h('dt', {}, 'Detector'), h('dd', {}, inc.detector || '–'),
      h('dt', {}, 'Source'), h('dd', {}, sourceLink(inc.source)),
      h('dt', {}, 'Template'), h('dd', {}, templateLink(inc.template_id, inc.template)),
      h('dt', {}, 'First seen'), h('dd', {}, timeEl(inc.first_seen)),
      h('dt', {}, 'Last seen'), h('dd', {}, timeEl(inc.last_seen)),
      h('dt', {}, 'Alerts / anomalies'), h('dd', {}, `${fmtNum(inc.n_alerts)} / ${fmtNum(inc.n_anomalies)}`))),
    h('section', { class: 'card' }, chart),
    h('section', { class: 'card' }, fbBox),
    h('section', { class: 'card' }, h('h2', {}, `Anomalies (${anomalies.length})`),
      anomalies.length === 0 ? h('p', { class: 'muted' }, 'None stored.') : anomalies.map((a) =>
        h('article', { class: 'anomaly' },
          h('h3', {}, timeEl(a.time), ' ', a.detector || '', a.kind ? ` · ${a.kind}` : '',
            a.score !== undefined ? h('span', { class: 'muted' }, ` · score ${valueText(a.score)}`) : null),
          a.summary ? h('p', {}, a.summary) : null,
          explanation(a.explanation),
          exampleLines(a.examples)))),
    h('section', { class: 'card' }, h('h2', {}, `Alerts (${alerts.length})`),
      alerts.length === 0 ? h('p', { class: 'muted' }, 'None.') : table('Alerts', [
        { label: 'Time', cell: (a) => timeEl(a.time) },
        { label: 'Severity', cell: (a) => severityBadge(a.severity) },
        { label: 'State', cell: (a) => a.state || '–' },
        { label: 'Sink', cell: (a) => a.sink || '–' },
        { label: 'Summary', cell: (a) => a.summary || '–' },
      ], alerts)));
  if (shown && chart && chart.mount) chart.mount();
}

// ---- templates -------------------------------------------------------------------------------

async function viewTemplates(ctx) {
  const p = ctx.params;
  const f = { q: p.get('q') || '', sort: p.get('sort') || 'count', order: p.get('order') || 'desc' };
  const go = (over) => {
    setParams('templates', { ...f, cursor: p.get('cursor'), prev: p.get('prev'), ...over });
    route();
  };
  const res = await ctx.get('/api/v1/templates', { q: f.q, sort: f.sort, order: f.order, limit: PAGE, cursor: p.get('cursor') });
  const items = res.items || [];
  const search = h('input', { id: 'tpl-search', type: 'search', name: 'q', value: f.q, placeholder: 'text in the template', size: 30 });
  search.addEventListener('input', debounce(() => go({ q: search.value.trim(), cursor: '', prev: '' }), 300));
  const sortSel = h('select', { name: 'sort', onchange: (e) => go({ sort: e.target.value, cursor: '', prev: '' }) },
    [['count', 'count'], ['last_seen', 'last seen'], ['first_seen', 'first seen'], ['id', 'id']]
      .map(([v, t]) => h('option', { value: v, selected: f.sort === v }, t)));
  const orderSel = h('select', { name: 'order', onchange: (e) => go({ order: e.target.value, cursor: '', prev: '' }) },
    [['desc', 'descending'], ['asc', 'ascending']].map(([v, t]) => h('option', { value: v, selected: f.order === v }, t)));
  const sparks = new Map();
  const tbl = items.length === 0 ? h('p', { class: 'muted empty' }, f.q ? `No template contains "${f.q}".` : 'No templates yet.')
    : table('Templates', [
      { label: 'Id', cls: 'num', cell: (t) => h('a', { href: `#/template/${t.id}` }, `#${t.id}`) },
      { label: 'Template', cls: 'tpl-cell', cell: (t) => h('a', { href: `#/template/${t.id}`, class: 'tpl', title: t.text }, t.text) },
      { label: 'Count', cls: 'num', cell: (t) => fmtNum(t.count) },
      { label: 'Last seen', cell: (t) => timeEl(t.last_seen) },
      {
        label: `Lines, ${rangeLabel()}`,
        cell: (t) => {
          const c = h('canvas', { class: 'spark', role: 'img', 'aria-label': 'loading' });
          sparks.set(String(t.id), c);
          return c;
        },
      },
    ], items);
  const shown = ctx.show(
    h('h1', {}, 'Templates ', res.total !== undefined ? h('span', { class: 'muted small' }, `${fmtNum(res.total)} ${f.q ? 'matching' : 'in all'}`) : null),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'tpl-search' }, 'Search'), ' ', search, ' ',
      h('label', {}, 'Sort by ', sortSel), ' ', h('label', {}, 'Order ', orderSel)),
    tbl, pager(p, res.next_cursor, go));
  if (!shown) return;
  if (document.activeElement === document.body && p.has('q')) {
    search.focus();
    search.setSelectionRange(search.value.length, search.value.length);
  }
  if (items.length === 0) return;
  // Sparklines for the rows on screen only: one request for the page.
  try {
    const sp = await ctx.get('/api/v1/sparklines', { ids: items.map((t) => t.id).join(','), ...rangeParams(), buckets: SPARK_BUCKETS });
    for (const [id, c] of sparks) sparkline(c, (sp.series || {})[id] || []);
  } catch (e) {
    if (e.name === 'AbortError') return;
    showError(`Sparklines: ${e.message}`);
  }
}

async function viewTemplate(ctx) {
  const id = ctx.arg;
  const spanS = rangeSeconds(state.range);
  const [t, inc] = await Promise.all([
    ctx.get(`/api/v1/templates/${encodeURIComponent(id)}`),
    ctx.get('/api/v1/incidents', { ...rangeParams(), template: id, state: 'all', limit: 20 }),
  ]);
  const chart = await seriesChart(ctx, {
    title: `Lines of template #${t.id}`, filter: { template: t.id }, ...rangeParams(), spanS,
  });
  const items = inc.items || [];
  const shown = ctx.show(
    h('p', {}, h('a', { href: '#/templates' }, '‹ Templates')),
    h('h1', {}, `Template #${t.id}`),
    h('section', { class: 'card' }, h('pre', { class: 'lines tpl-text' }, t.text),
      h('dl', { class: 'facts' }, h('dt', {}, 'Lines'), h('dd', {}, fmtNum(t.count)),
        h('dt', {}, 'First seen'), h('dd', {}, timeEl(t.first_seen)),
        h('dt', {}, 'Last seen'), h('dd', {}, timeEl(t.last_seen)))),
    h('section', { class: 'card' }, chart),
    h('section', { class: 'card' }, exampleLines(t.examples)),
    h('section', { class: 'card' }, h('h2', {}, 'Incidents of this template'),
      items.length === 0 ? h('p', { class: 'muted' }, `None in ${rangeLabel()}.`) : incidentsTable(items, { withFeedback: false })));
  if (shown) chart.mount();
}

// ---- sources ---------------------------------------------------------------------------------

async function viewSources(ctx) {
  const p = ctx.params;
  const go = (over) => {
    setParams('sources', { cursor: p.get('cursor'), prev: p.get('prev'), ...over });
    route();
  };
  const res = await ctx.get('/api/v1/sources', { ...rangeParams(), limit: PAGE, cursor: p.get('cursor') });
  const items = res.items || [];
  ctx.show(h('h1', {}, 'Sources ', h('span', { class: 'muted small' }, rangeLabel())),
    items.length === 0 ? h('p', { class: 'muted empty' }, 'No source sent lines in this range.')
      : table('Sources', [
        { label: 'Source', cell: (s) => sourceLink(s.source) },
        { label: 'Lines', cls: 'num', cell: (s) => fmtNum(s.lines) },
        { label: 'Templates', cls: 'num', cell: (s) => fmtNum(s.templates) },
        { label: 'Last seen', cell: (s) => timeEl(s.last_seen) },
      ], items),
    pager(p, res.next_cursor, go));
}

async function viewSource(ctx) {
  const src = ctx.arg;
  const spanS = rangeSeconds(state.range);
  const [chart, inc] = await Promise.all([
    seriesChart(ctx, { title: `Lines of ${src}`, filter: { source: src }, ...rangeParams(), spanS }),
    ctx.get('/api/v1/incidents', { ...rangeParams(), source: src, state: 'all', limit: 20 }),
  ]);
  const items = inc.items || [];
  if (ctx.show(h('p', {}, h('a', { href: '#/sources' }, '‹ Sources')), h('h1', {}, `Source ${src}`),
    h('section', { class: 'card' }, chart),
    h('section', { class: 'card' }, h('h2', {}, 'Incidents of this source'),
      items.length === 0 ? h('p', { class: 'muted' }, `None in ${rangeLabel()}.`) : incidentsTable(items, { withFeedback: false })))) {
    chart.mount();
  }
}

// ---- rules -----------------------------------------------------------------------------------

const MAX_RULES_SHOWN = 1000;

async function viewRules(ctx) {
  const res = await ctx.get('/api/v1/rules');
  const items = res.items || [];
  const del = (r, btn) => {
    // Two clicks: the first arms the button for a few seconds.
    if (btn.dataset.armed !== '1') {
      btn.dataset.armed = '1';
      btn.textContent = 'Click again to delete';
      setTimeout(() => { if (btn.isConnected) { btn.dataset.armed = ''; btn.textContent = 'Delete'; } }, 4000);
      return;
    }
    btn.disabled = true;
    api(`/api/v1/rules/${encodeURIComponent(r.id)}`, { method: 'DELETE' }).then(() => {
      btn.closest('tr').remove();
      flash(`Rule ${r.id} deleted: its alerts come back.`);
    }, (e) => {
      btn.disabled = false;
      showError(e.message);
    });
  };
  ctx.show(h('h1', {}, 'Rules'),
    h('p', { class: 'muted' }, 'Feedback given on incidents ("false positive", "expected") is kept as rules; ' +
      'detectors and the alert manager respect them until they expire or are deleted.'),
    items.length === 0 ? h('p', { class: 'muted empty' }, 'No rules.') : table('Rules', [
      { label: 'Id', cls: 'num', cell: (r) => r.id },
      { label: 'Kind', cell: (r) => (r.kind || '').replace('_', ' ') },
      { label: 'Template', cell: (r) => templateLink(r.template_id) },
      { label: 'Source', cell: (r) => sourceLink(r.source) },
      { label: 'Detector', cell: (r) => r.detector || 'any' },
      { label: 'Created', cell: (r) => timeEl(r.created) },
      { label: 'Expires', cell: (r) => (r.expires ? timeEl(r.expires) : 'never') },
      { label: 'Note', cell: (r) => r.note || '' },
      { label: 'Incident', cell: (r) => (r.incident ? h('a', { href: `#/incident/${encodeURIComponent(r.incident)}` }, r.incident) : '–') },
      { label: '', cell: (r) => { const b = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete rule ${r.id}` }, 'Delete'); b.addEventListener('click', () => del(r, b)); return b; } },
    ], items.slice(0, MAX_RULES_SHOWN), (r) => ({ 'data-rule': r.id })),
    items.length > MAX_RULES_SHOWN ? h('p', { class: 'muted' }, `Showing ${MAX_RULES_SHOWN} of ${fmtNum(items.length)} rules.`) : null);
}

// ---- start -----------------------------------------------------------------------------------

function start() {
  const range = $('#range');
  if ([...range.options].some((o) => o.value === state.range)) range.value = state.range;
  else state.range = range.value;
  range.addEventListener('change', () => {
    state.range = range.value;
    sessionStorage.setItem(RANGE_KEY, state.range);
    route();
  });
  $('#refresh').addEventListener('click', () => route());
  $('#forget-token').addEventListener('click', () => {
    setToken(null);
    updateTokenButton();
    flash('Token forgotten.');
    route();
  });
  updateTokenButton();
  window.addEventListener('hashchange', route);
  if (!window.uPlot) {
    showError('The chart library (/assets/uPlot.iife.min.js) did not load: charts are off.');
  }
  route();
}

// Tests read these; MAX_POINTS is the bound on any chart's points.
window.logwarden = { MAX_POINTS, route };
start();
