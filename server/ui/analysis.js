// One analysis: its verdict and reasons, each check with both sides and its interval over time
// against the limit, the smoke steps, source errors, the watch and the event timeline — live
// over the analysis's event stream, which a reconnect resumes after the last event received.

import * as api from './api.js';
import {effectLabel, formatter, limitText, limits, stateWords, where} from './checks.js';
import {intervalChart} from './chart.js';
import {clear, decisionWord, duration, h, time} from './dom.js';

const maxTicks = 4000;

const kindWords = {
  phase: 'phase', 'smoke-step': 'smoke step', 'smoke-done': 'smoke gate', warning: 'warning', verdict: 'verdict',
  override: 'override', resumed: 'restarted',
};

export class AnalysisView {
  constructor(root, id, {announce, setConn, scope, ask}) {
    this.root = root;
    this.id = id;
    this.announce = announce;
    this.setConn = setConn;
    this.scope = scope; // {scope, tokens}
    this.ask = ask;
    this.a = null;
    this.ticks = [];
    this.timeline = [];
    this.smoke = [];
    this.warnings = [];
    this.phases = [];
    this.lastSeq = 0;
    this.gaps = 0;
    this.dupes = 0;
    this.connects = 0;
    this.pending = false;
  }

  async show() {
    this.root.dataset.analysis = this.id;
    clear(this.root).append(h('p', {class: 'muted'}, 'Loading…'));
    try {
      this.a = await api.get('/api/v1/analyses/' + encodeURIComponent(this.id));
    } catch (e) {
      clear(this.root).append(h('h1', {}, 'Analysis ' + this.id), h('p', {role: 'alert'}, 'Cannot load it: ' + e.message));
      if (e.status === 401 || e.status === 403) this.setConn('unauthorized');
      return;
    }
    this.render();
    this.stream = api.stream('/api/v1/analyses/' + encodeURIComponent(this.id) + '/events', {
      onEvent: (e) => this.onEvent(e.data),
      onState: (s) => {
        if (s === 'live') this.connects++;
        this.root.dataset.conn = s;
        this.root.dataset.connects = String(this.connects);
        this.setConn(s);
      },
    });
  }

  hide() {
    if (this.stream) this.stream.close();
  }

  onEvent(ev) {
    if (ev.seq <= this.lastSeq) {
      this.dupes++;
      return;
    }
    if (this.lastSeq > 0 && ev.seq !== this.lastSeq + 1 && !ev.skipped) this.gaps++;
    this.lastSeq = ev.seq;
    const a = this.a;
    switch (ev.kind) {
      case 'tick':
        this.ticks.push(ev);
        // A long analysis: keep every other older evaluation (the chart draws 400 at most).
        if (this.ticks.length > maxTicks) this.ticks = this.ticks.filter((_, i) => i % 2 === 0 || i === this.ticks.length - 1);
        a.phase = ev.phase || a.phase;
        a.checks = ev.checks || a.checks;
        break;
      case 'phase':
        this.phases.push(ev);
        a.phase = ev.phase || a.phase;
        break;
      case 'smoke-step':
        this.smoke.push(ev);
        break;
      case 'warning':
        this.warnings.push(ev);
        break;
      case 'verdict':
        if (ev.verdict) {
          const before = a.state;
          a.result = ev.verdict;
          a.state = ev.verdict.verdict;
          a.reason = ev.verdict.reason;
          a.checks = ev.verdict.checks || a.checks;
          if (before === 'running') this.announce(`Decided: ${decisionWord(a.state)} — ${a.reason}`);
        }
        break;
      case 'override':
        if (ev.override && a.result) {
          a.result.override = ev.override;
          a.result.verdict = a.state = ev.override.decision;
          a.result.reason = a.reason = ev.message || a.reason;
          this.announce(`Overridden to ${ev.override.decision} by ${ev.override.by}`);
        }
        break;
    }
    if (ev.kind !== 'tick') this.timeline.push(ev);
    this.schedule();
  }

  // schedule renders once per frame however many events came (a replay brings hundreds).
  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  names() {
    const last = this.ticks[this.ticks.length - 1] || this.phases[this.phases.length - 1] || {};
    const r = this.a.result || {};
    return {
      base: (r.baseline && r.baseline.name) || last.baseline || this.a.baseline || 'baseline',
      cand: (r.candidate && r.candidate.name) || last.candidate || this.a.candidate || 'candidate',
    };
  }

