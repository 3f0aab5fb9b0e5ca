// The API as the page uses it: the token, JSON calls and event streams.
//
// The token is entered once and kept in sessionStorage (this tab only, gone when it closes). It
// is sent in the Authorization header of every call and never shown or put in a URL. Event
// streams are read with fetch rather than EventSource, which cannot send that header: the
// reader below parses text/event-stream itself, sends Last-Event-ID when it reconnects, and
// reconnects with backoff after the server's retry delay.

const tokenKey = 'greenlight.token';

export function token() {
  return sessionStorage.getItem(tokenKey) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(tokenKey, value);
  else sessionStorage.removeItem(tokenKey);
}

function headers(extra) {
  const h = Object.assign({Accept: 'application/json'}, extra || {});
  const t = token();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

// ApiError carries the status and the API's message.
export class ApiError extends Error {
  constructor(status, message, fields) {
    super(message);
    this.status = status;
    this.fields = fields || [];
  }
}

async function answer(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch (e) {
    body = null;
  }
  if (!resp.ok) {
    const msg = (body && body.error) || resp.status + ' ' + resp.statusText;
    const fields = (body && body.fields) || [];
    const detail = fields.map((f) => f.field + ': ' + f.message).join('; ');
    throw new ApiError(resp.status, detail ? msg + ' — ' + detail : msg, fields);
  }
  return body;
}

export async function get(path) {
  return answer(await fetch(path, {headers: headers(), cache: 'no-store'}));
}

export async function post(path, body) {
  return answer(await fetch(path, {
    method: 'POST',
    headers: headers({'Content-Type': 'application/json'}),
    body: JSON.stringify(body),
    cache: 'no-store',
  }));
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, {once: true});
});

// stream follows server-sent events at path until close() is called. onEvent gets
// {id, event, data} with data parsed from JSON; onState gets 'connecting', 'live',
// 'reconnecting' or 'unauthorized'. lastId, when given, is where it starts (the id of the last
// event already known); after a reconnect it goes on after the last event it passed on.
export function stream(path, {onEvent, onState, lastId}) {
  let last = lastId === undefined || lastId === null ? null : String(lastId);
  let retry = 2000;
  const stop = new AbortController();
  let attempt = 0;

  function dispatch(block) {
    let id = null;
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
    }
    if (data.length === 0) return;
    if (id !== null) last = id;
    let parsed;
    try {
      parsed = JSON.parse(data.join('\n'));
    } catch (e) {
      return;
    }
    onEvent({id, event, data: parsed});
  }

  async function run() {
    while (!stop.signal.aborted) {
      onState(attempt === 0 ? 'connecting' : 'reconnecting');
      attempt++;
      const h = headers({Accept: 'text/event-stream'});
      if (last !== null) h['Last-Event-ID'] = last;
      try {
        const resp = await fetch(path, {headers: h, signal: stop.signal, cache: 'no-store'});
        if (resp.status === 401 || resp.status === 403) {
          onState('unauthorized');
          return;
        }
        if (!resp.ok || !resp.body) throw new Error('status ' + resp.status);
        onState('live');
        attempt = 1;
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, '\n');
          let end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            dispatch(buf.slice(0, end));
            buf = buf.slice(end + 2);
          }
        }
      } catch (e) {
        if (stop.signal.aborted) return;
      }
      if (stop.signal.aborted) return;
      onState('reconnecting');
      // The server's retry delay, a little more after repeated failures, with jitter.
      const wait = Math.min(retry * Math.min(attempt, 8), 30000) * (0.75 + Math.random() / 2);
      await sleep(wait, stop.signal);
    }
  }
  run();
  return {
    close() { stop.abort(); },
    lastId() { return last; },
  };
}
