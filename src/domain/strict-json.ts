import { AppiaError } from './errors.js';

/**
 * DESIGN 2: JSON read exactly as written, or refused naming where.
 * `JSON.parse` silently turns `1e309` into Infinity (stored as null), rounds
 * integers past 2^53, keeps the last of two equal keys and keeps lone
 * surrogates (stored as U+FFFD); each of those would store something other
 * than what the client sent. This parser refuses them instead, with the
 * path of the value at fault (`payload.items[2].count`).
 *
 * It is iterative, so no nesting can overflow the stack, and it never lets
 * `__proto__` or `constructor` reach an object (refused wherever they are).
 */
export interface StrictJsonOptions {
  /** most nested objects and arrays; 0 = only the safety ceiling */
  readonly maxDepth: number;
  /** the name of the whole text in messages (`payload` for a payload given as a string) */
  readonly root?: string;
}

/** What the server can serialise again without running out of stack, whatever the depth setting. */
const DEPTH_CEILING = 1000;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor']);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const PLAIN_STRING = /[^"\\\u0000-\u001f]*/y;

type Frame =
  | { readonly kind: 'object'; readonly value: Record<string, unknown>; key: string; readonly keys: Set<string> }
  | { readonly kind: 'array'; readonly value: unknown[] };

/**
 * Parses `text` as JSON, refusing what cannot be kept exactly (AppiaError `badRequest`).
 *
 * @example
 * parseStrictJson('{"n": 1e309}', { maxDepth: 32 }); // throws: "n: the number 1e309 cannot be kept exactly ..."
 */
export function parseStrictJson(text: string, options: StrictJsonOptions): unknown {
  return new Parser(text, options).parse();
}

class Parser {
  readonly #text: string;
  readonly #maxDepth: number;
  readonly #root: string;
  readonly #stack: Frame[] = [];
  #i = 0;

  constructor(text: string, options: StrictJsonOptions) {
    this.#text = text;
    this.#maxDepth = options.maxDepth > 0 ? Math.min(options.maxDepth, DEPTH_CEILING) : DEPTH_CEILING;
    this.#root = options.root ?? '';
  }

  parse(): unknown {
    const stack = this.#stack;
    for (;;) {
      this.#space();
      let value: unknown;
      const c = this.#text[this.#i];
      if (c === '{' || c === '[') {
        if (stack.length + 1 > this.#maxDepth) throw this.#fail(`nests deeper than ${this.#maxDepth} levels`);
        this.#i++;
        this.#space();
        if (c === '{') {
          const frame: Frame = { kind: 'object', value: {}, key: '', keys: new Set() };
          if (this.#text[this.#i] === '}') {
            this.#i++;
            value = frame.value;
          } else {
            stack.push(frame);
            this.#key(frame);
            continue;
          }
        } else if (this.#text[this.#i] === ']') {
          this.#i++;
          value = [];
        } else {
          stack.push({ kind: 'array', value: [] });
          continue;
        }
      } else {
        value = this.#scalar();
      }
      // Attach the value, then close every container that ends here.
      for (;;) {
        const top = stack[stack.length - 1];
        if (!top) {
          this.#space();
          if (this.#i < this.#text.length) throw this.#syntax('unexpected text after the JSON value');
          return value;
        }
        if (top.kind === 'object') top.value[top.key] = value;
        else top.value.push(value);
        this.#space();
        const next = this.#text[this.#i++];
        if (next === ',') {
          if (top.kind === 'object') {
            this.#space();
            this.#key(top);
          }
          break;
        }
        if (next !== (top.kind === 'object' ? '}' : ']')) {
          this.#i--;
          throw this.#syntax(`expected ',' or '${top.kind === 'object' ? '}' : ']'}'`);
        }
        stack.pop();
        value = top.value;
      }
    }
  }

  /** reads `"name":` into the frame, refusing a repeated or prototype key */
  #key(frame: Extract<Frame, { kind: 'object' }>): void {
    if (this.#text[this.#i] !== '"') throw this.#syntax('expected a property name in double quotes');
    const key = this.#string();
    frame.key = key;
    if (FORBIDDEN_KEYS.has(key)) throw this.#fail(`is a property name that is not accepted (${key})`);
    if (frame.keys.has(key)) throw this.#fail('is given more than once');
    frame.keys.add(key);
    this.#space();
    if (this.#text[this.#i++] !== ':') {
      this.#i--;
      throw this.#syntax("expected ':' after a property name");
    }
  }

  #scalar(): unknown {
    const text = this.#text;
    const c = text[this.#i];
    if (c === '"') return this.#string();
    for (const [word, value] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, this.#i)) {
        this.#i += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = this.#i;
    const m = NUMBER.exec(text);
    if (!m) throw this.#syntax(c === undefined ? 'the JSON ends too early' : 'expected a JSON value');
    this.#i += m[0].length;
    const value = exactNumber(m[0]);
    if (value === undefined) {
      const shown = m[0].length > 40 ? `${m[0].slice(0, 37)}...` : m[0];
      throw this.#fail(
        `holds the number ${shown}, which cannot be kept exactly (JSON numbers must fit a double: integers up to 2^53, no overflow, no more digits than a double holds); send it as a string`,
      );
    }
    return value;
  }

  #string(): string {
    const text = this.#text;
    let i = this.#i + 1;
    let out = '';
    for (;;) {
      PLAIN_STRING.lastIndex = i;
      const run = PLAIN_STRING.exec(text)![0];
      out += run;
      i += run.length;
      const c = text[i];
      if (c === '"') {
        this.#i = i + 1;
        return out;
      }
      if (c === undefined) throw this.#syntax('a string is not closed');
      if (c !== '\\') throw this.#syntaxAt(i, 'a string holds a raw control character (escape it)');
      const e = text[i + 1];
      const simple = e === undefined ? undefined : ESCAPES[e];
      if (simple !== undefined) {
        out += simple;
        i += 2;
        continue;
      }
      if (e !== 'u') throw this.#syntaxAt(i, 'a string holds an invalid escape');
      const unit = hex4(text, i + 2);
      if (unit === undefined) throw this.#syntaxAt(i, 'a string holds an invalid \\u escape');
      i += 6;
      if (unit >= 0xd800 && unit <= 0xdbff) {
        const low = text[i] === '\\' && text[i + 1] === 'u' ? hex4(text, i + 2) : undefined;
        if (low === undefined || low < 0xdc00 || low > 0xdfff) throw this.#loneSurrogate(unit);
        out += String.fromCharCode(unit, low);
        i += 6;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        throw this.#loneSurrogate(unit);
      } else {
        out += String.fromCharCode(unit);
      }
    }
  }

  #loneSurrogate(unit: number): AppiaError {
    return this.#fail(`holds a lone surrogate \\u${unit.toString(16)}, which is not Unicode text`);
  }

