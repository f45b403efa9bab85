// Startup: configuration parsing and validation (server.md §1.1–§1.4, §1.7) and the startup
// report log lines (§1.8).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { httpRequest, makeTempDir, runExpectingExit, startServer } from './lib/harness.mjs';

const MEMORY_WARNING = 'OpStream is using MemoryDocumentStore. All document data will be lost when the process restarts. ' +
  'Call UseRedisStorage(), UseEfCoreStorage(), or another persistent store before going to production.';
const LOCAL_BACKPLANE = 'OpStream is running in single-node mode (LocalBackplane). Call UseRedisBackplane() or ' +
  'UseNatsBackplane() for multi-node deployments.';
const engineLine = (t) => `OpStream engine registered for document type: "${t}"`;

function count(haystack, needle) {
  let n = 0;
  let i = haystack.indexOf(needle);
  while (i >= 0) { n++; i = haystack.indexOf(needle, i + needle.length); }
  return n;
}

function engineOrder(output) {
  return [...output.matchAll(/OpStream engine registered for document type: "([^"]*)"/g)].map((m) => m[1]);
}

async function withServer(opts, fn) {
  const s = await startServer(opts);
  try {
    await fn(s);
  } catch (e) {
    e.message += `\n--- server output (tail) ---\n${s.logTail(40)}`;
    throw e;
  } finally {
    await s.stop();
  }
}

function unavailableEngines(out) {
  return [...out.matchAll(/Engine '([^']+)' is not available in this build/g)].map((m) => m[1]);
}

describe('startup report (server.md §1.8)', () => {
  it('memory + local: warning, LocalBackplane info, one line per registered default engine', async () => {
    // OPSTREAM__ENGINES unset: the image default is text,json (server.md §1.2, §1.9). An engine
    // missing from a build is reported as unavailable instead of being registered.
    await withServer({ label: 'startup-defaults', env: { OPSTREAM__ENGINES: undefined } }, async (s) => {
      const out = s.output;
      assert.ok(out.includes(MEMORY_WARNING), 'MemoryDocumentStore warning missing');
      assert.ok(out.includes(LOCAL_BACKPLANE), 'LocalBackplane information line missing');
      assert.equal(count(out, engineLine('text')), 1, 'exactly one "text" engine line');
      const registered = engineOrder(out);
      assert.equal(registered[0], 'text', 'engine lines: text first');
      assert.deepEqual([...registered.slice(1), ...unavailableEngines(out)], ['json'], 'json registered or reported as unavailable');
      assert.ok(!out.includes('OpStream storage: '), 'no "OpStream storage:" information line with the memory store');
    });
  });

  it('logs the automatic migration lines (§1.8 step 4)', async () => {
    await withServer({ label: 'startup-migrations' }, async (s) => {
      assert.ok(s.output.includes('Applying automatic migrations...'), '"Applying automatic migrations..." missing');
      assert.ok(s.output.includes('Automatic migrations applied successfully.'), '"Automatic migrations applied successfully." missing');
    });
  });

  it('engines are parsed as a trimmed, lower-cased, de-duplicated CSV; text always first (§1.3)', async () => {
    await withServer({ label: 'startup-engines', env: { OPSTREAM__ENGINES: ' Tree, JSON ,,json,richtext,FORM,table' } }, async (s) => {
      // Parsed and de-duplicated in order; engines missing from this build are each reported once.
      const all = ['tree', 'json', 'rich-text', 'form', 'table'];
      const registered = engineOrder(s.output);
      assert.equal(registered[0], 'text', 'text first');
      // Every configured engine is either registered (in configuration order) or reported once.
      assert.deepEqual(registered.slice(1), all.filter((e) => !unavailableEngines(s.output).includes(e)));
      assert.deepEqual([...registered.slice(1), ...unavailableEngines(s.output)].sort(), [...all].sort());
    });
  });

  it('only "text" is registered when OPSTREAM__ENGINES is empty', async () => {
    await withServer({ label: 'startup-text-only', env: { OPSTREAM__ENGINES: '' } }, async (s) => {
      assert.deepEqual(engineOrder(s.output), ['text']);
    });
  });

  it('sqlite storage logs the storage type instead of the memory warning', async () => {
    const dir = makeTempDir();
    await withServer({
      label: 'startup-sqlite',
      cwd: dir,
      env: { OPSTREAM__STORAGE__PROVIDER: 'sqlite', OPSTREAM__STORAGE__CONNECTIONSTRING: `Data Source=${path.join(dir, 'x.db')}` },
    }, async (s) => {
      assert.ok(s.output.includes('OpStream storage: EfCoreDocumentStore`1'), 'missing "OpStream storage: EfCoreDocumentStore`1"');
      assert.ok(!s.output.includes('MemoryDocumentStore'), 'no memory-store warning with sqlite');
      assert.ok(s.output.includes(LOCAL_BACKPLANE));
    });
  });
});

