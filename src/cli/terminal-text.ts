/**
 * DESIGN 4: text that arrives from the other side (a command's URI,
 * `customStatus`, `error`, payloads, device names, the server's error
 * messages) is printed with its control characters escaped, never raw, so
 * it cannot move the cursor, retitle the terminal, ring the bell, fake a
 * line of output or hide what follows. This is the one function that does
 * it; the CLI's tables and fields and every line the agent prints go
 * through it.
 *
 * Escaped: C0 (U+0000..U+001F), DEL (U+007F), C1 (U+0080..U+009F; a
 * terminal may read U+009B as CSI) and the bidirectional overrides and
 * isolates (U+202A..U+202E, U+2066..U+2069), which reorder what is shown.
 * Tab, line feed and carriage return become `\t`, `\n`, `\r`; the rest
 * `\xHH` or `\uHHHH`. Other text, backslashes included, is left as it is,
 * so escaping twice changes nothing more.
 *
 * @example
 * escapeControl('done\x1b[2J\r\n') // 'done\\x1b[2J\\r\\n'
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (ch) => NAMED[ch] ?? hexEscape(ch));
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function hexEscape(ch: string): string {
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * JSON text with DEL and the C1 characters written as `\u` escapes.
 * JSON.stringify already escapes C0 inside strings but leaves U+007F..U+009F
 * raw; escaping them keeps the JSON equal in value and safe on a terminal.
 *
 * @example
 * terminalSafeJson(JSON.stringify({ a: '\u009b' })) // '{"a":"\\u009b"}'
 */
export function terminalSafeJson(json: string): string {
  return json.replace(/[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