  #space(): void {
    const text = this.#text;
    let i = this.#i;
    for (let c = text.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(++i));
    this.#i = i;
  }

  /** where in the document the parser is: `payload.items[2]` */
  #path(): string {
    let path = this.#root;
    for (const frame of this.#stack) {
      if (frame.kind === 'array') path += `[${frame.value.length}]`;
      else path += /^[A-Za-z_$][\w$]*$/.test(frame.key) ? `${path ? '.' : ''}${frame.key}` : `[${JSON.stringify(frame.key.slice(0, 64))}]`;
    }
    return path.length > 200 ? `${path.slice(0, 100)}...${path.slice(-97)}` : path;
  }

  #fail(problem: string): AppiaError {
    const path = this.#path();
    return new AppiaError('badRequest', `${path || 'the body'} ${problem}`);
  }

  #syntax(problem: string): AppiaError {
    return this.#syntaxAt(this.#i, problem);
  }

  #syntaxAt(at: number, problem: string): AppiaError {
    const what = this.#root ? `${this.#root} is not valid JSON` : 'the request body is not valid JSON';
    return new AppiaError('badRequest', `${what}: ${problem} at position ${at}`);
  }
}

const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function hex4(text: string, at: number): number | undefined {
  const digits = text.slice(at, at + 4);
  return /^[0-9a-fA-F]{4}$/.test(digits) ? parseInt(digits, 16) : undefined;
}

/**
 * The number a JSON number text means, when a double holds it exactly as
 * written: integers within ±(2^53 - 1), and decimals whose shortest double
 * form is the same decimal value (`0.1` yes, `0.10000000000000000001` no).
 */
function exactNumber(text: string): number | undefined {
  const value = Number(text);
  if (!Number.isFinite(value)) return undefined;
  if (!/[.eE]/.test(text)) return Number.isSafeInteger(value) ? value : undefined;
  return decimalValue(text) === decimalValue(String(value)) ? value : undefined;
}

/** A decimal's value in one spelling: `0.<digits>e<exponent>`, no leading or trailing zeros (`0` for zero). */
function decimalValue(text: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text)!;
  const whole = m[2]!;
  let digits = whole + (m[3] ?? '');
  let exponent = Number(m[4] ?? 0) + whole.length;
  const leading = /^0*/.exec(digits)![0].length;
  digits = digits.slice(leading).replace(/0+$/, '');
  exponent -= leading;
  return digits === '' ? '0' : `${m[1]}0.${digits}e${exponent}`;
}
