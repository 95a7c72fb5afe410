/**
 * The `container` engine: the tools engine run inside the SDK image named by `sdk.image`, with
 * docker or podman, the volume at /opt/_avocado and the project at /opt/src, as the Avocado CLI
 * does — so that the SDK's own mksquashfs / mkfs.erofs build the image, with the same exclude
 * list, ownership and times as the tools engine.
 */
import { arch as hostArch } from 'node:os';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { splitContainerArgs, type ArgSource } from '../container/args.js';
import { PROJECT_MOUNT, SdkSession, VOLUME_MOUNT } from '../container/session.js';
import { ContainerTool } from '../container/tool.js';
import type { Project } from '../config/project.js';
import { locationOf, type CNode } from '../config/tree.js';
import { BuildError, ConfigError } from '../util/errors.js';
import type { Volume } from '../volume/volume.js';
import type { BuildRequest, Engine } from './engine.js';
import { ToolsEngine } from './tools.js';

export interface ContainerSettings {
  /** `--container-arg` values, unsplit. */
  readonly containerArgs: readonly string[];
  readonly dnfArgs: readonly string[];
  readonly sdkArch?: { readonly arch: 'aarch64' | 'x86-64'; readonly platform: string };
  readonly verbose: boolean;
}

const PLATFORM_ARCH: Record<string, string> = { 'linux/arm64': 'arm64', 'linux/amd64': 'amd64' };
const QEMU_HANDLER: Record<string, string> = { arm64: 'qemu-aarch64', amd64: 'qemu-x86_64' };

export class ContainerEngine implements Engine {
  readonly name = 'container' as const;
  private session?: SdkSession;
  private inner?: ToolsEngine;

  constructor(
    private readonly project: Project,
    private readonly volume: Volume,
    private readonly settings: ContainerSettings,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async prepare(req: BuildRequest): Promise<string> {
    const image = this.sdkImage();
    const tool = this.volume.named?.tool ?? (await ContainerTool.find(this.env));
    const platform = this.settings.sdkArch?.platform;
    const wantedArch = platform ? PLATFORM_ARCH[platform]! : nodeArchToOci(hostArch());
    const imageArch = await tool.imageArch(image);
    if (!imageArch)
      throw new BuildError(
        `the SDK image ${image} is not present locally`,
        `pull it (${tool.name} pull${platform ? ` --platform ${platform}` : ''} ${image}) or build it; avocado does not pull images by itself`,
      );
    if (imageArch !== wantedArch)
      throw new BuildError(
        `the SDK image ${image} is ${imageArch}, but ${platform ? `--sdk-arch ${this.settings.sdkArch!.arch}` : 'this host'} needs ${wantedArch}`,
        `${tool.name} pull --platform linux/${wantedArch} ${image}`,
      );
    if (wantedArch !== nodeArchToOci(hostArch())) await checkEmulation(wantedArch, this.env);

    const target = this.project.target;
    const prefix = `${VOLUME_MOUNT}/${target}`;
    this.session = await SdkSession.start({
      tool,
      image,
      platform,
      volumeSource: this.volume.mountSource,
      volumeRoot: this.volume.root,
      projectDir: this.project.dir,
      env: {
        AVOCADO_TARGET: target,
        AVOCADO_SDK_TARGET: target,
        AVOCADO_PREFIX: prefix,
        AVOCADO_EXT_SYSROOTS: `${prefix}/extensions`,
        AVOCADO_SRC_DIR: PROJECT_MOUNT,
        AVOCADO_SDK_IMAGE: image,
        AVOCADO_DNF_ARGS: this.settings.dnfArgs.join(' '),
        AVOCADO_VERBOSE: this.settings.verbose ? '1' : '0',
        AVOCADO_HOST_UID: String(process.getuid?.() ?? 0),
        AVOCADO_HOST_GID: String(process.getgid?.() ?? 0),
      },
      extraArgs: this.containerArgs(),
      signal: req.signal,
      verbose: req.verbose,
    });
    try {
      this.inner = new ToolsEngine(this.session, 'container');
      const what = await this.inner.prepare(req);
      return `${what} in ${image} (${tool.name}${platform ? `, ${platform}` : ''})`;
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async build(req: BuildRequest): Promise<void> {
    if (!this.inner) await this.prepare(req);
    try {
      await this.inner!.build(req);
    } finally {
      await this.stop();
    }
  }

  private async stop(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.stop();
  }

  private sdkNode(key: string): CNode | undefined {
    const sdk = this.project.root.entries.get('sdk');
    return sdk?.kind === 'map' ? sdk.entries.get(key) : undefined;
  }

  private sdkImage(): string {
    const node = this.sdkNode('image');
    if (node?.kind === 'scalar' && typeof node.value === 'string' && node.value.trim()) return node.value.trim();
    throw new ConfigError(
      node ? 'sdk.image must be a non-empty string' : 'sdk.image is not set: the container engine runs the SDK image it names',
      node ? locationOf(node, { file: this.project.file }) : { file: this.project.file },
      'set sdk.image in avocado.yaml, e.g. sdk: {image: "docker.io/avocadolinux/sdk:2024"}',
    );
  }

  /** `sdk.container_args` (a list, or one string) then each `--container-arg`, split once each. */
  private containerArgs(): string[] {
    const node = this.sdkNode('container_args');
    const sources: ArgSource[] = [];
    const fromConfig = (n: CNode) => {
      if (n.kind !== 'scalar' || typeof n.value !== 'string')
        throw new ConfigError('sdk.container_args must be a string or a list of strings', locationOf(n, { file: this.project.file }));
      sources.push({ value: n.value, from: locationOf(n, { file: this.project.file }) });
    };
    if (node?.kind === 'seq') node.items.forEach(fromConfig);
    else if (node && !(node.kind === 'scalar' && node.value === null)) fromConfig(node);
    for (const value of this.settings.containerArgs) sources.push({ value, from: '--container-arg' });
    return splitContainerArgs(sources, this.env);
  }
}

function nodeArchToOci(a: string): string {
  return a === 'x64' ? 'amd64' : a;
}

/**
 * A foreign-architecture image runs only with QEMU user emulation registered in binfmt_misc.
 * Registering it needs privileges, so it is never done behind the user's back: say how.
 */
async function checkEmulation(arch: string, env: NodeJS.ProcessEnv): Promise<void> {
  const handler = QEMU_HANDLER[arch];
  if (!handler) return;
  // AVOCADO_BINFMT_DIR exists for tests, which cannot unregister the host's real handlers.
  const dir = env.AVOCADO_BINFMT_DIR ?? '/proc/sys/fs/binfmt_misc';
  const state = await readFile(join(dir, handler), 'utf8').catch(() => '');
  if (state.split('\n')[0]?.trim() === 'enabled') return;
  throw new BuildError(
    `running the ${arch} SDK image on this ${nodeArchToOci(hostArch())} host needs QEMU user emulation, and no ${handler} handler is registered in ${dir}`,
    `register it (as root): apt-get install -y qemu-user-static binfmt-support && (mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc) && update-binfmts --enable ${handler}`,
  );
}
