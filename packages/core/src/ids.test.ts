import { describe, expect, it } from "vitest";
import { isId, newId } from "./ids.js";

describe("newId", () => {
  it("makes RFC 9562 version-7 UUIDs whose first 48 bits are the time in ms", () => {
    const before = Date.now();
    const id = newId();
    const after = Date.now();
    expect(isId(id)).toBe(true);
    expect(id[14]).toBe("7"); // version
    expect("89ab").toContain(id[19]); // variant 10xx
    const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
  });

  it("sorts ids of later milliseconds after earlier ones, and never repeats", async () => {
    const first = newId();
    await new Promise((r) => setTimeout(r, 3));
    const ids = Array.from({ length: 10_000 }, newId);
    expect(ids.every((id) => id > first)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("isId", () => {
  it.each([
    ["01a21f39-4f98-77f2-939e-c76eb16ebe8d", true],
    ["4F9C2A8B-1D3E-4B5A-9C7D-0E1F2A3B4C5D", true],
    ["01a21f394f9877f2939ec76eb16ebe8d", false],
    ["01a21f39-4f98-77f2-939e-c76eb16ebe8", false],
    ["not-an-id", false],
  ])("%s → %s", (value, expected) => expect(isId(value)).toBe(expected));
});
