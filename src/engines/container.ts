/**
 * The `container` engine: the tools engine run inside the SDK image named by `sdk.image`, with
 * docker or podman, the volume at /opt/_avocado and the project at /opt/src, as the Avocado CLI
 * does — so that the SDK's own mksquashfs / mkfs.erofs build the image, with the same exclude
 * list, ownership and times as the tools engine. With `--runs-on` the same session runs on a
 * remote host, the volume and project lent to it over NFS (src/container/remote.ts).
 */
import { dirname } from 'node:path';
import { splitContainerArgs, type ArgSource } from '../container/args.js';
import { destinationOf, type RemoteHost } from '../container/remote-host.js';
import type { RemoteInfo, RemoteSite } from '../container/remote.js';
import { PROJECT_MOUNT, SdkSession, VOLUME_MOUNT } from '../container/session.js';
import { ContainerTool, imageArch, type ContainerRunner } from '../container/tool.js';
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
  /** `--runs-on` (and `--nfs-port`): run the session on that host. */
  readonly remote?: { readonly host: RemoteHost; readonly nfsPort?: number };
  readonly verbose: boolean;
}

const PLATFORM_ARCH: Record<string, string> = { 'linux/arm64': 'arm64', 'linux/amd64': 'amd64' };
const QEMU_HANDLER: Record<string, string> = { arm64: 'qemu-aarch64', amd64: 'qemu-x86_64' };

export class ContainerEngine implements Engine {
  readonly name = 'container' as const;
  private session?: SdkSession;
  private site?: RemoteSite;
  private inner?: ToolsEngine;

