// Test harness: starts and stops the opstream-server binary as a black box.
//
// The binary is taken from $OPSTREAM_BIN (resolved against the current directory when
// relative); the default is ../../build/opstream-server relative to tests/integration.
// Every server gets its own environment (inherited OPSTREAM__*/ASPNETCORE_*/LOGGING__*
// variables are removed first), its own temporary working directory, and an ephemeral
// port (ASPNETCORE_URLS=http://127.0.0.1:0). The port is learnt from the
// `Now listening on: http://127.0.0.1:<port>` line. stdout and stderr are captured.
// Every server still running when the test process exits is killed with SIGKILL.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TEST_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const DEFAULT_TIMEOUT_MS = Number(process.env.OPSTREAM_TEST_TIMEOUT_MS || 5000);
const START_TIMEOUT_MS = Number(process.env.OPSTREAM_START_TIMEOUT_MS || 15000);
const STOP_TIMEOUT_MS = 10000;

export function serverBinary() {
  const fromEnv = process.env.OPSTREAM_BIN;
  if (fromEnv && fromEnv.length > 0) return path.resolve(process.cwd(), fromEnv);
  return path.resolve(TEST_DIR, '../../build/opstream-server');
}

function assertBinaryExists() {
  const bin = serverBinary();
  if (!fs.existsSync(bin)) {
    throw new Error(`server binary not found at ${bin} (build it, or set OPSTREAM_BIN)`);
  }
  return bin;
}

const live = new Set();
const tempDirs = new Set();

