import { InvalidConfigError } from "@regent/core";

/**
 * A counting semaphore with a synchronous fast path: no promise is made while a slot is free. Waiters
 * form a FIFO read from a moving head (`Array.shift` would copy the queue on every release, which is
 * quadratic for a map of 100,000 items waiting on 100 slots).
 */
export class Semaphore {
  /** Slots free now; below 0 after the semaphore shrank under more holders than its new size. */
  private free: number;
  private waiters: Array<(() => void) | undefined> = [];
  private head = 0;

  constructor(private size_: number) {
    checkSize(size_);
    this.free = size_;
  }

  get size(): number {
    return this.size_;
  }

  /** Makes it `size` slots: more let waiters in at once; fewer take effect as holders release. */
  resize(size: number): void {
    if (size === this.size_) return;
    checkSize(size);
    this.free += size - this.size_;
    this.size_ = size;
    while (this.free > 0 && this.head < this.waiters.length) {
      this.free--;
      this.wakeNext();
    }
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
    // A slot over the size (it shrank) is not handed on.
    if (this.head === this.waiters.length || this.free < 0) {
      this.free++;
      return;
    }
    this.wakeNext();
  }

  /** Hands a slot to the first waiter. */
  private wakeNext(): void {
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

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1)
    throw new InvalidConfigError(`concurrency must be a whole number ≥ 1 (got ${size})`);
}