  constructor(
    private readonly project: Project,
    private readonly volume: Volume,
    private readonly settings: ContainerSettings,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  get remote(): RemoteInfo | undefined {
    return this.site?.info;
  }

  async prepare(req: BuildRequest): Promise<string> {
    const image = this.sdkImage();
    const extraArgs = this.containerArgs();
    const localTool = () => (this.volume.named ? Promise.resolve(this.volume.named.tool) : ContainerTool.find(this.env));
    const remote = this.settings.remote;
    try {
      let runner: ContainerRunner;
      let volumeSource: string;
      let projectSource: string;
      if (remote) {
        const { RemoteSite } = await import('../container/remote.js');
        this.site = await RemoteSite.open({
          remote: remote.host,
          nfsPort: remote.nfsPort,
          exports: { src: this.project.dir, state: this.volume.root },
          sdkImage: image,
          localTool,
          env: this.env,
          signal: req.signal,
          step: req.step,
          warn: req.warn,
          verbose: req.verbose,
        });
        ({ runner, volumeSource, projectSource } = this.site);
      } else {
        runner = await localTool();
        volumeSource = this.volume.mountSource;
        projectSource = this.project.dir;
      }
      const platform = this.settings.sdkArch?.platform;
      await this.checkImage(runner, image);
      await this.site?.firstUse(image, platform);

      const target = this.project.target;
      const prefix = `${VOLUME_MOUNT}/${target}`;
      this.session = await SdkSession.start({
        tool: runner,
        image,
        platform,
        volumeSource,
        volumeRoot: this.volume.root,
        projectSource,
        nocopy: this.site !== undefined,
        env: {
          AVOCADO_TARGET: target,
          AVOCADO_SDK_TARGET: target,
          AVOCADO_PREFIX: prefix,
          // As the Avocado CLI's SDK environment, and so that $AVOCADO_EXT_SYSROOTS/<ext> is the sysroot imaged.
          AVOCADO_EXT_SYSROOTS:
            this.project.runtime && dirname(req.tree.dir) === this.volume.runtimeExtensionsDir(target, this.project.runtime.name)
              ? `${prefix}/runtimes/${this.project.runtime.name}/extensions`
              : `${prefix}/extensions`,
          ...(this.project.runtime ? { AVOCADO_RUNTIME: this.project.runtime.name } : {}),
          AVOCADO_SRC_DIR: PROJECT_MOUNT,
          AVOCADO_SDK_IMAGE: image,
          AVOCADO_DNF_ARGS: this.settings.dnfArgs.join(' '),
          AVOCADO_VERBOSE: this.settings.verbose ? '1' : '0',
          AVOCADO_HOST_UID: String(process.getuid?.() ?? 0),
          AVOCADO_HOST_GID: String(process.getgid?.() ?? 0),
        },
        extraArgs,
        signal: req.signal,
        verbose: req.verbose,
      });
      if (this.site) await this.site.verifyVolume(this.session, dirname(req.output));
      this.inner = new ToolsEngine(this.session, 'container');
      const what = await this.inner.prepare(req);
      const where = this.site ? ` on ${this.site.info.host}` : '';
      return `${what} in ${image} (${runner.name}${where}${platform ? `, ${platform}` : ''})`;
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async build(req: BuildRequest): Promise<void> {
    if (!this.inner) await this.prepare(req);
    try {
      if (this.site) req.step(`building on ${this.site.info.host}`);
      await this.inner!.build(req);
    } finally {
      await this.stop();
    }
  }

  private async stop(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.stop();
    await this.site?.close();
  }

  /** The image must be there, for the platform the build needs, and that platform must run there. */
  private async checkImage(runner: ContainerRunner, image: string): Promise<void> {
    const platform = this.settings.sdkArch?.platform;
    const machine = await runner.machineArch();
    const wanted = platform ? PLATFORM_ARCH[platform]! : machine;
    const remote = this.settings.remote ? destinationOf(this.settings.remote.host) : undefined;
    const on = remote ? ` on ${remote}` : '';
    const present = await imageArch(runner, image);
    if (!present)
      throw new BuildError(
        `the SDK image ${image} is not present${remote ? on : ' locally'}`,
        remote
          ? `load it there (docker save ${image} | ssh ${remote} ${runner.name} load) or pull it there; avocado does not pull images by itself`
          : `pull it (${runner.name} pull${platform ? ` --platform ${platform}` : ''} ${image}) or build it; avocado does not pull images by itself`,
      );
    if (present !== wanted)
      throw new BuildError(
        `the SDK image ${image}${on} is ${present}, but ${platform ? `--sdk-arch ${this.settings.sdkArch!.arch}` : remote ? 'that host' : 'this host'} needs ${wanted}`,
        `${remote ? `on ${remote}: ` : ''}${runner.name} pull --platform linux/${wanted} ${image}`,
      );
    const handler = QEMU_HANDLER[wanted];
    if (wanted === machine || !handler) return;
    // Registering emulation needs privileges: never done behind the user's back; say how.
    const { enabled, dir } = await runner.emulation(handler);
    if (enabled) return;
    throw new BuildError(
      `running the ${wanted} SDK image on ${remote ? `${remote} (${machine})` : `this ${machine} host`} needs QEMU user emulation, and no ${handler} handler is registered in ${dir}`,
      `register it (as root${on}): apt-get install -y qemu-user-static binfmt-support && (mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc) && update-binfmts --enable ${handler}`,
    );
  }

  /** Reading through the project reports the problems of the value read (an unset variable, …). */
  private sdkNode(key: string): CNode | undefined {
    return this.project.read(['sdk', key]);
  }

  private sdkImage(): string {
    const node = this.sdkNode('image');
    const value = node?.kind === 'scalar' && typeof node.value === 'string' ? node.value.trim() : '';
    // An interpolation that came out empty leaves `name:` or `:tag`: not an image reference.
    if (value && !/(^[:@/]|[:@/]$)/.test(value)) return value;
    throw new ConfigError(
      node ? `sdk.image must name an image (it is ${JSON.stringify(value)})` : 'sdk.image is not set: the container engine runs the SDK image it names',
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