process.on('exit', () => {
  for (const s of live) {
    try { s.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
  if (!process.env.OPSTREAM_TEST_KEEP_TMP) {
    for (const d of tempDirs) {
      try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
    }
  }
});

/** A fresh temporary directory, removed when the test process exits. */
export function makeTempDir(prefix = 'opstream-it-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

const STRIPPED_PREFIXES = ['OPSTREAM__', 'OPSTREAM:', 'ASPNETCORE_', 'LOGGING__', 'DOTNET_', 'ALLOWEDHOSTS'];

/**
 * Build the child environment: the inherited environment without any server configuration,
 * then the defaults, then `env` (a value of `undefined` or `null` removes the variable).
 */
export function buildEnv(env = {}, { defaults = true } = {}) {
  const out = {};
  for (const [k, v] of Object.entries(process.env)) {
    const up = k.toUpperCase();
    if (STRIPPED_PREFIXES.some((p) => up.startsWith(p))) continue;
    out[k] = v;
  }
  if (defaults) {
    out.ASPNETCORE_URLS = 'http://127.0.0.1:0';
    out.OPSTREAM__TRANSPORTS = 'websockets';
    out.OPSTREAM__ENGINES = 'text,json';
    out.OPSTREAM__STORAGE__PROVIDER = 'memory';
  }
  // extra server variables for every server of the run: OPSTREAM_TEST_SERVER_ENV="K1=v1;K2=v2"
  for (const pair of (process.env.OPSTREAM_TEST_SERVER_ENV || '').split(';')) {
    const i = pair.indexOf('=');
    if (i > 0) out[pair.slice(0, i).trim()] = pair.slice(i + 1);
  }
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || v === null) delete out[k];
    else out[k] = String(v);
  }
  return out;
}

const LISTEN_RE = /Now listening on: (http:\/\/[^\s]+?):(\d+)\b/;

export class ServerProcess {
  constructor(proc, { cwd, env, label }) {
    this.proc = proc;
    this.cwd = cwd;
    this.env = env;
    this.label = label;
    this.stdout = '';
    this.stderr = '';
    this.lines = []; // [{stream, text}] in arrival order (per stream)
    this.exit = null; // {code, signal}
    this.stopRequested = false;
    this.port = null;
    this._partial = { stdout: '', stderr: '' };
    this._listeners = new Set();
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        resolve(this.exit);
        this._notify();
      });
    });
    proc.on('error', (err) => {
      this.spawnError = err;
      this._notify();
    });
    // A server must never keep the test process alive on its own (e.g. after a test timed out
    // while the server hangs): unref the child and its pipes; the 'exit' hook kills it.
    proc.unref();
    for (const stream of ['stdout', 'stderr']) {
      if (typeof proc[stream].unref === 'function') proc[stream].unref();
      proc[stream].setEncoding('utf8');
      proc[stream].on('data', (chunk) => {
        this[stream] += chunk;
        const parts = (this._partial[stream] + chunk).split('\n');
        this._partial[stream] = parts.pop();
        for (const p of parts) this.lines.push({ stream, text: p.replace(/\r$/, '') });
        this._notify();
      });
    }
  }

  _notify() {
    for (const l of [...this._listeners]) l();
  }

  /** All output so far, stdout then stderr. */
  get output() {
    return this.stdout + (this.stderr ? `\n${this.stderr}` : '');
  }

  logTail(n = 25) {
    const all = this.lines.map((l) => `[${l.stream}] ${l.text}`);
    for (const s of ['stdout', 'stderr']) if (this._partial[s]) all.push(`[${s}] ${this._partial[s]}`);
    return all.slice(-n).join('\n');
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsBase() {
    return `ws://127.0.0.1:${this.port}`;
  }

  get alive() {
    return this.exit === null;
  }

  /** Resolves when `predicate()` holds; re-evaluated on every output chunk and on exit. */
  waitUntil(predicate, { timeoutMs = DEFAULT_TIMEOUT_MS, what = 'condition' } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        let v;
        try { v = predicate(); } catch (e) { finish(); reject(e); return; }
        if (v) { finish(); resolve(v); }
      };
      const finish = () => { clearTimeout(timer); this._listeners.delete(check); };
      timer = setTimeout(() => {
        finish();
        reject(new Error(`[${this.label}] timed out after ${timeoutMs} ms waiting for ${what}.\n` +
          `exit=${JSON.stringify(this.exit)}\n--- server output (tail) ---\n${this.logTail(40)}`));
      }, timeoutMs);
      this._listeners.add(check);
      check();
    });
  }

  waitForLog(re, opts = {}) {
    return this.waitUntil(() => {
      const m = this.output.match(re);
      return m || null;
    }, { what: `log line matching ${re}`, ...opts });
  }

  async _waitListening(timeoutMs) {
    const m = await this.waitUntil(() => {
      if (this.spawnError) throw new Error(`[${this.label}] could not spawn server: ${this.spawnError.message}`);
      const found = this.stdout.match(LISTEN_RE) || this.stderr.match(LISTEN_RE);
      if (found) return found;
      if (this.exit) {
        throw new Error(`[${this.label}] server exited before listening: ${JSON.stringify(this.exit)}\n` +
          `--- server output (tail) ---\n${this.logTail(40)}`);
      }
      return null;
    }, { timeoutMs, what: '"Now listening on: http://127.0.0.1:<port>"' });
    this.port = Number(m[2]);
  }

  /** Graceful stop (SIGTERM), escalating to SIGKILL after 10 s. Returns {code, signal, forced}. */
  async stop({ signal = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS } = {}) {
    if (this.exit) return { ...this.exit, forced: false, alreadyExited: !this.stopRequested };
    this.stopRequested = true;
    try { this.proc.kill(signal); } catch { /* gone */ }
    const res = await within(this.exited.then((e) => ({ ...e, forced: false })), timeoutMs);
    if (res) return res;
    try { this.proc.kill('SIGKILL'); } catch { /* gone */ }
    const e = await within(this.exited, STOP_TIMEOUT_MS, { code: null, signal: 'SIGKILL?' });
    return { ...e, forced: true };
  }

  /** kill -9 and wait for the exit. */
  async kill9() {
    this.stopRequested = true;
    if (this.exit) return this.exit;
    this.proc.kill('SIGKILL');
    // the child is unref'd: keep the event loop alive (with a timer) until its exit is seen
    const e = await within(this.exited, STOP_TIMEOUT_MS);
    if (!e) throw new Error(`[${this.label}] process did not exit within ${STOP_TIMEOUT_MS} ms after SIGKILL`);
    return e;
  }

  /**
   * Throws when the server died on its own (crash) before a stop was requested.
   * Test files call this in their `after` hook.
   */
  assertNotCrashed() {
    if (this.exit && !this.stopRequested) {
      throw new Error(`[${this.label}] server exited unexpectedly during the tests: ${JSON.stringify(this.exit)}\n` +
        `--- server output (tail) ---\n${this.logTail(60)}`);
    }
  }
}

let serverCounter = 0;

/**
 * Start a server and wait until it listens.
 * options: env (per-test variables), cwd (working directory; default a fresh temp dir),
 * args (extra command-line arguments), label, timeoutMs.
 */
