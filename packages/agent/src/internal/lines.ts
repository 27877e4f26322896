import type { Readable } from "node:stream";

/** Longest line passed on whole; a longer run of output without a newline is passed on in pieces. */
const MAX_LINE = 64 * 1024;

/** Calls `emit` with each line `stream` carries (without its line break); `flush()` passes a partial last line. */
export function eachLine(stream: Readable | null, emit: (line: string) => void): { flush(): void } {
  let buffer = "";
  const flush = () => {
    if (buffer.length > 0) emit(buffer);
    buffer = "";
  };
  if (!stream) return { flush };
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffer += chunk;
    let start = 0;
    for (let end = buffer.indexOf("\n", start); end >= 0; end = buffer.indexOf("\n", start)) {
      emit(buffer.slice(start, end > start && buffer[end - 1] === "\r" ? end - 1 : end));
      start = end + 1;
    }
    buffer = buffer.slice(start);
    while (buffer.length > MAX_LINE) {
      emit(buffer.slice(0, MAX_LINE));
      buffer = buffer.slice(MAX_LINE);
    }
  });
  stream.on("end", flush);
  // A destroyed pipe (the process is gone) is not an error of the agent's.
  stream.on("error", () => {});
  return { flush };
}
