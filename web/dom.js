// Small DOM and formatting helpers. Everything that comes from the API (log lines, template text,
// source names) is attacker-controlled, so it only ever reaches the page as text nodes or
// attribute values, never as HTML.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);

const nf = new Intl.NumberFormat('en');
export function fmtNum(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return nf.format(n);
}

// 1234567 -> "1.2M": for chart axes, where width is short.
export function fmtCompact(n) {
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(a >= 1e10 ? 0 : 1) + 'G';
  if (a >= 1e6) return (n / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
  if (a >= 1e3) return (n / 1e3).toFixed(a >= 1e4 ? 0 : 1) + 'k';
  return String(Math.round(n * 100) / 100);
}

const pad = (n) => String(n).padStart(2, '0');

// Local time "2026-12-04 10:00:00"; the RFC 3339 original stays in the title.
export function fmtTime(s) {
  if (s === null || s === undefined || s === '') return '–';
  const d = typeof s === 'number' ? new Date(s * 1000) : new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function timeEl(s) {
  if (s === null || s === undefined || s === '') return '–';
  return h('time', { datetime: String(s), title: String(s) }, fmtTime(s));
}

// RFC 3339 string -> epoch seconds (NaN when unreadable).
export const epoch = (s) => (typeof s === 'number' ? s : Date.parse(s) / 1000);

export function iso(sec) {
  return new Date(sec * 1000).toISOString();
}

export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

// A table with a caption, header cells and one row per item; @cols: [{label, cell(item), cls}].
export function table(caption, cols, items, rowAttrs) {
  return h('table', { class: 'list', 'data-list': caption },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', class: c.cls }, c.label)))),
    h('tbody', {}, items.map((it) =>
      h('tr', rowAttrs ? rowAttrs(it) : {}, cols.map((c) => h('td', { class: c.cls }, c.cell(it)))))));
}

// Renders a value of an explanation object: scalars as text, the rest as compact JSON.
export function valueText(v) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return Number.isInteger(v) ? fmtNum(v) : String(Math.round(v * 1e4) / 1e4);
  if (typeof v === 'string' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
