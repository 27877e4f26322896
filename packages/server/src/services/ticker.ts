/** Reports a service's failures once per outage, and its recovery, instead of once per tick. */
export interface TickerOptions {
  readonly name: string;
  readonly everyMs: number;
  readonly tick: () => Promise<void>;
  readonly log: (line: string) => void;
}

/**
 * Runs `tick` every `everyMs`, never two at once, and at once on `wake()`. A failing tick (database down)
 * is reported when it starts failing and when it recovers; the service keeps ticking meanwhile.
 */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private failing: string | undefined;
  private stopped = false;

  constructor(private readonly options: TickerOptions) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), this.options.everyMs);
    this.timer.unref();
    this.wake();
  }

  /** Ticks now, or right after the tick under way. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** Resolves when the tick under way (if any) is done; no tick starts after. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async run(): Promise<void> {
    try {
      await this.options.tick();
      if (this.failing) this.options.log(`${this.options.name}: working again`);
      this.failing = undefined;
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      if (this.failing !== message)
        this.options.log(`${this.options.name}: ${message} (retrying every ${this.options.everyMs} ms)`);
      this.failing = message;
    }
  }
}
