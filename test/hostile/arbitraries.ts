import fc from 'fast-check';

/**
 * Generators of hostile JSON for the suite. A `Tree` is JSON as text is
 * written: objects as ordered entries (so keys may repeat), numbers as the
 * text that carries them (so `1e309` can be written at all).
 */
export type Tree = null | boolean | string | Num | Tree[] | Obj;
export class Num {
  constructor(readonly text: string) {}
}
export class Obj {
  constructor(readonly entries: ReadonlyArray<readonly [string, Tree]>) {}
}

export function jsonText(tree: Tree): string {
  if (tree instanceof Num) return tree.text;
  if (tree instanceof Obj) return `{${tree.entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
  if (Array.isArray(tree)) return `[${tree.map(jsonText).join(',')}]`;
  return JSON.stringify(tree);
}

/**
 * numbers a double holds exactly, as JSON writes them (without the integers
 * past 2^53 that JSON.stringify writes out in full: DESIGN 2 refuses those)
 */
export const exactNumber = fc
  .oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))
  .map((n) => JSON.stringify(n))
  .filter((text) => /[.eE]/.test(text) || Number.isSafeInteger(Number(text)))
  .map((text) => new Num(text));

/** number texts no double holds exactly: overflow, underflow, integers past 2^53, more digits than a double has */
export const inexactNumber = fc
  .oneof(
    fc.bigInt({ min: 2n ** 53n, max: 10n ** 40n }).chain((n) => fc.constantFrom(String(n), `-${n}`)),
    fc.integer({ min: 309, max: 99_999 }).chain((e) => fc.constantFrom(`1e${e}`, `-9.5E+${e}`, `1${'0'.repeat(Math.min(e, 400))}.5`)),
    fc.integer({ min: 400, max: 99_999 }).map((e) => `1e-${e}`),
    fc.tuple(fc.integer({ min: 1, max: 9 }), fc.stringMatching(/^[0-9]{18,24}[1-9]$/)).map(([a, digits]) => `${a}.${digits}`),
  )
  .map((text) => new Num(text));

/** any well-formed Unicode text: every plane, controls, combining marks, bidi overrides */
export const anyText = fc.string({ unit: 'binary', maxLength: 24 });

/** property names that are plain identifiers (so a path names them `.key`) */
export const identifier = fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/);
const anyKey = fc.oneof(identifier, anyText).filter((k) => k !== '__proto__' && k !== 'constructor');

/** JSON the strict reader must keep exactly: unique keys, exact numbers, well-formed text, shallow enough */
export const cleanTree: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    fc.constant(null),
    fc.boolean(),
    anyText,
    exactNumber,
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.uniqueArray(fc.tuple(anyKey, tie('tree')), { selector: ([k]) => k, maxLength: 4 }).map((entries) => new Obj(entries)),
  ),
})).tree;

export const cleanObject = fc.uniqueArray(fc.tuple(anyKey, cleanTree), { selector: ([k]) => k, maxLength: 5 }).map((entries) => new Obj(entries));

/** where inside a payload a hostile value sits: keys and array indexes */
export const path = fc.array(fc.oneof(identifier, fc.constantFrom('a b', 'ключ', 'x.y'), fc.nat({ max: 3 })), { maxLength: 5 });

/** puts `inner` at `at` inside nested objects and arrays (earlier array items are zeros) */
export function placeAt(at: ReadonlyArray<string | number>, inner: Tree): Tree {
  return at.reduceRight<Tree>((acc, step) => (typeof step === 'number' ? [...Array.from({ length: step }, () => new Num('0')), acc] : new Obj([[step, acc]])), inner);
}

/** the path as the server names it: `payload.a[2]["a b"]` */
export function renderPath(root: string, at: ReadonlyArray<string | number>): string {
  let out = root;
  for (const step of at) {
    if (typeof step === 'number') out += `[${step}]`;
    else out += /^[A-Za-z_$][\w$]*$/.test(step) ? `${out ? '.' : ''}${step}` : `[${JSON.stringify(step)}]`;
  }
  return out;
}

/** a word in random letter case */
export function anyCasing(word: string): fc.Arbitrary<string> {
  return fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((upper) => [...word].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''));
}
