/** True when `value` nests deeper than `maxDepth` objects/arrays (0 = no limit). Iterative: no stack overflow on hostile input. */
export function tooDeep(value: unknown, maxDepth: number): boolean {
  if (maxDepth <= 0) return false;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > maxDepth) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
