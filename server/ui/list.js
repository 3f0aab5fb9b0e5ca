// The analyses list: one line per analysis, live over the daemon's event stream.

import * as api from './api.js';
import {closest, formatter, limits, stateWords, violated, limitText} from './checks.js';
import {clear, decisionWord, duration, h} from './dom.js';

const states = [
  ['', 'any state'],
  ['running', 'deciding'],
  ['inconclusive', 'waiting on a person'],
  ['promote', 'promote'],
  ['rollback', 'rollback'],
  ['interrupted', 'interrupted'],
];

// closestText says where a line's check closest to failing stands.
function closestCell(checks) {
  const c = closest(checks);
  if (!c) return h('span', {class: 'muted'}, 'no check yet');
  const ls = limits(c);
  const l = ls.find(violated) || ls[0];
  let detail = '';
  if (l) {
    const f = formatter(c, l.effect);
    detail = `${f(l.interval.value)} [${f(l.interval.lower)}, ${f(l.interval.upper)}], limit ${limitText(l, f)}`;
  }
  return h('span', {class: 'closest'},
    h('span', {class: 'check-name'}, c.name),
    ' ', h('span', {class: 'badge small state-' + c.state}, stateWords[c.state] || c.state),
    detail ? [' ', h('span', {class: 'numbers'}, detail)] : null);
}

function progressCell(row) {
  const running = row.state === 'running';
  const text = running && row.limitMs ? `${duration(row.elapsedMs)} / ${duration(row.limitMs)}` : duration(row.elapsedMs);
  const cell = [h('span', {class: 'elapsed'}, running ? text : 'took ' + text)];
  if (running && row.limitMs) {
    cell.push(h('progress', {max: row.limitMs, value: Math.min(row.elapsedMs, row.limitMs), 'aria-label': 'elapsed ' + text}));
  }
  return cell;
}

function rowFromAnalysis(a) {
  const env = (name) => ({name: name || '', url: (a.environments || {})[name] || ''});
  return {
    id: a.id, spec: a.spec, key: a.key, labels: a.labels, baseline: env(a.baseline), candidate: env(a.candidate),
    state: a.state, verdict: a.verdict, phase: a.phase, reason: a.reason, waiting: a.state === 'inconclusive',
    createdAt: a.createdAt, elapsedMs: 0, limitMs: 0, checks: a.checks || [],
  };
}

export class ListView {
  constructor(root, {announce, setConn}) {
    this.root = root;
    this.announce = announce;
    this.setConn = setConn;
    this.rows = new Map();
    this.filter = {state: '', spec: '', label: ''};
    this.stream = null;
    this.fetching = new Set();
  }

