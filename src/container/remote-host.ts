/** `--runs-on [USER@]HOST`, parsed (src/cli/options.ts). */
export interface RemoteHost {
  readonly user?: string;
  readonly host: string;
}

/** What ssh is given: `user@host`, or `host` to let ssh choose the user. */
export function destinationOf(r: RemoteHost): string {
  return r.user ? `${r.user}@${r.host}` : r.host;
}
