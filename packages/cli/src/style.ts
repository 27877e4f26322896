import { styleText } from "node:util";

type Style = Parameters<typeof styleText>[0];

/** Colours only for a terminal that wants them (NO_COLOR, FORCE_COLOR respected). */
export function stylerFor(stream: NodeJS.WriteStream): (style: Style, text: string) => string {
  const on = process.env.FORCE_COLOR
    ? process.env.FORCE_COLOR !== "0"
    : stream.isTTY === true && !process.env.NO_COLOR;
  return on ? (style, text) => styleText(style, text) : (_style, text) => text;
}

export const STATE_STYLE: Record<string, Style> = {
  Success: "green",
  Cached: "green",
  Mapped: "green",
  Failed: "red",
  TimedOut: "red",
  TriggerFailed: "red",
  Cancelled: "yellow",
  Skipped: "gray",
  Retrying: "yellow",
  Paused: "magenta",
  Running: "cyan",
};