  render() {
    const a = this.a;
    const focused = document.activeElement && this.root.contains(document.activeElement) ? document.activeElement.id : null;
    const {base, cand} = this.names();
    const last = this.ticks[this.ticks.length - 1];
    const running = a.state === 'running';
    const waiting = a.state === 'inconclusive';
    Object.assign(this.root.dataset, {
      lastSeq: String(this.lastSeq), gaps: String(this.gaps), dupes: String(this.dupes), ticks: String(this.ticks.length), state: a.state,
    });
    const labels = Object.entries(a.labels || {}).map(([k, v]) => h('span', {class: 'label'}, k + '=' + v));
    const envURL = (name) => (a.environments || {})[name] || (a.result && [a.result.baseline, a.result.candidate].find((e) => e && e.name === name) || {}).url || '';
    let progress = null;
    if (running && last) {
      const text = last.limitMs ? `${duration(last.elapsedMs)} / ${duration(last.limitMs)}` : duration(last.elapsedMs);
      progress = h('p', {class: 'progress'}, `${last.phase}: ${text} `,
        last.limitMs ? h('progress', {max: last.limitMs, value: Math.min(last.elapsedMs, last.limitMs), 'aria-label': 'elapsed ' + text}) : null);
    }
    const parts = [
      h('p', {class: 'crumbs'}, h('a', {href: '#/'}, '← All analyses')),
      h('h1', {}, a.spec, ' ', h('code', {class: 'id'}, a.id)),
      h('p', {class: 'roles'},
        h('span', {class: 'role'}, 'baseline '), h('strong', {}, base), ' ', h('span', {class: 'url'}, envURL(base)), ' → ',
        h('span', {class: 'role'}, 'candidate '), h('strong', {}, cand), ' ', h('span', {class: 'url'}, envURL(cand)), ' ', labels),
      progress,
      this.verdictPanel(waiting),
      this.actions(running, waiting),
      this.checksSection(base, cand),
      this.smokeSection(),
      this.errorsSection(),
      this.watchSection(),
      this.timelineSection(),
    ];
    clear(this.root).append(...parts.filter(Boolean));
    if (focused) {
      const again = document.getElementById(focused);
      if (again) again.focus();
    }
  }

  verdictPanel(waiting) {
    const a = this.a;
    const r = a.result || {};
    const word = decisionWord(a.state);
    const panel = h('section', {class: 'verdict decision-' + (waiting ? 'waiting' : a.state), 'aria-labelledby': 'verdict-h', id: 'verdict'});
    panel.append(h('h2', {id: 'verdict-h'}, a.state === 'running' ? 'Deciding' : 'Verdict: ' + word));
    const lines = [];
    if (a.state === 'running') {
      lines.push('No verdict yet: the checks below are still gathering evidence.');
    } else if (waiting) {
      lines.push('The analysis could not decide, and its policy leaves the decision to a person: promote or roll back.');
    }
    if (a.reason || r.reason) lines.push(h('span', {class: 'reason', id: 'reason'}, a.reason || r.reason));
    if (r.override) {
      lines.push(`Overridden to ${r.override.decision} by ${r.override.by}: “${r.override.why}” (the analysis said ${decisionWord(r.override.was)}).`);
    }
    for (const d of r.diagnosis || []) lines.push('Diagnosis: ' + d);
    for (const l of lines) panel.append(h('p', {}, l));
    return panel;
  }

  actions(running, waiting) {
    const s = this.scope;
    const can = (need) => ({read: 1, write: 2, admin: 3})[s.scope] >= ({read: 1, write: 2, admin: 3})[need];
    const buttons = [];
    const a = this.a;
    if (running && can('write')) {
      const b = h('button', {type: 'button', id: 'abort', class: 'danger'}, 'Abort…');
      b.addEventListener('click', () => this.ask({
        title: 'Abort this analysis?',
        text: 'It stops without a verdict on the candidate (interrupted), audited with your reason.',
        field: 'Reason', confirm: 'Abort',
        run: (why) => api.post(`/api/v1/analyses/${encodeURIComponent(a.id)}/abort`, {reason: why}),
      }));
      buttons.push(b);
    }
    if (a.state !== 'interrupted' && can('admin')) {
      for (const [decision, label] of [['promote', 'Promote…'], ['rollback', 'Roll back…']]) {
        if (!running && a.state === decision) continue;
        const b = h('button', {type: 'button', id: 'override-' + decision, class: decision === 'rollback' ? 'danger' : 'primary'}, label);
        b.addEventListener('click', () => this.ask({
          title: (decision === 'promote' ? 'Promote' : 'Roll back') + ' by hand?',
          text: running ? 'The analysis stops with your decision.' : 'The verdict is revised; what the analysis said is kept beside it.',
          field: 'Why', confirm: decision === 'promote' ? 'Promote' : 'Roll back',
          run: (why) => api.post(`/api/v1/analyses/${encodeURIComponent(a.id)}/override`, {decision, why}),
        }));
        buttons.push(b);
      }
    }
    const notes = [];
    if (s.tokens && !can('admin') && a.state !== 'interrupted') {
      notes.push(h('p', {class: 'muted', id: 'needs-admin'}, (waiting ? 'Waiting on a person: ' : '') + 'promoting or rolling back by hand needs an admin token.'));
    }
    if (buttons.length === 0 && notes.length === 0) return null;
    return h('section', {class: 'actions', 'aria-label': 'Actions'}, buttons, notes);
  }

