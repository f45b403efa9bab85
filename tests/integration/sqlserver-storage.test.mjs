// The server on the SQL Server storage (server.md §3.4, §3.5, §3.8), through the real binary.
//
// No SQL Server can run on the machines this project is built on, so only what needs none runs
// everywhere: an unreachable server (ODBC and FreeTDS really run until the refused connection)
// and a malformed connection string. The end-to-end test needs OPSTREAM_TEST_SQLSERVER_URL (a
// SqlClient connection string whose login may create databases); without it that test is
// reported as SKIPPED, never as passed.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { makeTempDir, runExpectingExit, startServer } from './lib/harness.mjs';
import { I, WsClient, textOp, uniqueDoc } from './lib/client.mjs';

const URL_VARIABLE = 'OPSTREAM_TEST_SQLSERVER_URL';

async function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

describe('sqlserver storage', () => {
  it('an unreachable SQL Server ends startup after the retry budget with a clear message and no password', { timeout: 30000 }, async () => {
    const port = await freePort();
    const res = await runExpectingExit({
      env: {
        OPSTREAM__STORAGE__PROVIDER: 'sqlserver',
        OPSTREAM__STORAGE__CONNECTIONSTRING:
          `Server=tcp:127.0.0.1,${port};Database=d;User Id=u;Password=pw-s3cr3t;Connect Timeout=2;Encrypt=False`,
        OPSTREAM__STORAGE__STARTUPRETRYSECONDS: '1',
      },
      timeoutMs: 20000,
    });
    assert.equal(res.timedOut, false, res.tail);
    assert.notEqual(res.code, 0, res.tail);
    assert.equal(res.listened, false);
    assert.match(res.output, /SQL Server is unavailable \(127\.0\.0\.1,\d+\/d as u\): \[FreeTDS\]/, res.tail);
    assert.doesNotMatch(res.output, /pw-s3cr3t/);
  });

  it('a malformed connection string is refused at startup without echoing the password', { timeout: 20000 }, async () => {
    const res = await runExpectingExit({
      env: {
        OPSTREAM__STORAGE__PROVIDER: 'mssql',
        OPSTREAM__STORAGE__CONNECTIONSTRING: 'Server=127.0.0.1;User Id=u;Password=pw-s3cr3t;Encrpyt=True',
      },
    });
    assert.notEqual(res.code, 0, res.tail);
    assert.match(res.output, /Invalid SQL Server connection string: 'Encrpyt' is not a valid keyword/, res.tail);
    assert.doesNotMatch(res.output, /pw-s3cr3t/);
  });

  it('edits survive a restart (needs a live SQL Server)', { timeout: 90000 }, async (t) => {
    const url = process.env[URL_VARIABLE];
    if (!url) {
      t.skip(`${URL_VARIABLE} is not set: no SQL Server here (docs/storage/sqlserver.md)`);
      return;
    }
    const env = { OPSTREAM__STORAGE__PROVIDER: 'sqlserver', OPSTREAM__STORAGE__CONNECTIONSTRING: url };
    const doc = uniqueDoc('mssql-edit');
    let s = await startServer({ label: 'mssql-1', cwd: makeTempDir(), env });
    try {
      const w = await WsClient.connect(s, { label: 'w' });
      await w.joinOk(doc);
      assert.equal(await w.opOk(doc, textOp(I('kept')), 1), 2);
      w.terminate();
    } finally {
      await s.stop({ signal: 'SIGTERM' });
    }
    s = await startServer({ label: 'mssql-2', cwd: makeTempDir(), env });
    try {
      const r = await WsClient.connect(s, { label: 'r' });
      const joined = await r.joinOk(doc);
      assert.equal(joined.revision, 2);
      r.terminate();
    } finally {
      await s.stop({ signal: 'SIGTERM' });
    }
  });
});
