// Text OT helpers ported from the engine specification (engines.md §4.3–§4.5, §4.8):
// apply, compact, transform(incoming, existing, priority) and isNoOp, plus a seeded PRNG.
// Counts are UTF-16 code units, which is what JavaScript string indices are.

export const ExistingWins = 'ExistingWins';
export const IncomingWins = 'IncomingWins';

const lenOf = (c) => (c.type === 'insert' ? c.text.length : c.count);

/** engines.md §4.3 (reference semantics, including retains/deletes past the end). */
export function applyText(doc, op) {
  let out = '';
  let i = 0;
  const n = doc.length;
  for (const c of op.components) {
    if (c.type === 'retain') {
      if (c.count < 0) throw new Error('negative retain');
      if (i < n) {
        const take = Math.min(c.count, n - i);
        out += doc.slice(i, i + take);
      }
      i += c.count;
    } else if (c.type === 'insert') {
      out += c.text;
    } else if (c.type === 'delete') {
      if (c.count < 0) throw new Error('negative delete');
      i += c.count;
    } else {
      throw new Error(`unknown component type ${c.type}`);
    }
  }
  if (i < n) out += doc.slice(i);
  return out;
}

/** engines.md §4.4: drop zero-length components, merge neighbours of the same kind. */
export function compact(components) {
  const out = [];
  for (const c of components) {
    if (lenOf(c) === 0) continue;
    const prev = out[out.length - 1];
    if (prev && prev.type === c.type) {
      if (c.type === 'insert') out[out.length - 1] = { type: 'insert', text: prev.text + c.text };
      else out[out.length - 1] = { type: c.type, count: prev.count + c.count };
    } else {
      out.push(c.type === 'insert' ? { type: 'insert', text: c.text } : { type: c.type, count: c.count });
    }
  }
  return out;
}

class Cursor {
  constructor(components) {
    this.items = components;
    this.i = 0;
    this.cur = components.length > 0 ? { ...components[0] } : null;
  }
  next() {
    this.i++;
    this.cur = this.i < this.items.length ? { ...this.items[this.i] } : null;
  }
  consume(k) {
    if (this.cur.count === k) this.next();
    else this.cur = { type: this.cur.type, count: this.cur.count - k };
  }
}

/** engines.md §4.5: `incoming` rewritten to apply after `existing`. */
export function transform(incoming, existing, priority) {
  const a = new Cursor(incoming.components);
  const b = new Cursor(existing.components);
  const out = [];
  while (a.cur || b.cur) {
    if (a.cur && b.cur && a.cur.type === 'insert' && b.cur.type === 'insert') {
      if (priority === IncomingWins) { out.push(a.cur); a.next(); } else { out.push({ type: 'retain', count: b.cur.text.length }); b.next(); }
    } else if (b.cur && b.cur.type === 'insert') {
      out.push({ type: 'retain', count: b.cur.text.length });
      b.next();
    } else if (a.cur && a.cur.type === 'insert') {
      out.push(a.cur);
      a.next();
    } else if (!a.cur) {
      break;
    } else if (!b.cur) {
      out.push(a.cur);
      a.next();
    } else {
      const k = Math.min(a.cur.count, b.cur.count);
      if (a.cur.type === 'retain' && b.cur.type === 'retain') out.push({ type: 'retain', count: k });
      else if (a.cur.type === 'delete' && b.cur.type === 'retain') out.push({ type: 'delete', count: k });
      // (retain, delete) and (delete, delete): nothing
      a.consume(k);
      b.consume(k);
    }
  }
  return { components: compact(out) };
}

/** engines.md §4.8 */
export function isNoOp(op) {
  return !op || !op.components || op.components.length === 0 || op.components.every((c) => c.type === 'retain');
}

// ---- seeded PRNG (mulberry32) --------------------------------------------------------

export function makeRng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // inclusive
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
}

export function seedFromEnv() {
  const v = process.env.OPSTREAM_TEST_SEED;
  if (v !== undefined && v !== '') return Number(v) >>> 0;
  return (Date.now() ^ (process.pid << 8)) >>> 0;
}

/** Code-point aware list of UTF-16 boundaries of `s` (so ops never split surrogate pairs). */
export function codePointBoundaries(s) {
  const b = [0];
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    i += (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.length) ? 2 : 1;
    b.push(i);
  }
  return b;
}

const ALPHABET = ['a', 'b', 'c', 'd', 'e', 'x', 'y', 'z', ' ', '\n', 'é', '€', '"', '<', '&', '\\', '😀', '𝄞'];

/** A random insert or delete against `doc`, on code-point boundaries. */
export function randomTextOp(rng, doc) {
  const bounds = codePointBoundaries(doc);
  const nCp = bounds.length - 1;
  const comps = [];
  if (nCp > 0 && rng.next() < 0.4) {
    const startCp = rng.int(0, nCp - 1);
    const lenCp = rng.int(1, Math.min(6, nCp - startCp));
    const from = bounds[startCp];
    const to = bounds[startCp + lenCp];
    if (from > 0) comps.push({ type: 'retain', count: from });
    comps.push({ type: 'delete', count: to - from });
  } else {
    const posCp = rng.int(0, nCp);
    const pos = bounds[posCp];
    let text = '';
    const n = rng.int(1, 6);
    for (let i = 0; i < n; i++) text += rng.pick(ALPHABET);
    if (pos > 0) comps.push({ type: 'retain', count: pos });
    comps.push({ type: 'insert', text });
  }
  return { components: comps };
}
