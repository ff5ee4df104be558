// Charts: uPlot (from npm, served as /assets/uPlot.iife.min.js) for time series with anomaly
// markers, and plain canvas sparklines for table rows (hundreds of tiny uPlot instances would
// cost more than they show).
import { h, fmtCompact, fmtNum, fmtTime, timeEl } from './dom.js';

// Steps the API is asked for: a chart never gets more than MAX_POINTS points, whatever the range
// (a week at 10 s windows would be 60,480).
export const MAX_POINTS = 500;
const STEPS = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

export function pickStep(spanS, maxPoints = MAX_POINTS) {
  for (const s of STEPS) if (spanS / s <= maxPoints) return s;
  return 86400 * Math.ceil(spanS / 86400 / maxPoints);
}

export function stepParam(s) {
  if (s % 86400 === 0) return `${s / 86400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

// "-15m", "-6h", "-7d" -> seconds.
export function rangeSeconds(r) {
  const m = /^-(\d+)([smhd])$/.exec(r);
  if (!m) return 3600;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
}

const LEVEL_COLORS = {
  fatal: '#7b1fa2', critical: '#7b1fa2', error: '#d32f2f', warn: '#ef6c00', warning: '#ef6c00',
  info: '#1976d2', notice: '#0097a7', debug: '#757575', trace: '#9e9e9e', unknown: '#8d6e63',
};
const PALETTE = ['#1976d2', '#d32f2f', '#388e3c', '#ef6c00', '#7b1fa2', '#0097a7', '#5d4037'];

export function levelColor(level, i) {
  return LEVEL_COLORS[level] || PALETTE[i % PALETTE.length];
}

// Series from the API are lists of [t, count] with t in epoch seconds; buckets without lines may
// be missing. Returns [times, ...values] on one dense axis of @stepS (missing buckets are 0),
// capped so that a surprising answer cannot make the page allocate without bound.
export function align(stepS, ...series) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (const p of s || []) {
      if (p[0] < lo) lo = p[0];
      if (p[0] > hi) hi = p[0];
    }
  }
  if (lo === Infinity) return [[], ...series.map(() => [])];
  const step = stepS > 0 ? stepS : 1;
  const n = Math.min(Math.floor((hi - lo) / step) + 1, 20 * MAX_POINTS);
  const times = Array.from({ length: n }, (_, i) => lo + i * step);
  const out = series.map(() => new Array(n).fill(0));
  series.forEach((s, k) => {
    for (const p of s || []) {
      const i = Math.round((p[0] - lo) / step);
      if (i >= 0 && i < n) out[k][i] += p[1];
    }
  });
  return [times, ...out];
}

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

// Vertical marks at anomaly times (epoch seconds), and an optional shaded [from, to] band.
function markersPlugin(markers, band) {
  return {
    hooks: {
      drawClear: [(u) => {
        if (!band) return;
        const { ctx, bbox } = u;
        const x0 = Math.max(u.valToPos(band[0], 'x', true), bbox.left);
        const x1 = Math.min(u.valToPos(band[1], 'x', true), bbox.left + bbox.width);
        if (x1 <= x0 - 1) return;
        ctx.save();
        ctx.fillStyle = cssVar('--band', 'rgba(211, 47, 47, 0.10)');
        ctx.fillRect(x0, bbox.top, Math.max(x1 - x0, 2), bbox.height);
        ctx.restore();
      }],
      draw: [(u) => {
        const { ctx, bbox } = u;
        const color = cssVar('--marker', '#d32f2f');
        ctx.save();
        ctx.strokeStyle = color;
        ctx.fillStyle = color;
        ctx.lineWidth = Math.max(1, devicePixelRatio);
        ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
        for (const m of markers) {
          const x = Math.round(u.valToPos(m.t, 'x', true));
          if (x < bbox.left || x > bbox.left + bbox.width) continue;
          ctx.beginPath();
          ctx.moveTo(x, bbox.top);
          ctx.lineTo(x, bbox.top + bbox.height);
          ctx.stroke();
          const s = 5 * devicePixelRatio;
          ctx.beginPath();
          ctx.moveTo(x - s, bbox.top);
          ctx.lineTo(x + s, bbox.top);
          ctx.lineTo(x, bbox.top + 1.6 * s);
          ctx.closePath();
          ctx.fill();
        }
        ctx.restore();
      }],
    },
  };
}

const live = new Set();

// Destroys the charts of the view being left (their canvases and listeners).
export function destroyCharts() {
  for (const u of live) u.destroy();
  live.clear();
}

let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const u of live) {
      const w = u.root.parentElement ? u.root.parentElement.clientWidth : 0;
      if (w > 0) u.setSize({ width: w, height: u.height });
    }
  }, 150);
});

// A time chart in a figure: @times (epoch s), @series [{label, values, color, bars, fill}],
// @markers [{t, label, href}] drawn as red marks (and listed below for keyboards and screen
// readers). @onDrawn(u) after each draw. Returns the figure element; append it before the chart
// is sized, so call mount() after appending.
export function timeChart({ title, times, series, markers = [], band = null, height = 220,
  stepS = 0, onDrawn = null, empty = 'No data in this range.' }) {
  const holder = h('div', { class: 'chart', 'data-points': String(times.length) });
  const fig = h('figure', { class: 'chart-figure' }, h('figcaption', {}, title), holder);
  if (markers.length > 0) {
    fig.append(h('details', { class: 'markers' },
      h('summary', {}, `${markers.length} ${markers.length === 1 ? 'anomaly' : 'anomalies'} marked`),
      h('ul', {}, markers.slice(0, 200).map((m) => h('li', {}, timeEl(m.iso || m.t), ' ',
        m.href ? h('a', { href: m.href }, m.label) : m.label)))));
  }
  const total = series.reduce((a, s) => a + s.values.reduce((x, y) => x + (y || 0), 0), 0);
  holder.setAttribute('role', 'img');
  holder.setAttribute('aria-label', `${title}: ${times.length} points` +
    (stepS ? ` of ${stepS} s` : '') + `, ${fmtNum(total)} in all` +
    (markers.length ? `, ${markers.length} anomalies marked` : ''));
  fig.mount = () => {
    if (times.length === 0) {
      holder.append(h('p', { class: 'muted empty' }, empty));
      if (onDrawn) onDrawn(null);
      return null;
    }
    const fg = cssVar('--fg-muted', '#555');
    const grid = cssVar('--grid', 'rgba(0,0,0,0.08)');
    const opts = {
      width: Math.max(holder.clientWidth, 300),
      height,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, hi > 0 ? hi * 1.08 : 1] } },
      series: [
        { value: (u, v) => (v === null ? '–' : fmtTime(v)) },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          fill: s.fill || undefined,
          points: { show: false },
          paths: s.bars && window.uPlot.paths.bars ? window.uPlot.paths.bars({ size: [0.9, 40] }) : undefined,
          value: (u, v) => (v === null || v === undefined ? '–' : fmtNum(v)),
        })),
      ],
      axes: [
        { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid } },
        { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid }, size: 56,
          values: (u, vals) => vals.map((v) => fmtCompact(v)) },
      ],
      plugins: [markersPlugin(markers, band)],
      hooks: { draw: [(u) => { if (onDrawn) onDrawn(u); }] },
    };
    const u = new window.uPlot(opts, [times, ...series.map((s) => s.values)], holder);
    live.add(u);
    return u;
  };
  return fig;
}

// A sparkline of @values on a canvas (CSS size @w x @h).
export function sparkline(canvas, values) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 120;
  const hgt = canvas.clientHeight || 24;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(hgt * dpr);
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!values || values.length === 0) return;
  const max = Math.max(1, ...values);
  const dx = values.length > 1 ? canvas.width / (values.length - 1) : 0;
  const y = (v) => canvas.height - 1 - (v / max) * (canvas.height - 3 * dpr);
  ctx.beginPath();
  values.forEach((v, i) => (i === 0 ? ctx.moveTo(0, y(v)) : ctx.lineTo(i * dx, y(v))));
  ctx.lineTo((values.length - 1) * dx, canvas.height);
  ctx.lineTo(0, canvas.height);
  ctx.closePath();
  ctx.fillStyle = cssVar('--spark-fill', 'rgba(25,118,210,0.18)');
  ctx.fill();
  ctx.beginPath();
  values.forEach((v, i) => (i === 0 ? ctx.moveTo(0, y(v)) : ctx.lineTo(i * dx, y(v))));
  ctx.strokeStyle = cssVar('--accent', '#1976d2');
  ctx.lineWidth = 1.2 * dpr;
  ctx.stroke();
  const total = values.reduce((a, b) => a + b, 0);
  canvas.setAttribute('aria-label', `${values.length} buckets, ${fmtNum(total)} lines, peak ${fmtNum(Math.max(...values))}`);
}