describe('configuration sources and parsing (server.md §1.1–§1.3, §1.7)', () => {
  it('configuration keys are case-insensitive (OpStream__Transports)', async () => {
    await withServer({ label: 'cfg-case', env: { OPSTREAM__TRANSPORTS: undefined, OpStream__Transports: 'websockets' } }, async (s) => {
      const res = await httpRequest(`${s.url}/`);
      assert.equal(res.body, 'OpStream host. Storage=memory, Backplane=local, Transports=websockets');
    });
  });

  it('GET / echoes the de-duplicated, lower-cased transports, unknown names included', async () => {
    await withServer({ label: 'cfg-transports', env: { OPSTREAM__TRANSPORTS: 'WebSockets, websockets,Foo' } }, async (s) => {
      const res = await httpRequest(`${s.url}/`);
      assert.equal(res.body, 'OpStream host. Storage=memory, Backplane=local, Transports=websockets,foo');
    });
  });

  it('appsettings.json in the working directory is read; environment variables override it', async () => {
    const dir = makeTempDir();
    fs.writeFileSync(path.join(dir, 'appsettings.json'), JSON.stringify({
      OpStream: { Transports: 'websockets,fromfile', Storage: { Provider: 'memory' }, Backplane: { Provider: 'local' } },
    }));
    await withServer({ label: 'cfg-file', cwd: dir, env: { OPSTREAM__TRANSPORTS: undefined } }, async (s) => {
      const res = await httpRequest(`${s.url}/`);
      assert.equal(res.body, 'OpStream host. Storage=memory, Backplane=local, Transports=websockets,fromfile', 'transports from appsettings.json');
    });
    await withServer({ label: 'cfg-file-env', cwd: dir, env: { OPSTREAM__TRANSPORTS: 'websockets,fromenv' } }, async (s) => {
      const res = await httpRequest(`${s.url}/`);
      assert.equal(res.body, 'OpStream host. Storage=memory, Backplane=local, Transports=websockets,fromenv', 'OPSTREAM__TRANSPORTS overrides the file');
    });
  });
});

describe('startup validation errors exit non-zero with the exact message (server.md §1.4)', () => {
  const cases = [
    ['unknown engine', { OPSTREAM__ENGINES: 'foo' }, "Unknown engine 'foo'. Valid: text, json, rich-text, table, form, tree."],
    ['unknown engine is reported lower-cased', { OPSTREAM__ENGINES: 'text, FOO' }, "Unknown engine 'foo'. Valid: text, json, rich-text, table, form, tree."],
    ['unknown storage provider', { OPSTREAM__STORAGE__PROVIDER: 'oracle' },
      "Unknown storage provider 'oracle'. Valid: memory, postgres, mysql, sqlserver, sqlite, mongo, redis."],
    ['storage provider is lower-cased but not trimmed', { OPSTREAM__STORAGE__PROVIDER: ' Memory' },
      "Unknown storage provider ' memory'. Valid: memory, postgres, mysql, sqlserver, sqlite, mongo, redis."],
    ['unknown backplane provider', { OPSTREAM__BACKPLANE__PROVIDER: 'nats' }, "Unknown backplane provider 'nats'. Valid: local, redis."],
    ['empty transports list', { OPSTREAM__TRANSPORTS: '' }, 'OPSTREAM__TRANSPORTS must list at least one of: signalr, websockets, grpc.'],
    ['transports list with only empty entries', { OPSTREAM__TRANSPORTS: ' , ,' }, 'OPSTREAM__TRANSPORTS must list at least one of: signalr, websockets, grpc.'],
    ['sqlite without a connection string', { OPSTREAM__STORAGE__PROVIDER: 'sqlite' },
      'OpStream:Storage:ConnectionString (env OPSTREAM__STORAGE__CONNECTIONSTRING) is required.'],
    ['engines are validated before the storage provider', { OPSTREAM__ENGINES: 'bogus', OPSTREAM__STORAGE__PROVIDER: 'oracle' },
      "Unknown engine 'bogus'. Valid: text, json, rich-text, table, form, tree."],
    ['storage is validated before the backplane', { OPSTREAM__STORAGE__PROVIDER: 'oracle', OPSTREAM__BACKPLANE__PROVIDER: 'nats' },
      "Unknown storage provider 'oracle'. Valid: memory, postgres, mysql, sqlserver, sqlite, mongo, redis."],
    ['backplane is validated before the transports', { OPSTREAM__BACKPLANE__PROVIDER: 'nats', OPSTREAM__TRANSPORTS: '' },
      "Unknown backplane provider 'nats'. Valid: local, redis."],
  ];
  for (const [name, env, message] of cases) {
    it(name, async () => {
      const r = await runExpectingExit({ env });
      assert.equal(r.timedOut, false, `server did not exit within 10 s; output:\n${r.tail}`);
      assert.ok(r.code !== 0 || r.signal !== null, `expected a non-zero exit, got code ${r.code}`);
      assert.equal(r.listened, false, 'the listener must not start');
      assert.ok(r.output.includes(message), `expected the message ${JSON.stringify(message)} in the output; got:\n${r.tail}`);
    });
  }
});
