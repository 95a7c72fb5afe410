/**
 * Module resolution hooks (node:module register) that append every resolved URL to the file
 * named by AVOCADO_TRACE_MODULES: which modules a command loads, for tests of lazy loading.
 */
import { appendFileSync } from 'node:fs';

type Resolve = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Resolve): Promise<{ url: string }> {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.AVOCADO_TRACE_MODULES!, `${resolved.url}\n`);
  return resolved;
}
