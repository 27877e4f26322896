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

  test("resize: growing lets waiters in at once; shrinking holds releases back until under the new size", async () => {
    const sem = new Semaphore(1);
    expect(sem.acquire()).toBeUndefined();
    const woken: number[] = [];
    const waits = [0, 1, 2].map((i) => sem.acquire()!.then(() => woken.push(i)));
    sem.resize(3);
    await Promise.resolve();
    expect(woken).toEqual([0, 1]);
    expect(sem.size).toBe(3);
    // 3 held, 1 waiting; down to 1: two releases only bring it under the size, the third lets the waiter in.
    sem.resize(1);
    sem.release();
    sem.release();
    await Promise.resolve();
    expect(woken).toEqual([0, 1]);
    sem.release();
    await Promise.all(waits);
    expect(woken).toEqual([0, 1, 2]);
    expect(sem.tryAcquire()).toBe(false);
    expect(() => sem.resize(0)).toThrow(/whole number ≥ 1/);
  });
});
