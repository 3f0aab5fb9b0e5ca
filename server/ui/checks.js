// What a check's outcome says, in numbers and words: the limits it is judged by (as the
// verdict's CheckResult.Limits and compare's judges have them), how close it is to failing, and its
// numbers formatted in the check's unit.

// num reads a number in the verdict's exact form: null is "no value" (NaN), "Inf" and "-Inf"
// are unbounded ends.
export function num(v) {
  if (v === null || v === undefined) return NaN;
  if (v === 'Inf' || v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

function effect(e) {
  if (!e) return {value: NaN, lower: NaN, upper: NaN};
  return {value: num(e.value), lower: num(e.lower), upper: num(e.upper)};
}

// limits lists the limits of a check: for each, the effect it bounds, that effect's interval,
// the allowed region [min, max] and the effect's neutral value (no difference).
export function limits(c) {
  const t = c.threshold || {};
  const dir = t.direction || 'increase';
  const region = (limit, inverse) => {
    if (dir === 'decrease') return [inverse, Infinity];
    if (dir === 'either') return [inverse, limit];
    return [-Infinity, limit];
  };
  const set = (v) => v !== null && v !== undefined;
  if (c.kind === 'shift') {
    if (!c.statistic || !set(t.max)) return [];
    const [min, max] = region(t.max, 1 - t.max);
    return [{effect: 'statistic', interval: effect(c.statistic), min, max, neutral: 0.5}];
  }
  if (c.kind === 'values') {
    if (!c.statistic) return [];
    return [{effect: 'statistic', interval: effect(c.statistic), min: -Infinity, max: 0.5, neutral: 0}];
  }
  if (c.kind === 'trace-shape') return [];
  const out = [];
  if (set(t.maxRatio)) {
    const [min, max] = region(t.maxRatio, 1 / t.maxRatio);
    out.push({effect: 'ratio', interval: effect(c.ratio), min, max, neutral: 1});
  }
  if (set(t.maxIncrease)) {
    const [min, max] = region(t.maxIncrease, -t.maxIncrease);
    out.push({effect: 'difference', interval: effect(c.difference), min, max, neutral: 0});
  }
  if (set(t.max)) {
    const [min, max] = dir === 'decrease' ? [t.max, Infinity] : [-Infinity, t.max];
    out.push({effect: 'candidate', interval: effect(c.candidate), min, max, neutral: 0});
  }
  return out;
}

export const violated = (l) => l.interval.lower > l.max || l.interval.upper < l.min;
export const satisfied = (l) => l.interval.lower >= l.min && l.interval.upper <= l.max;

const stateRank = {fail: 3, error: 2, inconclusive: 1, pass: 0};

// progress is how far a limit's interval has gone from no difference towards failing: the end
// that must cross the limit for a fail, as a share of the way from the neutral value to the
// limit (1 or more: it crossed). An unbounded end has gone nowhere.
function progress(l) {
  const {lower, upper} = l.interval;
  const ratio = l.effect === 'ratio';
  const scale = (x) => (ratio ? Math.log(x) : x);
  let p = -Infinity;
  if (isFinite(l.max) && isFinite(lower)) {
    const span = scale(l.max) - scale(l.neutral);
    if (span !== 0 && (!ratio || lower > 0)) p = Math.max(p, (scale(lower) - scale(l.neutral)) / span);
  }
  if (isFinite(l.min) && isFinite(upper)) {
    const span = scale(l.neutral) - scale(l.min);
    if (span !== 0 && (!ratio || upper > 0)) p = Math.max(p, (scale(l.neutral) - scale(upper)) / span);
  }
  return p;
}

// closeness orders checks by how near they are to failing the analysis: critical checks
// before advisory ones (which never decide); then failed, failing sources, inconclusive, passed;
// within each, the one whose interval has gone furthest towards its limit.
export function closeness(c) {
  const ps = limits(c).map(progress);
  return [c.critical ? 1 : 0, stateRank[c.state] ?? 1, ps.length ? Math.max(...ps) : -Infinity];
}

function after(a, b) {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return false;
}

export function closest(checks) {
  let best = null;
  let bestKey = null;
  for (const c of checks || []) {
    const k = closeness(c);
    if (best === null || after(k, bestKey)) {
      best = c;
      bestKey = k;
    }
  }
  return best;
}

// Words for states and decisions: one word for "not decided yet" everywhere.
export const stateWords = {pass: 'pass', fail: 'fail', inconclusive: 'inconclusive', error: 'source failing'};

function trim(x, digits) {
  return String(Number(x.toFixed(digits)));
}

function signed(x, f) {
  if (x > 0) return '+' + f(x);
  if (x < 0) return '−' + f(-x);
  return f(0);
}

function seconds(x) {
  if (Math.abs(x) >= 10) return trim(x, 1) + 's';
  if (Math.abs(x) >= 1) return trim(x, 2) + 's';
  return trim(x * 1000, Math.abs(x) >= 0.01 ? 0 : 2) + 'ms';
}

const percent = (x) => trim(x * 100, 2) + '%';

// units formats a check's numbers: its level (an estimate), a difference, and the statistic.
export function units(c) {
  switch (c.kind) {
    case 'error-rate':
      return {value: percent, diff: (x) => signed(x, (v) => trim(v * 100, 2) + 'pp'), statistic: percent};
    case 'latency':
      return {value: seconds, diff: (x) => signed(x, seconds), statistic: percent};
    case 'shift':
      return {value: (x) => trim(x, 3), diff: (x) => signed(x, (v) => trim(v, 3)), statistic: (x) => x.toFixed(2)};
    case 'values':
      return {value: (x) => trim(x, 3), diff: (x) => signed(x, (v) => trim(v, 3)), statistic: percent};
  }
  return {value: (x) => trim(x, 3), diff: (x) => signed(x, (v) => trim(v, 3)), statistic: (x) => trim(x, 3)};
}

// formatter returns the function that formats a limit's effect, ∞ and "no value" included.
export function formatter(c, which) {
  const u = units(c);
  const f = {ratio: (x) => '×' + trim(x, 2), difference: u.diff, candidate: u.value, statistic: u.statistic}[which] || u.value;
  return (x) => {
    if (Number.isNaN(x)) return '—';
    if (x === Infinity) return '∞';
    if (x === -Infinity) return '−∞';
    return f(x);
  };
}

// effectLabel names what a limit bounds, with the environments' names.
export function effectLabel(c, which, base, cand) {
  switch (which) {
    case 'ratio':
      return cand + ' ÷ ' + base + ' (' + c.metric + ')';
    case 'difference':
      return cand + ' − ' + base + ' (' + c.metric + ')';
    case 'candidate':
      return cand + "'s " + c.metric + ' (absolute guard)';
  }
  return c.kind === 'values' ? 'share of intervals over the limit' : c.metric;
}

// limitText says a limit's allowed region: "≤ +10pp", "≥ ×0.83", "within [−5ms, +5ms]".
export function limitText(l, f) {
  if (isFinite(l.min) && isFinite(l.max)) return 'within [' + f(l.min) + ', ' + f(l.max) + ']';
  if (isFinite(l.max)) return '≤ ' + f(l.max);
  return '≥ ' + f(l.min);
}

// where says where a limit's interval lies against the limit, in words.
export function where(l, f) {
  const i = '[' + f(l.interval.lower) + ', ' + f(l.interval.upper) + ']';
  if (l.interval.lower > l.max) return 'interval ' + i + ' lies above the limit ' + f(l.max);
  if (l.interval.upper < l.min) return 'interval ' + i + ' lies below the limit ' + f(l.min);
  if (satisfied(l)) return 'interval ' + i + ' lies within the limit (' + limitText(l, f) + ')';
  return 'interval ' + i + ' still reaches past the limit (' + limitText(l, f) + '): more samples narrow it';
}
