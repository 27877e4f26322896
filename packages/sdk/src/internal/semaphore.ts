import { InvalidConfigError } from "@regent/core";

/**
 * A counting semaphore with a synchronous fast path: no promise is made while a slot is free. Waiters
 * form a FIFO read from a moving head (`Array.shift` would copy the queue on every release, which is
 * quadratic for a map of 100,000 items waiting on 100 slots).
 */
export class Semaphore {
  private free: number;
  private waiters: Array<(() => void) | undefined> = [];
  private head = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new InvalidConfigError(`concurrency must be a whole number ≥ 1 (got ${size})`);
    }
    this.free = size;
  }

  tryAcquire(): boolean {
    if (this.free > 0) {
      this.free--;
      return true;
    }
    return false;
  }

  acquire(): Promise<void> | undefined {
    if (this.tryAcquire()) return undefined;
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    if (this.head === this.waiters.length) {
      this.free++;
      return;
    }
    const next = this.waiters[this.head];
    this.waiters[this.head++] = undefined;
    if (this.head === this.waiters.length) {
      this.waiters = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.waiters.length) {
      this.waiters = this.waiters.slice(this.head);
      this.head = 0;
    }
    next!();
  }
}