  async show() {
    clear(this.root);
    this.stateSel = h('select', {id: 'f-state'}, states.map(([v, t]) => h('option', {value: v}, t)));
    this.specIn = h('input', {id: 'f-spec', type: 'search', list: 'specs', placeholder: 'any spec', autocomplete: 'off'});
    this.labelIn = h('input', {id: 'f-label', type: 'search', placeholder: 'team=shop', autocomplete: 'off'});
    this.specList = h('datalist', {id: 'specs'});
    const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Filter analyses'},
      h('label', {for: 'f-state'}, 'State'), this.stateSel,
      h('label', {for: 'f-spec'}, 'Spec'), this.specIn, this.specList,
      h('label', {for: 'f-label'}, 'Label'), this.labelIn,
      h('button', {type: 'submit'}, 'Apply'));
    form.addEventListener('submit', (e) => { e.preventDefault(); this.applyFilter(); });
    this.stateSel.addEventListener('change', () => this.applyFilter());
    this.body = h('tbody');
    this.count = h('p', {class: 'count', id: 'count'});
    this.table = h('table', {class: 'analyses', 'aria-describedby': 'count'},
      h('caption', {class: 'visually-hidden'}, 'Analyses, newest first'),
      h('thead', {}, h('tr', {},
        ['Analysis', 'Environments', 'Phase', 'Elapsed', 'Decision', 'Closest to failing'].map((t) => h('th', {scope: 'col'}, t)))),
      this.body);
    this.root.append(h('h1', {}, 'Analyses'), form, this.count, h('div', {class: 'table-wrap'}, this.table));
    await this.load();
  }

  hide() {
    if (this.stream) this.stream.close();
    this.stream = null;
  }

  applyFilter() {
    this.filter = {state: this.stateSel.value, spec: this.specIn.value.trim(), label: this.labelIn.value.trim()};
    this.load();
  }

  matches(row) {
    const f = this.filter;
    if (f.state && row.state !== f.state) return false;
    if (f.spec && row.spec !== f.spec) return false;
    if (f.label) {
      const [k, v] = f.label.split('=');
      if (!row.labels || row.labels[k] !== v) return false;
    }
    return true;
  }

  async load() {
    if (this.stream) this.stream.close();
    const q = new URLSearchParams({limit: '200'});
    if (this.filter.state) q.set('state', this.filter.state);
    if (this.filter.spec) q.set('spec', this.filter.spec);
    if (this.filter.label) q.append('label', this.filter.label);
    let page;
    try {
      page = await api.get('/api/v1/board?' + q);
    } catch (e) {
      this.count.textContent = 'Cannot load the analyses: ' + e.message;
      if (e.status === 401 || e.status === 403) this.setConn('unauthorized');
      return;
    }
    this.rows = new Map(page.analyses.map((r) => [r.id, r]));
    this.render();
    // Events after the list was read; a reconnect goes on from the last one received.
    this.stream = api.stream('/api/v1/events', {
      lastId: page.lastEventId,
      onEvent: (e) => this.onEvent(e.data),
      onState: (s) => this.setConn(s),
    });
  }

  async onEvent(ev) {
    let row = this.rows.get(ev.analysis);
    if (!row) {
      if (this.fetching.has(ev.analysis)) return;
      this.fetching.add(ev.analysis);
      try {
        row = rowFromAnalysis(await api.get('/api/v1/analyses/' + encodeURIComponent(ev.analysis)));
      } catch (e) {
        return;
      } finally {
        this.fetching.delete(ev.analysis);
      }
      if (!this.matches(row)) return;
      this.rows.set(row.id, row);
      this.announce(`New analysis: ${row.spec} on ${row.candidate.name}`);
    }
    const before = row.state;
    if (ev.baseline) row.baseline = {name: ev.baseline, url: row.baseline.url};
    if (ev.candidate) row.candidate = {name: ev.candidate, url: row.candidate.url};
    switch (ev.kind) {
      case 'phase':
        row.phase = ev.phase || row.phase;
        row.limitMs = ev.limitMs || 0;
        row.elapsedMs = 0;
        break;
      case 'tick':
        row.phase = ev.phase || row.phase;
        row.elapsedMs = ev.elapsedMs || 0;
        row.limitMs = ev.limitMs || row.limitMs;
        row.checks = ev.checks || [];
        break;
      case 'verdict': {
        const v = ev.verdict || {};
        row.state = v.verdict || 'inconclusive';
        row.verdict = row.state === 'interrupted' ? 'inconclusive' : row.state;
        row.reason = v.reason || ev.message || '';
        row.phase = v.phase || row.phase;
        row.checks = v.checks || row.checks;
        if (v.baseline && v.baseline.name) row.baseline = v.baseline;
        if (v.candidate && v.candidate.name) row.candidate = v.candidate;
        row.waiting = row.state === 'inconclusive';
        row.elapsedMs = new Date(ev.time) - new Date(row.createdAt);
        break;
      }
      case 'override':
        if (ev.override) {
          row.override = ev.override;
          row.state = row.verdict = ev.override.decision;
          row.reason = ev.message || row.reason;
          row.waiting = false;
        }
        break;
    }
    if (before !== row.state) {
      this.announce(`${row.spec} on ${row.candidate.name}: ${decisionWord(row.state, row.waiting)}${row.reason ? ' — ' + row.reason : ''}`);
    }
    this.render();
  }

  render() {
    const rows = [...this.rows.values()].filter((r) => this.matches(r))
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    const specs = new Set([...this.rows.values()].map((r) => r.spec));
    clear(this.specList).append(...[...specs].sort().map((s) => h('option', {value: s})));
    const deciding = rows.filter((r) => r.state === 'running').length;
    const waiting = rows.filter((r) => r.waiting).length;
    this.count.textContent = `${rows.length} analyses: ${deciding} deciding, ${waiting} waiting on a person.`;
    clear(this.body);
    for (const r of rows) {
      const href = '#/analyses/' + encodeURIComponent(r.id);
      const labels = Object.entries(r.labels || {}).map(([k, v]) => h('span', {class: 'label'}, k + '=' + v));
      const word = decisionWord(r.state, r.waiting);
      this.body.append(h('tr', {'data-id': r.id, 'data-state': r.state, class: r.waiting ? 'waiting' : ''},
        h('td', {'data-label': 'Analysis'}, h('a', {href}, r.spec), ' ', h('code', {class: 'id'}, r.id), ' ', labels),
        h('td', {'data-label': 'Environments'},
          h('span', {class: 'role'}, 'baseline '), h('strong', {}, r.baseline.name), ' → ',
          h('span', {class: 'role'}, 'candidate '), h('strong', {}, r.candidate.name)),
        h('td', {'data-label': 'Phase'}, r.phase || '—'),
        h('td', {'data-label': 'Elapsed'}, progressCell(r)),
        h('td', {'data-label': 'Decision'}, h('span', {class: 'badge decision-' + (r.waiting ? 'waiting' : r.state)}, word),
          r.override ? h('span', {class: 'muted'}, ' (by ' + r.override.by + ')') : null),
        h('td', {'data-label': 'Closest to failing'}, closestCell(r.checks))));
    }
    if (rows.length === 0) {
      this.body.append(h('tr', {}, h('td', {colspan: 6, class: 'muted'}, 'No analyses match.')));
    }
  }
}
