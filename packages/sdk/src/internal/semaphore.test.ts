import { describe, expect, test } from "vitest";
import { Semaphore } from "./semaphore.js";

describe("Semaphore", () => {
  test("hands slots to waiters in arrival order, across queue compaction", async () => {
    const sem = new Semaphore(2);
    expect(sem.acquire()).toBeUndefined();
    expect(sem.acquire()).toBeUndefined();
    const order: number[] = [];
    const waits = Array.from({ length: 5000 }, (_, i) => sem.acquire()!.then(() => order.push(i)));
    for (let i = 0; i < 5000; i++) sem.release();
    await Promise.all(waits);
    expect(order).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    // both original slots are still held; two releases free them
    sem.release();
    sem.release();
    expect(sem.tryAcquire()).toBe(true);
    expect(sem.tryAcquire()).toBe(true);
    expect(sem.tryAcquire()).toBe(false);
  });
});
