/**
 * Projects set up by the Rust Avocado CLI: `.avocado-state` (in the directory the CLI was run
 * from) names the Docker/podman volume holding the project's state. Read only: this tool never
 * writes the file.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const STATE_FILE = '.avocado-state';

export interface AvocadoState {
  readonly file: string;
  readonly volumeName: string;
  readonly containerTool?: string;
}

/** The first readable `.avocado-state` in `dirs` that names a volume. */
export async function readAvocadoState(dirs: readonly string[], warn: (m: string) => void): Promise<AvocadoState | undefined> {
  for (const dir of new Set(dirs)) {
    const file = join(dir, STATE_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    try {
      const doc = JSON.parse(text) as { volume_name?: unknown; container_tool?: unknown };
      if (typeof doc.volume_name === 'string' && doc.volume_name)
        return { file, volumeName: doc.volume_name, containerTool: typeof doc.container_tool === 'string' ? doc.container_tool : undefined };
      warn(`${file} names no volume_name; ignored`);
    } catch (e) {
      warn(`${file} is not valid JSON (${(e as Error).message}); ignored`);
    }
  }
  return undefined;
}
