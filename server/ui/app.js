// The page: the token, the connection state, the views (#/ the list, #/analyses/{id} one
// analysis), the confirmation dialog and the wall-screen mode.

import * as api from './api.js';
import {AnalysisView} from './analysis.js';
import {clear, h} from './dom.js';
import {ListView} from './list.js';

const main = document.getElementById('main');
const conn = document.getElementById('conn');
const announcer = document.getElementById('announce');
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token');
const who = document.getElementById('who');
const forget = document.getElementById('forget');
const wall = document.getElementById('wall');
const dialog = document.getElementById('confirm');

let view = null;
let scope = {scope: 'read', tokens: true, name: ''};

const connWords = {connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', unauthorized: 'token refused'};

function setConn(state) {
  conn.textContent = connWords[state] || state;
  conn.dataset.state = state;
  document.body.dataset.conn = state;
  if (state === 'unauthorized') askToken('The token was refused, or lacks the read scope.');
}

function announce(text) {
  // A fresh text node each time, so that screen readers read repeated messages too.
  clear(announcer).append(document.createTextNode(text));
}

function askToken(why) {
  tokenForm.hidden = false;
  forget.hidden = true;
  who.textContent = '';
  if (why) {
    clear(main).append(h('h1', {}, 'greenlight'), h('p', {role: 'alert', id: 'token-needed'}, why));
  }
  tokenInput.focus();
}

async function whoami() {
  try {
    const t = await api.get('/api/v1/token');
    scope = t;
    tokenForm.hidden = true;
    forget.hidden = !t.tokens;
    who.textContent = t.tokens ? `${t.name} (${t.scope})` : 'no tokens: open to everyone';
    who.dataset.scope = t.scope;
    return true;
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      askToken(api.token() ? 'That token was refused.' : 'Enter an API token (read scope or more) to see the analyses.');
      return false;
    }
    clear(main).append(h('p', {role: 'alert'}, 'Cannot reach greenlight: ' + e.message));
    return false;
  }
}

async function route() {
  if (view) view.hide();
  view = null;
  // A view's state for tests and styles lives in main's data attributes: none carries over.
  for (const k of Object.keys(main.dataset)) delete main.dataset[k];
  if (!(await whoami())) return;
  const m = location.hash.match(/^#\/analyses\/([^/]+)$/);
  const ctx = {announce, setConn, scope, ask};
  view = m ? new AnalysisView(main, decodeURIComponent(m[1]), ctx) : new ListView(main, ctx);
  document.body.dataset.view = m ? 'analysis' : 'list';
  await view.show();
  main.dataset.ready = 'true';
}

// ask opens the confirmation dialog with one required text field; run(text) does the call.
function ask({title, text, field, confirm, run}) {
  const input = h('input', {id: 'dialog-field', type: 'text', required: true, maxlength: 1024, autocomplete: 'off'});
  const error = h('p', {class: 'error', role: 'alert', id: 'dialog-error'});
  const ok = h('button', {type: 'submit', class: 'primary', id: 'dialog-ok'}, confirm);
  const cancel = h('button', {type: 'button', id: 'dialog-cancel'}, 'Cancel');
  const form = h('form', {},
    h('h2', {id: 'dialog-title'}, title), h('p', {}, text),
    h('label', {for: 'dialog-field'}, field), input, error, h('div', {class: 'buttons'}, cancel, ok));
  clear(dialog).append(form);
  dialog.setAttribute('aria-labelledby', 'dialog-title');
  const opener = document.activeElement;
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => { if (opener && opener.isConnected) opener.focus(); }, {once: true});
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) {
      error.textContent = field + ' is required.';
      return;
    }
    ok.disabled = true;
    try {
      await run(value);
      dialog.close();
      announce(confirm + ': done.');
    } catch (err) {
      error.textContent = err.message;
      ok.disabled = false;
    }
  });
  dialog.showModal();
  input.focus();
}

tokenForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const t = tokenInput.value.trim();
  tokenInput.value = '';
  if (!t) return;
  api.setToken(t);
  route();
});

forget.addEventListener('click', () => {
  api.setToken('');
  route();
});

function setWall(on) {
  document.body.classList.toggle('wall', on);
  wall.setAttribute('aria-pressed', String(on));
  localStorage.setItem('greenlight.wall', on ? '1' : '');
}
wall.addEventListener('click', () => setWall(!document.body.classList.contains('wall')));
setWall(localStorage.getItem('greenlight.wall') === '1');

window.addEventListener('hashchange', () => {
  route();
  main.focus();
});
route();
