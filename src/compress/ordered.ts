/**
 * Results of concurrent work, delivered strictly in the order the work was submitted, with at
 * most `limit` outstanding: `add` waits (delivering the oldest) once the limit is reached. Each
 * result weighs 1 unless `add` gives its weight (a writer weighs its pieces by their bytes, so
 * that many small files do not hold back the work on others), and at most `maxEntries` are
 * outstanding whatever their weights. This is what keeps a parallel writer's output
 * deterministic and its memory bounded.
 */
export class OrderedQueue<T> {
  private readonly pending: { readonly result: Promise<T>; readonly deliver: (value: T) => void; readonly weight: number }[] = [];
  private weight = 0;

  constructor(
    private readonly limit: number,
    private readonly maxEntries = limit,
  ) {}

  async add(result: Promise<T>, deliver: (value: T) => void, weight = 1): Promise<void> {
    // A later result may fail while an earlier one is awaited; it is reported when its turn comes.
    result.catch(() => undefined);
    this.pending.push({ result, deliver, weight });
    this.weight += weight;
    while (this.pending.length && (this.weight >= this.limit || this.pending.length >= this.maxEntries)) await this.deliverOldest();
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
    this.weight -= head.weight;
    head.deliver(value);
  }
}
