// Self-check of the JavaScript port of the text transform (lib/text-ot.mjs) used by the
// convergence tests: if the port were wrong, convergence failures could not be blamed on the
// server. Uses the spec's vectors (engine-vectors.json) when the shared folder is beside the
// checkout ($OPSTREAM_SHARED_DIR, default ../../../shared from this folder), plus inline cases.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TEST_DIR } from './lib/harness.mjs';
import {
  ExistingWins, IncomingWins, applyText, isNoOp, makeRng, randomTextOp, transform,
} from './lib/text-ot.mjs';

const C = (type, v) => (type === 'insert' ? { type, text: v } : { type, count: v });
const op = (...cs) => ({ components: cs.map(([t, v]) => C(t, v)) });

test('text transform: inline cases from engines.md §4.5', () => {
  // same-position inserts
  assert.deepEqual(transform(op(['insert', 'X']), op(['insert', 'Y']), ExistingWins), op(['retain', 1], ['insert', 'X']));
  assert.deepEqual(transform(op(['insert', 'X']), op(['insert', 'Y']), IncomingWins), op(['insert', 'X'], ['retain', 1]));
  // text-converge-002: overlapping deletes
  const a = op(['retain', 1], ['delete', 3]);
  const b = op(['retain', 2], ['delete', 3]);
  assert.deepEqual(transform(b, a, ExistingWins), op(['retain', 1], ['delete', 1]));
  assert.deepEqual(transform(a, b, IncomingWins), op(['retain', 1], ['delete', 1]));
  assert.equal(applyText(applyText('abcdef', a), transform(b, a, ExistingWins)), 'af');
  // fully covered delete becomes a no-op
  assert.ok(isNoOp(transform(op(['retain', 1], ['delete', 1]), op(['retain', 1], ['delete', 2]), ExistingWins)));
  // apply past the end (text-apply-002)
  assert.equal(applyText('Hello', op(['delete', 10], ['retain', 5])), '');
});

test('text transform/apply/converge: engine-vectors.json text cases', () => {
  const dir = process.env.OPSTREAM_SHARED_DIR
    ? path.resolve(process.cwd(), process.env.OPSTREAM_SHARED_DIR)
    : path.resolve(TEST_DIR, '../../../shared');
  const file = path.join(dir, 'spec', 'engine-vectors.json');
  let cases = [];
  if (fs.existsSync(file)) {
    cases = JSON.parse(fs.readFileSync(file, 'utf8')).cases.filter((c) => c.engine === 'text');
  }
  let checked = 0;
  for (const c of cases) {
    if (c.kind === 'transform') {
      const pr = c.priority === 'incomingWins' ? IncomingWins : ExistingWins;
      const got = transform(c.a, c.b, pr);
      if (c.expected !== null) assert.deepEqual(got, c.expected, c.id);
      assert.equal(isNoOp(got), c.expected_is_noop, `${c.id} isNoOp`);
      checked++;
    } else if (c.kind === 'converge') {
      const bT = transform(c.b, c.a, ExistingWins);
      const aT = transform(c.a, c.b, IncomingWins);
      assert.deepEqual(bT, c.expected_b_transformed, `${c.id} b transformed`);
      assert.deepEqual(aT, c.expected_a_transformed, `${c.id} a transformed`);
      assert.equal(applyText(applyText(c.doc.content, c.a), bT), c.expected.content, `${c.id} a then b'`);
      assert.equal(applyText(applyText(c.doc.content, c.b), aT), c.expected.content, `${c.id} b then a'`);
      checked++;
    } else if (c.kind === 'apply' && c.expected && !c.expected.rejected && c.op.components &&
      c.op.components.every((x) => (x.type === 'insert' ? typeof x.text === 'string' : Number.isInteger(x.count) && x.count >= 0)) &&
      c.op.components.every((x) => Object.keys(x)[0] === 'type')) {
      const got = applyText(c.doc.content, c.op);
      // lone surrogates are written as U+FFFD by the server's serializer (text-apply-005); compare loosely there
      const norm = (s) => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
      assert.equal(norm(got), c.expected.content, c.id);
      checked++;
    }
  }
  if (cases.length > 0) assert.ok(checked >= 20, `expected to check at least 20 text vectors, checked ${checked}`);
});

test('text transform: randomized TP1 with the client/server priorities (engines.md §3.4)', () => {
  const rng = makeRng(12345);
  for (let i = 0; i < 3000; i++) {
    let doc = '';
    const n = rng.int(0, 12);
    for (let k = 0; k < n; k++) doc += rng.pick(['a', 'b', 'c', '😀']);
    const a = randomTextOp(rng, doc);
    const b = randomTextOp(rng, doc);
    const left = applyText(applyText(doc, a), transform(b, a, ExistingWins));
    const right = applyText(applyText(doc, b), transform(a, b, IncomingWins));
    assert.equal(left, right, `TP1 failed for doc=${JSON.stringify(doc)} a=${JSON.stringify(a)} b=${JSON.stringify(b)}`);
  }
});
