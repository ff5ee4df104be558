// Drives the dashboard in Debian's headless Chromium (playwright-core, no browser download).
// Used by tests/integration/test_dashboard.sh (mode "test" and "token") and
// bench/dashboard-render.sh (mode "bench").
//
//   node dashboard.mjs test  URL SCREENSHOT   the page loads with no console errors, lists open
//                                             incidents, draws charts with data, explores the
//                                             templates, and "False positive" takes an incident
//                                             off the open list and makes a rule
//   node dashboard.mjs token URL TOKEN        with tokens configured: the page asks for the
//                                             token, and works once it is entered
//   node dashboard.mjs bench URL RUNS         times navigation -> overview charts drawn
//                                             (performance mark lw:overview-drawn), RUNS times
//
// Exit 0 pass, 1 fail. CHROMIUM overrides /usr/bin/chromium.
import { chromium } from 'playwright-core';

const [mode, base, arg] = process.argv.slice(2);
const TIMEOUT = 30000;

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exitCode = 1;
  throw new Error(msg);
}

async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A page whose console errors and uncaught exceptions are collected; @allow filters expected ones.
async function newPage(browser, errors) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(TIMEOUT);
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`exception: ${e.message}`));
  page.on('requestfailed', (r) => {
    // Fetches the page aborts itself when the view changes are not failures.
    if (!/ERR_ABORTED/.test(r.failure()?.errorText || '')) errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  return page;
}

async function overviewDrawn(page) {
  await page.waitForFunction(() => performance.getEntriesByName('lw:overview-drawn').length > 0);
  return page.evaluate(() => performance.getEntriesByName('lw:overview-drawn')[0].startTime);
}

async function apiGet(path, token) {
  const res = await fetch(new URL(path, base), { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!res.ok) fail(`GET ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function checkCharts(page) {
  // The overview's lines chart: a uPlot canvas, and points in its series.
  const chart = page.locator('.chart').first();
  await chart.locator('canvas').first().waitFor();
  const points = Number(await chart.getAttribute('data-points'));
  if (!(points > 0)) fail(`the lines chart has ${points} points`);
  if (points > (await page.evaluate(() => window.logwarden.MAX_POINTS))) fail(`the lines chart has ${points} points, more than MAX_POINTS`);
  const nonzero = await page.evaluate(() => {
    const label = document.querySelector('.chart').getAttribute('aria-label');
    return label;
  });
  if (!/, [1-9][\d,]* in all/.test(nonzero)) fail(`the lines chart shows no lines: "${nonzero}"`);
  console.log(`overview chart: ${points} points (${nonzero})`);
}

async function test() {
  const shot = arg;
  const errors = [];
  const browser = await launch();
  try {
    const page = await newPage(browser, errors);
    await page.goto(new URL('/#/overview', base).href);
    const ms = await overviewDrawn(page);
    console.log(`overview drawn ${ms.toFixed(0)} ms after navigation`);
    await checkCharts(page);
    const openRows = page.locator('tr[data-incident]');
    await openRows.first().waitFor();
    console.log(`overview lists ${await openRows.count()} open incidents`);
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);

    // Incidents: the demo's, open; mark the first one a false positive.
    await page.goto(new URL('/#/incidents?state=open', base).href);
    const rows = page.locator('#incident-list tr[data-incident]');
    await rows.first().waitFor();
    const n = await rows.count();
    const id = await rows.first().getAttribute('data-incident');
    console.log(`incidents: ${n} open on the first page; marking ${id} a false positive`);
    await page.locator(`tr[data-incident="${id}"] button[data-action="false-positive"]`).click();
    await page.locator(`tr[data-incident="${id}"]`).waitFor({ state: 'detached' });
    await page.locator('#status').filter({ hasText: id }).waitFor();
    // Still gone after a reload: the API no longer lists it as open.
    await page.reload();
    await page.locator('#incident-list').waitFor();
    await page.waitForFunction(() => document.querySelector('main').getAttribute('aria-busy') === null);
    if (await page.locator(`tr[data-incident="${id}"]`).count() !== 0) fail(`${id} is still in the open list after a reload`);
    const open = await apiGet('/api/v1/incidents?state=open&from=-7d&limit=1000');
    if (open.items.some((i) => i.id === id)) fail(`GET /api/v1/incidents?state=open still lists ${id}`);
    const rules = await apiGet('/api/v1/rules');
    const rule = rules.items.find((r) => r.incident === id);
    if (!rule) fail(`GET /api/v1/rules has no rule for ${id}: ${JSON.stringify(rules)}`);
    if (rule.kind !== 'false_positive') fail(`the rule's kind is ${rule.kind}`);
    console.log(`rule ${rule.id} (${rule.kind}) lists incident ${id}`);

    // The rule in the Rules view.
    await page.goto(new URL('/#/rules', base).href);
    await page.locator(`tr[data-rule="${rule.id}"]`).waitFor();

    // The incident's page: explanation, chart with data, the feedback shown.
    await page.goto(new URL(`/#/incident/${encodeURIComponent(id)}`, base).href);
    await page.locator('h2', { hasText: 'Anomalies' }).waitFor();
    await page.locator('.feedback-box', { hasText: 'Marked' }).waitFor();
    await page.locator('.chart canvas').first().waitFor();
    if (!(Number(await page.locator('.chart').first().getAttribute('data-points')) > 0)) fail('the incident chart has no points');

    // Template explorer: a page of rows with sparklines, then a search that narrows it.
    await page.goto(new URL('/#/templates', base).href);
    const trows = page.locator('table[data-list="Templates"] tbody tr');
    await trows.first().waitFor();
    const nt = await trows.count();
    if (nt < 2) fail(`the template explorer shows ${nt} rows`);
    await page.waitForFunction(() => [...document.querySelectorAll('canvas.spark')].every((c) => c.getAttribute('aria-label') !== 'loading'));
    const word = process.env.LW_SEARCH || 'block';
    await page.locator('#tpl-search').fill(word);
    await page.waitForFunction((w) => {
      const links = [...document.querySelectorAll('table[data-list="Templates"] a.tpl')];
      return links.length > 0 && links.every((a) => a.textContent.toLowerCase().includes(w)) && location.hash.includes(`q=${w}`);
    }, word);
    console.log(`templates: ${nt} rows, search "${word}": ${await trows.count()} rows`);
    // A template's chart.
    await page.locator('table[data-list="Templates"] a.tpl').first().click();
    await page.locator('.chart canvas').first().waitFor();

    // Sources.
    await page.goto(new URL('/#/sources', base).href);
    await page.locator('table[data-list="Sources"] tbody tr').first().waitFor();

    if (errors.length > 0) fail(`errors in the page:\n  ${errors.join('\n  ')}`);
    console.log('ok: no console errors');
  } finally {
    await browser.close();
  }
}

async function token() {
  const tok = arg;
  const errors = [];
  const browser = await launch();
  try {
    const page = await newPage(browser, errors);
    await page.goto(new URL('/#/overview', base).href);
    await page.locator('#token-input').waitFor();
    // A wrong token is refused and the form comes back.
    await page.locator('#token-input').fill('not-the-token-at-all');
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.locator('#token-help', { hasText: 'not accepted' }).waitFor();
    await page.locator('#token-input').fill(tok);
    await page.getByRole('button', { name: 'Use token' }).click();
    await overviewDrawn(page);
    await checkCharts(page);
    await page.locator('tr[data-incident]').first().waitFor();
    // The token is kept for the tab: other views work without asking again.
    await page.goto(new URL('/#/templates', base).href);
    await page.locator('table[data-list="Templates"] tbody tr').first().waitFor();
    if (await page.locator('#token-input').count() !== 0) fail('the token was asked for again');
    // Before the token, the API answered 401: the browser logs those loads, nothing else may fail.
    const other = errors.filter((e) => !/status of 401/.test(e));
    if (other.length > 0) fail(`errors in the page:\n  ${other.join('\n  ')}`);
    console.log('ok: the page works with the token');
  } finally {
    await browser.close();
  }
}

async function bench() {
  const runs = Number(arg || 5);
  const browser = await launch();
  const times = [];
  try {
    for (let i = 0; i < runs; i++) {
      const errors = [];
      // A fresh context each time: nothing cached, as on a first visit.
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      // The time range (LW_RANGE, e.g. -7d) as if the user had picked it before.
      await ctx.addInitScript((r) => sessionStorage.setItem('logwarden.range', r), process.env.LW_RANGE || '-1h');
      const page = await ctx.newPage();
      page.setDefaultTimeout(60000);
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(new URL('/#/overview', base).href);
      const ms = await overviewDrawn(page);
      const points = await page.locator('.chart').first().getAttribute('data-points');
      times.push(ms);
      console.log(`run ${i + 1}: overview drawn ${ms.toFixed(0)} ms after navigation (${points} points)`);
      if (errors.length) fail(errors.join('; '));
      await ctx.close();
    }
  } finally {
    await browser.close();
  }
  times.sort((a, b) => a - b);
  console.log(`overview render: median ${times[Math.floor(times.length / 2)].toFixed(0)} ms, ` +
    `max ${times[times.length - 1].toFixed(0)} ms over ${runs} runs`);
}

const modes = { test, token, bench };
if (!modes[mode] || !base) {
  console.error('usage: node dashboard.mjs test|token|bench URL ARG');
  process.exit(2);
}
modes[mode]().catch((e) => {
  if (!process.exitCode) console.error(`FAIL: ${e.stack || e}`);
  process.exitCode = 1;
});
