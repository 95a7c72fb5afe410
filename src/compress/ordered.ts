/**
 * Results of concurrent work, delivered strictly in the order the work was submitted, with at
 * most `limit` results outstanding: `add` waits (delivering the oldest) once the limit is reached.
 * This is what keeps a parallel writer's output deterministic and its memory bounded.
 */
export class OrderedQueue<T> {
  private readonly pending: { readonly result: Promise<T>; readonly deliver: (value: T) => void }[] = [];

  constructor(private readonly limit: number) {}

  async add(result: Promise<T>, deliver: (value: T) => void): Promise<void> {
    // A later result may fail while an earlier one is awaited; it is reported when its turn comes.
    result.catch(() => undefined);
    this.pending.push({ result, deliver });
    while (this.pending.length >= this.limit) await this.deliverOldest();
  }

  /** Delivers everything still outstanding. */
  async drain(): Promise<void> {
    while (this.pending.length) await this.deliverOldest();
  }

  get size(): number {
    return this.pending.length;
  }

  private async deliverOldest(): Promise<void> {
    const head = this.pending[0]!;
    const value = await head.result;
    this.pending.shift();
    head.deliver(value);
  }
}
