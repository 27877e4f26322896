/**
 * Renames the files a bundle was made from, in esbuild's output: the `// file` comment before each
 * module, the key of each `__commonJS({ "file"(exports, module) {…} })` / `__esm({ "file"() {…} })`
 * wrapper, and the source map's `sources`. Columns of the source map's segments after a renamed name
 * move with it, so the map stays exact.
 */

export interface RawSourceMap {
  version: number;
  sources: string[];
  sourcesContent?: (string | null)[];
  mappings: string;
  names: string[];
  sourceRoot?: string;
  file?: string;
}

/** One replacement in a line: `length` characters at `column` became `replacement`. */
interface LineEdit {
  readonly column: number;
  readonly length: number;
  readonly replacement: string;
}

const COMMENT = /^(\s*)\/\/ (.+)$/;
const WRAPPER_KEY = /^(\s*)"([^"\\]+)"\(/;

export function renameSources(
  code: string,
  map: RawSourceMap,
  rename: ReadonlyMap<string, string>,
): { code: string; map: RawSourceMap } {
  if (rename.size === 0) return { code, map };
  const lines = code.split("\n");
  const mappings = map.mappings.split(";");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const edit = lineEdit(line, rename);
    if (!edit) continue;
    lines[i] = line.slice(0, edit.column) + edit.replacement + line.slice(edit.column + edit.length);
    if (mappings[i]) mappings[i] = shiftSegments(mappings[i]!, edit);
  }
  return {
    code: lines.join("\n"),
    map: {
      ...map,
      sources: map.sources.map((s) => rename.get(s) ?? s),
      mappings: mappings.join(";"),
    },
  };
}

function lineEdit(line: string, rename: ReadonlyMap<string, string>): LineEdit | undefined {
  const comment = COMMENT.exec(line);
  if (comment) {
    const to = rename.get(comment[2]!);
    if (to !== undefined)
      return { column: comment[1]!.length + 3, length: comment[2]!.length, replacement: to };
  }
  const key = WRAPPER_KEY.exec(line);
  if (key) {
    const to = rename.get(key[2]!);
    if (to !== undefined && /^[^"\\]*$/.test(to))
      return { column: key[1]!.length + 1, length: key[2]!.length, replacement: to };
  }
  return undefined;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_VALUE = new Map([...BASE64].map((c, i) => [c, i] as const));

/** Reads one base64 VLQ value of a source map segment; returns it and the position after it. */
function readVlq(text: string, start: number): [value: number, next: number] {
  let result = 0;
  let shift = 0;
  let pos = start;
  for (;;) {
    const digit = BASE64_VALUE.get(text[pos] ?? "");
    if (digit === undefined) throw new Error(`invalid source map mappings near "${text}"`);
    pos++;
    result += (digit & 31) * 2 ** shift;
    shift += 5;
    if ((digit & 32) === 0) break;
  }
  const negative = result % 2 === 1;
  const value = Math.floor(result / 2);
  return [negative ? -value : value, pos];
}

function writeVlq(value: number): string {
  let rest = value < 0 ? -value * 2 + 1 : value * 2;
  let out = "";
  do {
    let digit = rest & 31;
    rest = Math.floor(rest / 32);
    if (rest > 0) digit |= 32;
    out += BASE64[digit];
  } while (rest > 0);
  return out;
}

/**
 * Moves the generated columns of one line's segments past an edit. The first field of each segment is
 * the generated column relative to the previous segment of the same line; the other fields are relative
 * across lines and do not change, so they are copied as they are.
 */
function shiftSegments(line: string, edit: LineEdit): string {
  const delta = edit.replacement.length - edit.length;
  const end = edit.column + edit.length;
  let previous = 0;
  let previousOut = 0;
  return line
    .split(",")
    .map((segment) => {
      const [relativeColumn, next] = readVlq(segment, 0);
      const column = previous + relativeColumn;
      previous = column;
      // A segment inside the replaced name moves to its start.
      const moved = column >= end ? column + delta : Math.min(column, edit.column);
      const out = writeVlq(moved - previousOut) + segment.slice(next);
      previousOut = moved;
      return out;
    })
    .join(",");
}
