// Lambda's Node.js handler contract on Boa: the globals handlers use
// (console as Lambda's Node runtime writes it, process.env, Buffer, crypto,
// require), the handler's loading with Lambda's INIT errors, and one
// invocation's callback/promise bookkeeping. `__native` is the Rust side
// (files, stdio, the lambdesk imports); the Rust side drives the event loop.
(function (native) {
  'use strict';
  const TASK_ROOT = '/var/task';
  let requestId = undefined;

  // ---- util.inspect and util.format, as Node prints values ----
  const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
  function quote(s) {
    const q = s.includes("'") ? (s.includes('"') ? '`' : '"') : "'";
    return q + s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') + q;
  }
  function inspect(value, opts) {
    const depth = opts && opts.depth !== undefined ? opts.depth : 2;
    const seen = [];
    function fmt(v, level, indent) {
      switch (typeof v) {
        case 'string': return level === 0 && opts && opts.top ? v : quote(v);
        case 'number': return Object.is(v, -0) ? '-0' : String(v);
        case 'bigint': return String(v) + 'n';
        case 'boolean': return String(v);
        case 'undefined': return 'undefined';
        case 'symbol': return v.toString();
        case 'function': {
          const src = Function.prototype.toString.call(v);
          if (/^class\b/.test(src)) return '[class ' + (v.name || '(anonymous)') + ']';
          return v.name ? '[Function: ' + v.name + ']' : '[Function (anonymous)]';
        }
      }
      if (v === null) return 'null';
      if (seen.includes(v)) return '[Circular *1]';
      if (v instanceof Date) return isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
      if (v instanceof RegExp) return String(v);
      if (v instanceof Error) return errorText(v);
      if (typeof v.then === 'function' && v instanceof Promise) return 'Promise { <pending> }';
      const isArray = Array.isArray(v);
      const isBuffer = typeof Buffer !== 'undefined' && v instanceof Buffer;
      if (isBuffer) {
        const hex = [];
        for (let i = 0; i < Math.min(v.length, 50); i++) hex.push(v[i].toString(16).padStart(2, '0'));
        return '<Buffer' + (hex.length ? ' ' + hex.join(' ') : '') + (v.length > 50 ? ' ... ' + (v.length - 50) + ' more bytes' : '') + '>';
      }
      if (level > depth) return isArray ? '[Array]' : '[Object]';
      seen.push(v);
      let entries = [];
      let open = '{', close = '}', prefix = '';
      if (isArray) {
        open = '['; close = ']';
        const n = Math.min(v.length, 100);
        for (let i = 0; i < n; i++) entries.push(i in v ? fmt(v[i], level + 1, indent + 2) : '<1 empty item>');
        if (v.length > 100) entries.push('... ' + (v.length - 100) + ' more items');
      } else if (v instanceof Map) {
        prefix = 'Map(' + v.size + ') ';
        for (const [k, x] of v) entries.push(fmt(k, level + 1, indent + 2) + ' => ' + fmt(x, level + 1, indent + 2));
      } else if (v instanceof Set) {
        prefix = 'Set(' + v.size + ') ';
        for (const x of v) entries.push(fmt(x, level + 1, indent + 2));
      } else if (ArrayBuffer.isView(v)) {
        prefix = v.constructor.name + '(' + v.length + ') ';
        open = '['; close = ']';
        for (let i = 0; i < Math.min(v.length, 100); i++) entries.push(String(v[i]));
      } else {
        const proto = Object.getPrototypeOf(v);
        if (proto === null) prefix = '[Object: null prototype] ';
        else if (proto !== Object.prototype && proto.constructor && proto.constructor.name) prefix = proto.constructor.name + ' ';
      }
      if (!isArray && !(v instanceof Map) && !(v instanceof Set) && !ArrayBuffer.isView(v)) {
        for (const k of Object.keys(v)) {
          const key = IDENT.test(k) ? k : quote(k);
          entries.push(key + ': ' + fmt(v[k], level + 1, indent + 2));
        }
      }
      seen.pop();
      if (entries.length === 0) return prefix + open + close;
      const single = prefix + open + ' ' + entries.join(', ') + ' ' + close;
      if (single.length + indent <= 72 && !entries.some((e) => e.includes('\n'))) return single;
      const pad = ' '.repeat(indent + 2);
      return prefix + open + '\n' + entries.map((e) => pad + e).join(',\n') + '\n' + ' '.repeat(indent) + close;
    }
    return fmt(value, 0, 0);
  }
  // The stack as lines, without Boa's frames for native code.
  function traceOf(e) {
    return errorText(e).split('\n').filter((l) => l.trim() && !/^\s*at\s+\(native\)$/.test(l) && l.trim() !== 'at  (native)');
  }
  function errorText(e) {
    const stack = typeof e.stack === 'string' && e.stack ? e.stack : '';
    const head = (e.name || 'Error') + (e.message ? ': ' + e.message : '');
    return stack.startsWith(head) ? stack : (stack ? head + '\n' + stack : head);
  }
  function format(...args) {
    let out = '';
    let rest = args;
    if (typeof args[0] === 'string' && args[0].includes('%')) {
      let i = 1;
      out = args[0].replace(/%([sdifjoOc%])/g, (m, c) => {
        if (c === '%') return '%';
        if (i >= args.length) return m;
        const a = args[i++];
        switch (c) {
          case 's': return typeof a === 'string' ? a : inspect(a, { depth: 1 });
          case 'd': return typeof a === 'bigint' ? a + 'n' : String(Number(a));
          case 'i': return String(parseInt(a, 10));
          case 'f': return String(parseFloat(a));
          case 'j': try { return JSON.stringify(a); } catch (_) { return '[Circular]'; }
          case 'c': return '';
          default: return inspect(a, { depth: 4 });
        }
      });
      rest = args.slice(i);
      return [out, ...rest.map((a) => (typeof a === 'string' ? a : inspect(a)))].join(' ');
    }
    return rest.map((a) => (typeof a === 'string' ? a : inspect(a))).join(' ');
  }

  // ---- console: `<ISO time>\t<request id>\t<LEVEL>\t<message>` ----
  function write(level, args) {
    // Lambda's text format keeps a message one record: newlines become \r.
    const message = format(...args).replace(/\n/g, '\r');
    native.stderr(new Date().toISOString() + '\t' + (requestId || 'undefined') + '\t' + level + '\t' + message + '\n');
  }
  const timers = new Map();
  const counts = new Map();
  globalThis.console = {
    log: (...a) => write('INFO', a),
    info: (...a) => write('INFO', a),
    warn: (...a) => write('WARN', a),
    error: (...a) => write('ERROR', a),
    debug: (...a) => write('DEBUG', a),
    trace: (...a) => write('TRACE', a),
    dir: (v) => write('INFO', [inspect(v)]),
    table: (v) => write('INFO', [v]),
    assert: (ok, ...a) => { if (!ok) write('ERROR', ['Assertion failed' + (a.length ? ':' : ''), ...a]); },
    time: (label = 'default') => { timers.set(label, Date.now()); },
    timeEnd: (label = 'default') => {
      if (timers.has(label)) { write('INFO', [label + ': ' + (Date.now() - timers.get(label)) + 'ms']); timers.delete(label); }
    },
    count: (label = 'default') => { const n = (counts.get(label) || 0) + 1; counts.set(label, n); write('INFO', [label + ': ' + n]); },
  };

  // ---- process ----
  globalThis.process = {
    env: {},
    argv: ['/var/lang/bin/node', '/var/runtime/index.mjs'],
    platform: 'linux',
    version: 'v22.0.0',
    versions: { node: '22.0.0', boa: '0.22' },
    release: { name: 'boa' },
    exitCode: undefined,
    cwd: () => TASK_ROOT,
    uptime: () => native.uptime(),
    hrtime: Object.assign((prev) => {
      const ns = native.monotonicNs();
      const t = [Math.floor(ns / 1e9), ns % 1e9];
      return prev ? [t[0] - prev[0] - (t[1] < prev[1] ? 1 : 0), (t[1] - prev[1] + 1e9) % 1e9] : t;
    }, { bigint: () => BigInt(native.monotonicNs()) }),
    memoryUsage: () => ({ rss: native.memoryBytes(), heapTotal: native.memoryBytes(), heapUsed: native.memoryBytes(), external: 0, arrayBuffers: 0 }),
    nextTick: (fn, ...args) => { queueMicrotask(() => fn(...args)); },
    on: () => globalThis.process,
    once: () => globalThis.process,
    emitWarning: (w) => write('WARN', [String(w)]),
    exit: (code) => { throw new Error('process.exit(' + (code || 0) + ') is not available in Lambdesk\'s JavaScript runtime'); },
  };

  // ---- Buffer (the encodings handlers use: utf8, base64, base64url, hex, latin1) ----
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function toBase64(bytes, url) {
    let out = '';
    let i = 0;
    for (; i + 2 < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
    }
    if (i < bytes.length) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8);
      out += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=') + '=';
    }
    return url ? out.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') : out;
  }
  function fromBase64(s) {
    const clean = s.replace(/[^A-Za-z0-9+/\-_]/g, '');
    const out = [];
    let bits = 0, acc = 0;
    for (const ch of clean) {
      const c = ch === '-' ? 62 : ch === '_' ? 63 : B64.indexOf(ch);
      acc = (acc << 6) | c;
      bits += 6;
      if (bits >= 8) { bits -= 8; out.push((acc >> bits) & 255); }
    }
    return out;
  }
  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      if (typeof value === 'string') {
        const enc = (encodingOrOffset || 'utf8').toLowerCase();
        let bytes;
        switch (enc) {
          case 'utf8': case 'utf-8': bytes = new TextEncoder().encode(value); break;
          case 'base64': case 'base64url': bytes = fromBase64(value); break;
          case 'hex': {
            bytes = [];
            for (let i = 0; i + 1 < value.length; i += 2) {
              const b = parseInt(value.slice(i, i + 2), 16);
              if (Number.isNaN(b)) break;
              bytes.push(b);
            }
            break;
          }
          case 'latin1': case 'binary': case 'ascii': bytes = Array.from(value, (c) => c.charCodeAt(0) & 255); break;
          case 'utf16le': case 'ucs2': case 'ucs-2': case 'utf-16le': {
            bytes = [];
            for (let i = 0; i < value.length; i++) { const c = value.charCodeAt(i); bytes.push(c & 255, c >> 8); }
            break;
          }
          default: throw new TypeError('Unknown encoding: ' + encodingOrOffset);
        }
        const b = new Buffer(bytes.length);
        b.set(bytes);
        return b;
      }
      if (value instanceof ArrayBuffer) return new Buffer(value, encodingOrOffset || 0, length === undefined ? value.byteLength - (encodingOrOffset || 0) : length);
      if (ArrayBuffer.isView(value) || Array.isArray(value)) {
        const b = new Buffer(value.length);
        b.set(value);
        return b;
      }
      if (value && value.type === 'Buffer' && Array.isArray(value.data)) return Buffer.from(value.data);
      throw new TypeError('The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object.');
    }
    static alloc(n, fill) { const b = new Buffer(n); if (fill !== undefined) b.fill(typeof fill === 'string' ? fill.charCodeAt(0) : fill); return b; }
    static allocUnsafe(n) { return new Buffer(n); }
    static isBuffer(b) { return b instanceof Buffer; }
    static byteLength(s, enc) { return typeof s === 'string' ? Buffer.from(s, enc).length : s.byteLength; }
    static concat(list, total) {
      const n = total === undefined ? list.reduce((a, b) => a + b.length, 0) : total;
      const out = Buffer.alloc(n);
      let at = 0;
      for (const b of list) { if (at >= n) break; out.set(b.subarray(0, n - at), at); at += b.length; }
      return out;
    }
    toString(encoding, start, end) {
      const bytes = this.subarray(start || 0, end === undefined ? this.length : end);
      switch ((encoding || 'utf8').toLowerCase()) {
        case 'utf8': case 'utf-8': return new TextDecoder().decode(bytes);
        case 'base64': return toBase64(bytes, false);
        case 'base64url': return toBase64(bytes, true);
        case 'hex': return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
        case 'latin1': case 'binary': return String.fromCharCode(...bytes);
        case 'ascii': return String.fromCharCode(...Array.from(bytes, (b) => b & 127));
        default: throw new TypeError('Unknown encoding: ' + encoding);
      }
    }
    toJSON() { return { type: 'Buffer', data: Array.from(this) }; }
    equals(other) { return this.length === other.length && this.every((b, i) => b === other[i]); }
    slice(start, end) { const s = this.subarray(start, end); return new Buffer(s.buffer, s.byteOffset, s.length); }
    write(s, offset) { const b = Buffer.from(s); this.set(b.subarray(0, this.length - (offset || 0)), offset || 0); return Math.min(b.length, this.length - (offset || 0)); }
  }
  globalThis.Buffer = Buffer;

  // ---- URLSearchParams (and URL's searchParams, which Boa's URL lacks) ----
  const decode = (s) => { try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch (_) { return s; } };
  const encode = (s) => encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  class URLSearchParams {
    constructor(init, onChange) {
      this._list = [];
      this._onChange = onChange;
      if (typeof init === 'string') {
        for (const part of init.replace(/^\?/, '').split('&')) {
          if (!part) continue;
          const i = part.indexOf('=');
          this._list.push(i < 0 ? [decode(part), ''] : [decode(part.slice(0, i)), decode(part.slice(i + 1))]);
        }
      } else if (init && typeof init[Symbol.iterator] === 'function') {
        for (const [k, v] of init) this._list.push([String(k), String(v)]);
      } else if (init && typeof init === 'object') {
        for (const k of Object.keys(init)) this._list.push([k, String(init[k])]);
      }
    }
    _changed() { if (this._onChange) this._onChange(this.toString()); }
    get size() { return this._list.length; }
    append(k, v) { this._list.push([String(k), String(v)]); this._changed(); }
    delete(k) { this._list = this._list.filter(([x]) => x !== k); this._changed(); }
    get(k) { const e = this._list.find(([x]) => x === k); return e ? e[1] : null; }
    getAll(k) { return this._list.filter(([x]) => x === k).map(([, v]) => v); }
    has(k) { return this._list.some(([x]) => x === k); }
    set(k, v) {
      const i = this._list.findIndex(([x]) => x === k);
      if (i < 0) this._list.push([String(k), String(v)]);
      else { this._list[i][1] = String(v); this._list = this._list.filter(([x], j) => x !== k || j === i); }
      this._changed();
    }
    sort() { this._list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this._changed(); }
    forEach(f, that) { for (const [k, v] of this._list) f.call(that, v, k, this); }
    keys() { return this._list.map(([k]) => k)[Symbol.iterator](); }
    values() { return this._list.map(([, v]) => v)[Symbol.iterator](); }
    entries() { return this._list.map((e) => [e[0], e[1]])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this._list.map(([k, v]) => encode(k) + '=' + encode(v)).join('&'); }
  }
  globalThis.URLSearchParams = URLSearchParams;
  if (typeof URL === 'function') {
    Object.defineProperty(URL.prototype, 'searchParams', {
      configurable: true,
      get() { return new URLSearchParams(this.search, (q) => { this.search = q ? '?' + q : ''; }); },
    });
  }

  // ---- fetch, over the lambdesk.http_* imports (the role's outbound grants) ----
  const toLatin1 = (bytes) => {
    let out = '';
    for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
    return out;
  };
  const fromLatin1 = (text) => { const b = new Uint8Array(text.length); for (let i = 0; i < text.length; i++) b[i] = text.charCodeAt(i); return b; };
  class Headers {
    constructor(init) {
      this._map = new Map();
      if (init instanceof Headers) init.forEach((v, k) => this.append(k, v));
      else if (Array.isArray(init)) for (const [k, v] of init) this.append(k, v);
      else if (init && typeof init === 'object') for (const k of Object.keys(init)) this.append(k, init[k]);
    }
    append(k, v) { const key = String(k).toLowerCase(); const old = this._map.get(key); this._map.set(key, old === undefined ? String(v) : old + ', ' + v); }
    set(k, v) { this._map.set(String(k).toLowerCase(), String(v)); }
    get(k) { const v = this._map.get(String(k).toLowerCase()); return v === undefined ? null : v; }
    has(k) { return this._map.has(String(k).toLowerCase()); }
    delete(k) { this._map.delete(String(k).toLowerCase()); }
    forEach(f, that) { for (const [k, v] of this._map) f.call(that, v, k, this); }
    entries() { return this._map.entries(); }
    keys() { return this._map.keys(); }
    values() { return this._map.values(); }
    [Symbol.iterator]() { return this._map.entries(); }
  }
  function fetchFailed(detail) {
    const cause = new Error(detail.message);
    cause.code = detail.kind;
    const e = new TypeError('fetch failed');
    e.cause = cause;
    return e;
  }
  class Response {
    constructor(handle, head, url) {
      this._handle = handle;
      this.status = head.status;
      this.statusText = '';
      this.ok = head.status >= 200 && head.status < 300;
      this.redirected = false;
      this.url = url;
      this.headers = new Headers(head.headers);
      this.bodyUsed = false;
    }
    async arrayBuffer() { return (await this._bytes()).buffer; }
    async bytes() { return this._bytes(); }
    async text() { return new TextDecoder().decode(await this._bytes()); }
    async json() { return JSON.parse(await this.text()); }
    async _bytes() {
      if (this.bodyUsed) throw new TypeError('Body is unusable: Body has already been read');
      this.bodyUsed = true;
      let text = '';
      try {
        for (;;) {
          const chunk = native.httpRead(this._handle);
          if (chunk === null) throw fetchFailed(JSON.parse(native.httpError()));
          if (chunk === '') break;
          text += chunk;
        }
      } finally {
        native.httpClose(this._handle);
      }
      return fromLatin1(text);
    }
  }
  async function fetch(input, init) {
    const options = init || {};
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : (input && input.url) || String(input);
    const method = String(options.method || 'GET').toUpperCase();
    const headers = {};
    new Headers(options.headers).forEach((v, k) => { headers[k] = v; });
    let body = options.body;
    if (body === undefined || body === null) body = '';
    else if (typeof body === 'string') body = toLatin1(new TextEncoder().encode(body));
    else if (body instanceof URLSearchParams) {
      if (!('content-type' in headers)) headers['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
      body = toLatin1(new TextEncoder().encode(body.toString()));
    } else if (body instanceof ArrayBuffer) body = toLatin1(new Uint8Array(body));
    else if (ArrayBuffer.isView(body)) body = toLatin1(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    else body = toLatin1(new TextEncoder().encode(String(body)));
    const handle = native.httpSend(JSON.stringify({ method, url, headers }), body);
    if (handle < 0) throw fetchFailed(JSON.parse(native.httpError()));
    const head = native.httpHead(handle);
    if (head === null) throw fetchFailed({ kind: 'HttpError', message: 'the response head could not be read' });
    return new Response(handle, JSON.parse(head), url);
  }
  globalThis.fetch = fetch;
  globalThis.Headers = Headers;
  globalThis.Response = Response;

  // ---- crypto (what handlers use without a module: randomUUID, getRandomValues) ----
  const cryptoObject = {
    randomUUID: () => native.randomUUID(),
    getRandomValues: (array) => { const bytes = native.randomBytes(array.byteLength); new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(bytes); return array; },
    randomBytes: (n) => Buffer.from(native.randomBytes(n)),
    randomInt: (min, max) => { if (max === undefined) { max = min; min = 0; } return min + Math.floor(Math.random() * (max - min)); },
  };
  globalThis.crypto = cryptoObject;

  // ---- require: CommonJS over /var/task, and the few built-in modules there are ----
  const util = { inspect, format, isDeepStrictEqual: (a, b) => JSON.stringify(a) === JSON.stringify(b), promisify: (fn) => (...a) => new Promise((res, rej) => fn(...a, (e, v) => (e ? rej(e) : res(v)))), types: { isNativeError: (e) => e instanceof Error } };
  class EventEmitter {
    constructor() { this._events = new Map(); }
    on(n, f) { if (!this._events.has(n)) this._events.set(n, []); this._events.get(n).push(f); return this; }
    addListener(n, f) { return this.on(n, f); }
    once(n, f) { const w = (...a) => { this.off(n, w); f(...a); }; return this.on(n, w); }
    off(n, f) { const l = this._events.get(n); if (l) this._events.set(n, l.filter((x) => x !== f)); return this; }
    removeListener(n, f) { return this.off(n, f); }
    emit(n, ...a) { const l = this._events.get(n); if (!l || !l.length) return false; for (const f of [...l]) f.apply(this, a); return true; }
  }
  const builtins = {
    util,
    buffer: { Buffer },
    crypto: cryptoObject,
    events: Object.assign(EventEmitter, { EventEmitter }),
    url: { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams },
    'timers/promises': { setTimeout: (ms, v) => new Promise((r) => setTimeout(() => r(v), ms)) },
    timers: { setTimeout, clearTimeout, setInterval, clearInterval },
    process: globalThis.process,
  };
  function notFound(spec, from) {
    const e = new Error("Cannot find module '" + spec + "'\nRequire stack:\n- " + from);
    e.code = 'MODULE_NOT_FOUND';
    return e;
  }
  const cache = new Map();
  function dirname(p) { const i = p.lastIndexOf('/'); return i <= 0 ? '/' : p.slice(0, i); }
  function normalize(p) {
    const out = [];
    for (const part of p.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') out.pop(); else out.push(part);
    }
    return '/' + out.join('/');
  }
  function resolveFile(base) {
    for (const c of [base, base + '.js', base + '.cjs', base + '.json', base + '/index.js', base + '/index.cjs', base + '/index.json']) {
      if (native.isFile(c)) return c;
    }
    const pkg = base + '/package.json';
    if (native.isFile(pkg)) {
      try {
        const main = JSON.parse(native.readFile(pkg)).main;
        if (main) return resolveFile(normalize(base + '/' + main));
      } catch (_) { /* not a package */ }
    }
    return null;
  }
  function resolve(spec, fromFile) {
    if (spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/')) {
      return resolveFile(normalize(spec.startsWith('/') ? spec : dirname(fromFile) + '/' + spec));
    }
    for (let dir = dirname(fromFile); ; dir = dirname(dir)) {
      const found = resolveFile(normalize(dir + '/node_modules/' + spec));
      if (found) return found;
      if (dir === '/') return null;
    }
  }
  function makeRequire(fromFile) {
    const req = (spec) => {
      const name = spec.startsWith('node:') ? spec.slice(5) : spec;
      if (Object.prototype.hasOwnProperty.call(builtins, name)) return builtins[name];
      const file = resolve(spec, fromFile);
      if (!file) throw notFound(spec, fromFile);
      return loadCommonJs(file);
    };
    req.resolve = (spec) => { const f = resolve(spec, fromFile); if (!f) throw notFound(spec, fromFile); return f; };
    req.cache = cache;
    return req;
  }
  function loadCommonJs(file) {
    if (cache.has(file)) return cache.get(file).exports;
    const module = { exports: {}, id: file, filename: file, loaded: false, children: [], paths: [] };
    cache.set(file, module);
    const text = native.readFile(file);
    if (file.endsWith('.json')) {
      module.exports = JSON.parse(text);
    } else {
      const fn = native.compileCommonJs(text, file);
      fn.call(module.exports, module.exports, makeRequire(file), module, file, dirname(file));
    }
    module.loaded = true;
    return module.exports;
  }
  globalThis.require = makeRequire(TASK_ROOT + '/index.js');
  globalThis.module = undefined;
  globalThis.global = globalThis;

  // ---- the handler ----
  class InitError extends Error {
    constructor(type, message) { super(message); this.errorType = type; }
  }
  function isEsm(file) {
    if (file.endsWith('.mjs')) return true;
    if (file.endsWith('.cjs')) return false;
    for (let dir = dirname(file); ; dir = dirname(dir)) {
      const pkg = dir + '/package.json';
      if (native.isFile(pkg)) {
        try { return JSON.parse(native.readFile(pkg)).type === 'module'; } catch (_) { return false; }
      }
      if (dir === '/' || dir === TASK_ROOT) return false;
    }
  }
  // Loads the function's module by Lambda's `_HANDLER` (`file.export`) and
  // returns the handler, or throws an InitError with Lambda's type.
  function load(setting) {
    const m = /^([^.]*)\.(.*)$/.exec(setting || '');
    if (!m || !m[2]) throw new InitError('Runtime.MalformedHandlerName', "Bad handler");
    const [, moduleName, path] = m;
    const base = normalize(TASK_ROOT + '/' + moduleName);
    let file = null;
    for (const ext of ['.js', '.mjs', '.cjs']) {
      if (native.isFile(base + ext)) { file = base + ext; break; }
    }
    if (!file) {
      throw new InitError('Runtime.ImportModuleError', "Error: Cannot find module '" + moduleName.split('/').pop() + "'\nRequire stack:\n- /var/runtime/index.mjs");
    }
    let exported;
    try {
      exported = isEsm(file) ? native.loadEsm(file) : loadCommonJs(file);
    } catch (e) {
      if (e instanceof SyntaxError) {
        // Node's trace would start in its loader; this one names the place.
        const err = new InitError('Runtime.UserCodeSyntaxError', 'SyntaxError: ' + e.message);
        const at = / at line (\d+), col (\d+)$/.exec(e.message);
        if (typeof e.fileName === 'string' && at) err.frames = ['    at ' + e.fileName + ':' + at[1] + ':' + at[2]];
        throw err;
      }
      if (e && e.code === 'MODULE_NOT_FOUND') throw new InitError('Runtime.ImportModuleError', 'Error: ' + e.message);
      throw e;
    }
    let fn = exported;
    for (const part of path.split('.')) fn = fn == null ? undefined : fn[part];
    if (fn === undefined) throw new InitError('Runtime.HandlerNotFound', setting + ' is undefined or not exported');
    if (typeof fn !== 'function') throw new InitError('Runtime.HandlerNotFound', setting + ' is not a function');
    return fn;
  }
  // The error object Lambda's Node runtime reports.
  function errorObject(e) {
    if (e instanceof InitError) {
      const trace = (e.errorType + ': ' + e.message).split('\n').concat(e.frames || []);
      return { errorType: e.errorType, errorMessage: e.message, trace };
    }
    if (e instanceof Error || (e && typeof e === 'object' && typeof e.name === 'string' && 'message' in e)) {
      return { errorType: e.name, errorMessage: String(e.message), trace: traceOf(e) };
    }
    return { errorType: typeof e, errorMessage: String(e), trace: [] };
  }
  // Starts an invocation; the Rust side runs the event loop and asks `status`.
  // `event` and `c` (the invocation's context) come parsed: Boa's JSON.parse
  // is slow, serde_json is not.
  function invoke(handler, event, c) {
    requestId = c.awsRequestId;
    const state = { settled: false, result: undefined, error: undefined, callback: false };
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: c.functionName,
      functionVersion: c.functionVersion,
      invokedFunctionArn: c.invokedFunctionArn,
      memoryLimitInMB: String(c.memoryLimitInMB),
      awsRequestId: c.awsRequestId,
      logGroupName: c.logGroupName,
      logStreamName: c.logStreamName,
      getRemainingTimeInMillis: () => native.remainingMs(),
    };
    const done = (err, result) => {
      if (state.settled) return;
      state.settled = true;
      state.callback = true;
      if (err !== undefined && err !== null) state.error = { value: err };
      else state.result = result;
    };
    Object.assign(context, {
      done,
      succeed: (r) => done(null, r),
      fail: (e) => done(e === undefined || e === null ? new Error('handled') : e),
    });
    state.context = context;
    try {
      const r = handler(event, context, done);
      if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
        state.promise = true;
        r.then(
          (v) => { if (!state.settled) { state.settled = true; state.result = v; } },
          (e) => { if (!state.settled) { state.settled = true; state.error = { value: e }; } },
        );
      }
    } catch (e) {
      state.settled = true;
      state.error = { value: e };
    }
    return state;
  }
  // 0: keep running the loop; 1: answer now; 2: answer once the loop is empty.
  function status(state) {
    if (!state.settled) return 0;
    if (state.callback && state.context.callbackWaitsForEmptyEventLoop) return 2;
    return 1;
  }
  // The response: [true, JSON text] or [false, error object JSON text].
  function outcome(state) {
    if (state.error) {
      const obj = errorObject(state.error.value);
      write('ERROR', ['Invoke Error \t' + JSON.stringify({ errorType: obj.errorType, errorMessage: obj.errorMessage, stack: obj.trace })]);
      return [false, JSON.stringify(obj)];
    }
    try {
      const text = JSON.stringify(state.result === undefined ? null : state.result);
      return [true, text === undefined ? 'null' : text];
    } catch (e) {
      const obj = { errorType: 'Runtime.MarshalError', errorMessage: 'Unable to stringify response body as json: ' + e.message, trace: [] };
      return [false, JSON.stringify(obj)];
    }
  }
  function initError(e) {
    const obj = errorObject(e);
    write('ERROR', [(e instanceof InitError ? '' : 'Uncaught Exception \t') + JSON.stringify({ errorType: obj.errorType, errorMessage: obj.errorMessage, stack: obj.trace })]);
    return JSON.stringify(obj);
  }
  // The function's environment, read at INIT (never while the runtime is
  // prepared for a snapshot).
  function setEnv(text) { globalThis.process.env = JSON.parse(text); }
  return { load, invoke, status, outcome, initError, setEnv, setRequestId: (id) => { requestId = id; } };
})
