/** What the build steps report to, whatever renders it (text on stderr, JSON, nothing in tests). */
export interface Reporter {
  /** One line per step, e.g. "walking sysroot". */
  step(message: string): void;
  warn(message: string): void;
  verbose(message: string): void;
  progress(done: number, total?: number): void;
}

/** 1536 → "1.50 KiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}
