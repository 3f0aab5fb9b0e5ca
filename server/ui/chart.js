// The interval chart: how one check's effect and its interval narrowed over the analysis,
// against the limit. Hand-written SVG, no library.
//
// x is the time since the phase's first tick; the shaded band is the interval at each tick
// (an end not yet bounded, or beyond the view, is drawn at the chart's edge), the line its
// estimate, the dashed red line the limit, and the bar at the right edge the latest interval.
// A check fails when the interval lies entirely beyond the limit and passes when it lies
// entirely within.

const svgNS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, text) {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const W = 640;
const H = 220;
const pad = {left: 64, right: 20, top: 14, bottom: 30};
const maxPoints = 400;

// thin keeps at most maxPoints points, evenly spread, the last always.
function thin(points) {
  if (points.length <= maxPoints) return points;
  const out = [];
  const step = (points.length - 1) / (maxPoints - 1);
  for (let i = 0; i < maxPoints - 1; i++) out.push(points[Math.round(i * step)]);
  out.push(points[points.length - 1]);
  return out;
}

function durationText(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  return m + 'm' + (s % 60 ? String(s % 60).padStart(2, '0') + 's' : '');
}

// intervalChart draws points ({t: ms since the first, value, lower, upper}) against limit
// ({min, max, neutral}); fmt formats the effect, label names it, state is the check's.
export function intervalChart({points, limit, fmt, label, state, id}) {
  points = thin(points.filter((p) => !Number.isNaN(p.value) || isFinite(p.lower) || isFinite(p.upper)));
  const svg = el('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart state-' + state, role: 'img', 'aria-labelledby': id + '-title ' + id + '-desc'});
  const last = points[points.length - 1];
  svg.appendChild(el('title', {id: id + '-title'}, label + ' over time against its limit'));
  const desc = el('desc', {id: id + '-desc'});
  svg.appendChild(desc);
  if (!last) {
    desc.textContent = 'No evaluation yet.';
    svg.appendChild(el('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty'}, 'waiting for the first evaluation'));
    return svg;
  }

  // The view: the limits, no difference, every estimate and the latest interval; older, wider
  // intervals are cut at its edges.
  const ys = [limit.neutral];
  for (const b of [limit.min, limit.max, last.lower, last.upper]) if (isFinite(b)) ys.push(b);
  for (const p of points) if (isFinite(p.value)) ys.push(p.value);
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  if (hi - lo < 1e-12) {
    lo -= Math.abs(lo) * 0.1 + 1e-3;
    hi += Math.abs(hi) * 0.1 + 1e-3;
  }
  const margin = (hi - lo) * 0.12;
  lo -= margin;
  hi += margin;
  const t0 = points[0].t;
  const t1 = Math.max(last.t, t0 + 1);
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (W - pad.left - pad.right);
  const y = (v) => {
    if (v === Infinity) return pad.top;
    if (v === -Infinity) return H - pad.bottom;
    const c = Math.min(Math.max(v, lo), hi);
    return pad.top + ((hi - c) / (hi - lo)) * (H - pad.top - pad.bottom);
  };
  const r = (v) => Math.round(v * 10) / 10;

  svg.appendChild(el('rect', {x: pad.left, y: pad.top, width: W - pad.left - pad.right, height: H - pad.top - pad.bottom, class: 'plot'}));
  // The failing regions, beyond the limits.
  if (isFinite(limit.max) && limit.max < hi) {
    svg.appendChild(el('rect', {x: pad.left, y: pad.top, width: W - pad.left - pad.right, height: r(y(limit.max) - pad.top), class: 'fail-region'}));
  }
  if (isFinite(limit.min) && limit.min > lo) {
    svg.appendChild(el('rect', {x: pad.left, y: r(y(limit.min)), width: W - pad.left - pad.right, height: r(H - pad.bottom - y(limit.min)), class: 'fail-region'}));
  }
  // No difference.
  if (limit.neutral > lo && limit.neutral < hi) {
    svg.appendChild(el('line', {x1: pad.left, x2: W - pad.right, y1: r(y(limit.neutral)), y2: r(y(limit.neutral)), class: 'neutral'}));
    svg.appendChild(el('text', {x: pad.left - 6, y: r(y(limit.neutral)) + 4, 'text-anchor': 'end', class: 'tick'}, fmt(limit.neutral)));
  }

  // The band of intervals and the estimate.
  const upper = points.map((p) => `${r(x(p.t))},${r(y(Number.isNaN(p.upper) ? Infinity : p.upper))}`);
  const lower = points.map((p) => `${r(x(p.t))},${r(y(Number.isNaN(p.lower) ? -Infinity : p.lower))}`).reverse();
  svg.appendChild(el('polygon', {points: upper.concat(lower).join(' '), class: 'band'}));
  const line = points.filter((p) => isFinite(p.value)).map((p) => `${r(x(p.t))},${r(y(p.value))}`);
  if (line.length) svg.appendChild(el('polyline', {points: line.join(' '), class: 'estimate'}));

  // The limits.
  for (const [side, v] of [['max', limit.max], ['min', limit.min]]) {
    if (!isFinite(v)) continue;
    svg.appendChild(el('line', {x1: pad.left, x2: W - pad.right, y1: r(y(v)), y2: r(y(v)), class: 'limit', 'data-side': side, 'data-limit': v}));
    svg.appendChild(el('text', {x: pad.left - 6, y: r(y(v)) + 4, 'text-anchor': 'end', class: 'tick limit-text'}, fmt(v)));
  }

  // The latest interval.
  const nx = r(x(last.t));
  svg.appendChild(el('line', {
    x1: nx, x2: nx, y1: r(y(Number.isNaN(last.upper) ? Infinity : last.upper)), y2: r(y(Number.isNaN(last.lower) ? -Infinity : last.lower)),
    class: 'now', 'data-lower': last.lower, 'data-upper': last.upper, 'data-value': last.value,
  }));
  if (isFinite(last.value)) svg.appendChild(el('circle', {cx: nx, cy: r(y(last.value)), r: 4, class: 'now-value'}));

  // Time.
  svg.appendChild(el('text', {x: pad.left, y: H - 8, class: 'tick'}, '0s'));
  svg.appendChild(el('text', {x: W - pad.right, y: H - 8, 'text-anchor': 'end', class: 'tick'}, durationText(t1 - t0)));
  svg.appendChild(el('text', {x: (pad.left + W - pad.right) / 2, y: H - 8, 'text-anchor': 'middle', class: 'tick'}, 'time in phase'));

  desc.textContent = `${points.length} evaluations over ${durationText(t1 - t0)}; latest ${fmt(last.value)} with interval [${fmt(last.lower)}, ${fmt(last.upper)}]` +
    (isFinite(limit.max) ? `; limit ${fmt(limit.max)}` : '') + (isFinite(limit.min) ? `; lower limit ${fmt(limit.min)}` : '') + '.';
  return svg;
}