export async function startServer({ env = {}, cwd, args = [], label, timeoutMs = START_TIMEOUT_MS, defaults = true } = {}) {
  const bin = assertBinaryExists();
  const dir = cwd || makeTempDir();
  const fullEnv = buildEnv(env, { defaults });
  const name = label || `server#${++serverCounter}`;
  const proc = spawn(bin, args, { cwd: dir, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const s = new ServerProcess(proc, { cwd: dir, env: fullEnv, label: name });
  live.add(s);
  try {
    await s._waitListening(timeoutMs);
  } catch (e) {
    await s.stop({ signal: 'SIGKILL' });
    throw e;
  }
  return s;
}

/**
 * A server shared by the tests of one file. get() (call it in beforeEach) returns the running
 * server, or starts a fresh one when the previous one died, so that one crash does not fail
 * every later test; finish() (call it in after) stops the server and throws if any server died
 * on its own during the tests, with the exit status and the output tail of each crash.
 */
export class SharedServer {
  constructor(opts = {}) {
    this.opts = opts;
    this.server = null;
    this.crashes = [];
    this.generation = 0;
  }

  _noteCrash() {
    if (this.server && this.server.exit && !this.server.stopRequested && !this.server._crashNoted) {
      this.server._crashNoted = true;
      this.crashes.push(`${this.server.label} exited unexpectedly: ${JSON.stringify(this.server.exit)}\n` +
        `--- server output (tail) ---\n${this.server.logTail(40)}`);
    }
  }

  async get() {
    if (this.server && this.server.alive) {
      // a live process is not enough: it must still answer (a wedged server is replaced too)
      let problem = null;
      try {
        const res = await httpRequest(`${this.server.url}/health/live`, { timeoutMs: 3000 });
        if (res.status !== 200) problem = `GET /health/live answered ${res.status}`;
      } catch (e) {
        problem = `GET /health/live failed: ${e.message}`;
      }
      if (!problem) return this.server;
      await sleep(200); // a crashing process may need a moment to report its exit
      if (this.server.alive) {
        this.crashes.push(`${this.server.label} stopped answering (${problem}); killed and replaced\n` +
          `--- server output (tail) ---\n${this.server.logTail(40)}`);
        await this.server.kill9();
        this.server._crashNoted = true;
      }
    }
    this._noteCrash();
    this.generation++;
    const base = this.opts.label || 'shared';
    this.server = await startServer({ ...this.opts, label: this.generation > 1 ? `${base} (restart ${this.generation - 1})` : base });
    return this.server;
  }

  async finish() {
    this._noteCrash();
    if (this.server) await this.server.stop();
    if (this.crashes.length > 0) {
      throw new Error(`${this.crashes.length} server crash(es) during these tests:\n${this.crashes.join('\n\n')}`);
    }
  }
}

/**
 * Run the server with a configuration expected to be rejected at startup.
 * Resolves with {code, signal, stdout, stderr, output, listened}; kills the process if it is
 * still running after timeoutMs (then `timedOut` is true).
 */
export async function runExpectingExit({ env = {}, cwd, args = [], timeoutMs = 10000, defaults = true } = {}) {
  const bin = assertBinaryExists();
  const dir = cwd || makeTempDir();
  const proc = spawn(bin, args, { cwd: dir, env: buildEnv(env, { defaults }), stdio: ['ignore', 'pipe', 'pipe'] });
  const s = new ServerProcess(proc, { cwd: dir, env, label: 'startup-check' });
  live.add(s);
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; s.stop({ signal: 'SIGKILL' }); }, timeoutMs);
  const exit = await s.exited;
  clearTimeout(timer);
  return {
    code: exit.code,
    signal: exit.signal,
    stdout: s.stdout,
    stderr: s.stderr,
    output: s.output,
    listened: LISTEN_RE.test(s.output),
    timedOut,
    tail: s.logTail(40),
  };
}

/** Run `opstream-server <args>` synchronously (e.g. --probe); returns spawnSync's result. */
export function runBinarySync(args, { timeoutMs = 15000 } = {}) {
  const bin = assertBinaryExists();
  return spawnSync(bin, args, { env: buildEnv({}), encoding: 'utf8', timeout: timeoutMs, cwd: makeTempDir() });
}

/**
 * Minimal HTTP/1.1 client without connection reuse.
 * Resolves with {status, headers, body}.
 */
export function httpRequest(url, { method = 'GET', headers = {}, body, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { Connection: 'close', ...headers }, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode, headers: res.headers, body: '' });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`HTTP ${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with the promise's value, or with `fallback` after ms (the timer is always cleared). */
export function within(promise, ms, fallback = null) {
  let timer;
  return Promise.race([
    promise,
    new Promise((r) => { timer = setTimeout(() => r(fallback), ms); }),
  ]).finally(() => clearTimeout(timer));
}