  // series is one limit's course over the current phase's evaluations.
  series(name, which) {
    const phase = this.a.phase;
    let ticks = this.ticks.filter((t) => t.phase === phase);
    if (ticks.length === 0) ticks = this.ticks;
    const pts = [];
    const t0 = ticks.length ? new Date(ticks[0].time).getTime() : 0;
    const add = (when, checks) => {
      const c = (checks || []).find((x) => x.name === name);
      if (!c) return;
      const l = limits(c).find((x) => x.effect === which);
      if (l) pts.push({t: when - t0, value: l.interval.value, lower: l.interval.lower, upper: l.interval.upper});
    };
    for (const t of ticks) add(new Date(t.time).getTime(), t.checks);
    const v = this.a.result;
    const final = this.timeline.find((e) => e.kind === 'verdict');
    if (v && final && ticks.length && v.phase === phase) add(new Date(final.time).getTime(), v.checks);
    return pts;
  }

  checksSection(base, cand) {
    const checks = this.a.checks || [];
    const sec = h('section', {'aria-labelledby': 'checks-h'}, h('h2', {id: 'checks-h'}, 'Checks'));
    if (checks.length === 0) sec.append(h('p', {class: 'muted'}, 'No evaluation yet.'));
    checks.forEach((c, i) => {
      const u = formatter(c, 'candidate');
      const est = (e) => (e ? {value: e.value, lower: e.lower, upper: e.upper, n: e.n} : {});
      const b = est(c.baseline);
      const k = est(c.candidate);
      const num = (x) => u(x === null || x === undefined ? NaN : x === 'Inf' ? Infinity : x === '-Inf' ? -Infinity : Number(x));
      const side = h('table', {class: 'sides'},
        h('caption', {class: 'visually-hidden'}, c.name + ': ' + base + ' and ' + cand + ' side by side'),
        h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, c.metric), h('th', {scope: 'col'}, base + ' (baseline)'), h('th', {scope: 'col'}, cand + ' (candidate)'))),
        h('tbody', {},
          h('tr', {}, h('th', {scope: 'row'}, 'value'), h('td', {}, num(b.value)), h('td', {}, num(k.value))),
          h('tr', {}, h('th', {scope: 'row'}, 'interval'), h('td', {}, `[${num(b.lower)}, ${num(b.upper)}]`), h('td', {}, `[${num(k.lower)}, ${num(k.upper)}]`)),
          h('tr', {}, h('th', {scope: 'row'}, 'samples'), h('td', {}, String(b.n ?? 0)), h('td', {}, String(k.n ?? 0)))));
      const card = h('article', {class: 'check state-' + c.state, 'data-check': c.name, 'data-state': c.state, 'aria-labelledby': 'check-' + i},
        h('h3', {id: 'check-' + i}, c.name, ' ', h('span', {class: 'badge state-' + c.state}, stateWords[c.state] || c.state), ' ',
          h('span', {class: 'tag'}, c.critical ? 'critical' : 'advisory: never decides')),
        h('p', {class: 'reason'}, c.reason),
        h('div', {class: 'check-body'}, side));
      for (const l of limits(c)) {
        const f = formatter(c, l.effect);
        const label = effectLabel(c, l.effect, base, cand);
        card.append(h('figure', {class: 'effect', 'data-effect': l.effect},
          intervalChart({points: this.series(c.name, l.effect), limit: l, fmt: f, label, state: c.state, id: `chart-${i}-${l.effect}`}),
          h('figcaption', {}, h('strong', {}, label), ': ', f(l.interval.value), ' — ', where(l, f), '. Allowed: ', limitText(l, f), '.')));
      }
      if (c.error) card.append(h('p', {class: 'error'}, 'Source failing: ' + c.error));
      sec.append(card);
    });
    return sec;
  }

  smokeSection() {
    const steps = this.smoke.length ? this.smoke.map((e) => ({suite: e.suite, env: e.env, step: e.step || {}})) : [];
    if (steps.length === 0 && !(this.a.result && this.a.result.smoke)) return null;
    const rows = steps.length ? steps : (this.a.result.smoke.suites || []).flatMap((s) => (s.steps || []).map((st) => ({suite: s.name, env: s.environment, step: st})));
    return h('section', {'aria-labelledby': 'smoke-h'}, h('h2', {id: 'smoke-h'}, 'Smoke'),
      h('div', {class: 'table-wrap'}, h('table', {class: 'smoke'},
        h('thead', {}, h('tr', {}, ['Suite', 'Environment', 'Step', 'Result', 'Status', 'Took', 'Detail'].map((t) => h('th', {scope: 'col'}, t)))),
        h('tbody', {}, rows.map((r) => {
          const st = r.step;
          const failed = (st.conditions || []).filter((c) => !c.passed).map((c) => c.detail || c.expression);
          return h('tr', {'data-status': st.status},
            h('td', {}, r.suite || ''), h('td', {}, r.env || st.environment || ''), h('td', {}, st.name || ''),
            h('td', {}, h('span', {class: 'badge step-' + st.status}, st.status || '')), h('td', {}, st.statusCode ? String(st.statusCode) : ''),
            h('td', {}, st.durationMs !== undefined ? duration(st.durationMs).replace(/^0s$/, Math.round(st.durationMs) + 'ms') : ''),
            h('td', {}, [st.error, ...failed].filter(Boolean).join('; ')));
        })))));
  }

  errorsSection() {
    const items = [];
    for (const c of this.a.checks || []) {
      if (c.error) items.push(`${c.name}: ${c.error}`);
      for (const w of c.warnings || []) items.push(`${c.name}: ${w}`);
    }
    const last = this.ticks[this.ticks.length - 1];
    for (const d of (last && last.diagnosis) || []) items.push(d);
    for (const w of this.warnings) items.push(w.message);
    if (items.length === 0) return null;
    return h('section', {'aria-labelledby': 'errors-h', class: 'errors'}, h('h2', {id: 'errors-h'}, 'Source errors and warnings'),
      h('ul', {}, [...new Set(items)].map((t) => h('li', {}, t))));
  }

  watchSection() {
    const watch = this.phases.filter((p) => p.phase === 'watch').pop();
    if (!watch) return null;
    const ticks = this.ticks.filter((t) => t.phase === 'watch');
    const last = ticks[ticks.length - 1];
    const done = this.a.state !== 'running';
    return h('section', {'aria-labelledby': 'watch-h'}, h('h2', {id: 'watch-h'}, 'Watch after promote'),
      h('p', {}, `${done ? 'Watched' : 'Watching'} the candidate with fresh checks for ${duration(last ? last.elapsedMs : 0)} of ${duration(watch.limitMs)}: a regression now still rolls back.`));
  }

  timelineSection() {
    const items = this.timeline.map((e) => {
      let text = e.message || '';
      if (e.kind === 'phase') text = `${e.phase} started` + (e.limitMs ? ` (limit ${duration(e.limitMs)})` : '') + (e.message ? ': ' + e.message : '');
      if (e.kind === 'smoke-step' && e.step) text = `${e.suite} on ${e.env}: ${e.step.name} ${e.step.status}`;
      if (e.kind === 'verdict' && e.verdict) text = `${decisionWord(e.verdict.verdict)}: ${e.verdict.reason}`;
      if (e.kind === 'override' && e.override) text = `overridden to ${e.override.decision} by ${e.override.by}: ${e.override.why}`;
      return h('li', {'data-seq': e.seq, 'data-kind': e.kind}, h('time', {datetime: e.time}, time(e.time)), ' ',
        h('span', {class: 'kind'}, kindWords[e.kind] || e.kind), ' ', text);
    });
    return h('section', {'aria-labelledby': 'timeline-h'}, h('h2', {id: 'timeline-h'}, 'Timeline'),
      h('p', {class: 'muted'}, `${this.ticks.length} evaluations received.`),
      h('ol', {class: 'timeline'}, items));
  }
}
