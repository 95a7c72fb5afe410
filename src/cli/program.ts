/**
 * The command tree: every command, option and help text in one place, read by the parser, by
 * `--help` and by `completion`. Command implementations load lazily from ./commands/.
 */
import { Argument, Command, Option } from 'commander';
import { ENGINE_NAMES } from '../engines/engine.js';
import { FILESYSTEMS } from '../formats/filesystems.js';
import { SDK_ARCH_VALUES } from './options.js';

export interface GlobalOptions {
  volume?: string;
  color?: boolean;
}

export interface ExtCommonOptions extends GlobalOptions {
  config?: string;
  verbose?: boolean;
  extension?: string;
  target?: string;
  targetBoard?: string;
  runtime?: string;
  json?: boolean;
  strict?: boolean;
}

/** Commands that take several extensions. */
export interface ExtMultiOptions extends ExtCommonOptions {
  all?: boolean;
  keepGoing?: boolean;
}

export interface ExtImageOptions extends ExtMultiOptions {
  out?: string;
  engine?: string;
  filesystem?: string;
  dryRun?: boolean;
  containerArg: string[];
  dnfArg: string[];
  runsOn?: string;
  nfsPort?: string;
  sdkArch?: string;
  verify?: boolean;
}

/** `ext inspect`, `ext diff`, `ext verify`: an image file, or NAME for the extension's image in the volume. */
export interface ExtReadOptions extends GlobalOptions {
  config?: string;
  verbose?: boolean;
  target?: string;
  targetBoard?: string;
  runtime?: string;
  json?: boolean;
}

export interface ExtInspectOptions extends ExtReadOptions {
  list?: boolean;
  mtree?: boolean;
}

export interface ExtVerifyOptions extends ExtReadOptions {
  sysroot?: string;
  extension?: string;
  sourceDateEpoch?: string;
}

export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;

/**
 * What shell completion offers for a value: these words (with a description, shown by zsh and
 * fish), what the nearest avocado.yaml names (`avocado __complete <kind>`), or file/directory
 * names. A value-taking option in neither table gets nothing (no file names).
 */
export type CompletionValues =
  | readonly (string | { readonly value: string; readonly description: string })[]
  | 'extensions'
  | 'targets'
  | 'runtimes'
  | 'files'
  | 'dirs';

/** Completion of option values, by long option name (commander's choices are offered too). */
export const OPTION_VALUES: Readonly<Record<string, CompletionValues>> = {
  '--extension': 'extensions',
  '--target': 'targets',
  '--runtime': 'runtimes',
  '--filesystem': FILESYSTEMS.map((f) => ({ value: f.value, description: f.description })),
  '--sdk-arch': SDK_ARCH_VALUES,
  '--config': 'files',
  '--out': 'dirs',
  '--volume': 'dirs',
  '--sysroot': 'dirs',
};

/** Completion of positional arguments, by their name in the usage line (commander's choices are offered too). */
export const ARGUMENT_VALUES: Readonly<Record<string, CompletionValues>> = {
  NAME: 'extensions',
  'IMAGE|NAME': 'files',
  A: 'files',
  B: 'files',
};

const collect = (value: string, previous: string[]) => [...previous, value];

const RUNTIME_HELP =
  'runtime, as under runtimes: in avocado.yaml (default: $AVOCADO_RUNTIME, then default_runtime, then the only runtime): its sysroot <volume>/<target>/runtimes/<RUNTIME>/extensions/<NAME>/ when the Avocado CLI made one, its target_board, {{ avocado.runtime }}';

const RUNTIME_TEXT = `
Runtime (-r, else $AVOCADO_RUNTIME, else default_runtime, else the only one under runtimes:; as
the Avocado CLI, a project without runtimes: but with default_target and a top-level rootfs,
initramfs or kernel has the runtime 'default'): an unknown one is an error listing those defined.
With a runtime, the sysroot is <volume>/<target>/runtimes/<RUNTIME>/extensions/<NAME>/ when it
exists (the Avocado CLI made it in runtime mode), else <volume>/<target>/extensions/<NAME>/;
ext build, ext image and ext clean choose alike, and --verbose says which and why. An extension
not listed in runtimes.<RUNTIME>.extensions gets a warning. Unlike the Avocado CLI, avocado does
not require avocado.lock to list the target's rootfs ('avocado install') first.`;

function extCommon(cmd: Command, opts: { several?: boolean } = {}): Command {
  if (opts.several)
    cmd
      .argument('[NAME...]', 'extension name(s), as under extensions: in avocado.yaml, done in the order given')
      .option('--all', 'every extension of avocado.yaml, in its order')
      .option('--keep-going', 'with several extensions, go on after one fails (the exit status is the first failure\'s)');
  else cmd.argument('[NAME]', 'extension name, as under extensions: in avocado.yaml');
  return cmd
    .option('-C, --config <CONFIG>', 'path to avocado.yaml, or a directory holding one (default: avocado.yaml in the current directory or above)')
    .option('-e, --extension <EXTENSION>', 'extension name (same as NAME)')
    .option('-t, --target <TARGET>', 'target to build for (default: $AVOCADO_TARGET, then default_target)')
    .option(
      '--target-board <BOARD>',
      'board for {{ avocado.target.board }} in avocado.yaml (default: $AVOCADO_TARGET_BOARD, then the runtime\'s target_board, then default_target_board, then the target)',
    )
    .option('-r, --runtime <RUNTIME>', RUNTIME_HELP)
    .option('-v, --verbose', 'say more: every path excluded or removed, each command run and its output, timings, and the stack of an error')
    .option('--strict', 'treat every warning as an error (exit 2), for CI')
    .option('--json', 'print one JSON object with the result on stdout');
}

/** Options of the commands that read images: enough of the project to find NAME's image. */
function extRead(cmd: Command): Command {
  return cmd
    .option('-C, --config <CONFIG>', 'path to avocado.yaml, or a directory holding one, for NAME (default: avocado.yaml in the current directory or above)')
    .option('-t, --target <TARGET>', 'target of NAME\'s image (default: $AVOCADO_TARGET, then default_target)')
    .option('--target-board <BOARD>', 'board for {{ avocado.target.board }} in avocado.yaml')
    .option('-r, --runtime <RUNTIME>', 'runtime, for NAME (as ext image)')
    .option('-v, --verbose', 'say more, and the stack of an error')
    .option('--json', 'print one JSON object with the result on stdout');
}

const IMAGE_ARGUMENT_TEXT = `
IMAGE is an image file (squashfs or EROFS, made by avocado, mksquashfs or mkfs.erofs). A word that
is not an existing file is taken as an extension NAME of avocado.yaml: its image in the volume,
<volume>/<target>/output/extensions/<NAME>-<version>.raw (write ./NAME for a file of that name).
Nothing is mounted: root is not needed. The images are untrusted input: a damaged one gives an
error naming the structure and byte offset, never a hang.`;

const FILESYSTEM_HELP = FILESYSTEMS.map(
  (f) => `  ${f.value.padEnd(13)} ${f.description}; kernel ≥ ${f.kernelMin}`,
).join('\n');

const EXIT_HELP = `
Exit status: 0 success, 1 build failed, 2 usage or configuration error, 130 interrupted (143 on SIGTERM, 129 on SIGHUP).`;

export function buildProgram(run: (name: string, args: unknown[]) => Promise<void>): Command {
  const program = new Command('avocado')
    .description('Build reproducible systemd-sysext / systemd-confext images from Avocado extension sysroots')
    // Handled in main.ts before parsing (with --verbose it also names Node and the codecs).
    .option('-V, --version', 'print the version (with --verbose: Node\'s and the compression libraries\' too)')
    .option('--volume <DIR>', 'state directory holding sysroots and images (default: $AVOCADO_VOLUME, else _avocado/ next to avocado.yaml)')
    .option('--no-color', 'no colours (also: NO_COLOR=1)')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `
Examples:
  avocado ext build my-app               write overlay and release files into the sysroot
  avocado ext clean my-app               remove its sysroot and images
  avocado ext image my-app               build <volume>/<target>/output/extensions/my-app-<version>.raw
  avocado ext image my-app --out dist    ...and copy it to dist/
  avocado completion bash > /etc/bash_completion.d/avocado
${EXIT_HELP}`);

  const ext = program.command('ext').description('work with extensions');

  extCommon(
    ext
      .command('image')
      .description('Create a squashfs or EROFS image from an extension sysroot')
      .option('--out <OUT_DIR>', 'also copy the image to OUT_DIR/<name>-<version>.raw (relative to the current directory)')
      .addOption(new Option('--filesystem <FILESYSTEM>', 'build this filesystem instead of the configured one (values below)').choices(FILESYSTEMS.map((f) => f.value)))
      .option('--dry-run', 'resolve, walk, exclude and check, then say what would be built (entries, bytes, what is excluded and why, filesystem, engine, path); write nothing')
      .addOption(new Option('--engine <ENGINE>', 'what writes the image (default: $AVOCADO_ENGINE, then engine: in avocado.yaml, then native)').choices(ENGINE_NAMES))
      .option('--container-arg <ARG>', 'extra docker/podman run argument(s) for the SDK container (repeatable; container engine; see below)', collect, [])
      .option('--dnf-arg <ARG>', 'extra dnf argument, passed to the SDK container as AVOCADO_DNF_ARGS (repeatable; container engine)', collect, [])
      .option('--runs-on <USER@HOST>', 'build in the SDK container on a remote host over SSH, with this machine\'s volume and project shared over NFS (container engine)')
      .option('--nfs-port <PORT>', 'port of the NFS server here for --runs-on (default: the first free one in 12050-12099)')
      .option('--sdk-arch <ARCH>', `architecture of the SDK container: ${SDK_ARCH_VALUES.join(', ')} (container engine)`)
      .option('--verify', 'read the new image back (every block decompressed) and compare it with the sysroot entry by entry before publishing it; a mismatch fails the build and keeps the previous image'),
    { several: true },
  )
    .addHelpText('after', `
The sysroot <volume>/<target>/extensions/<NAME>/ (or the runtime's, below) becomes <volume>/<target>/output/extensions/<NAME>-<version>.raw.
Excluded: var/lib/rpm, var/lib/dnf, var/cache/dnf, dnf's logs, and the extension's var_files globs.
Every entry is owned by root and stamped with source_date_epoch (default 0).

Engines: native (default; no external tools), tools (mksquashfs / mkfs.erofs on this machine),
container (the SDK image of sdk.image run with docker or podman - AVOCADO_CONTAINER_TOOL chooses -
with the volume at /opt/_avocado and the project at /opt/src).
--runs-on USER@HOST runs that container on another machine: avocado connects with ssh (keys,
your ~/.ssh/config; never a password prompt), checks that the host has docker or podman and an
avocado-ext at least as new as this one, serves the project (read-only, /src) and the volume
(/state) with nfs-ganesha from here on --nfs-port or the first free port in 12050-12099, mounts
them there as NFS volumes at /opt/src and /opt/_avocado, builds, and removes everything again
(container, volumes, NFS server, ssh connection), also after a failure or Ctrl-C. The image
lands in the local volume as with every engine.
Container arguments (sdk.container_args, then each --container-arg) are each split once as a
POSIX shell would: '...' and "..." quote, backslash escapes, $VAR and \${VAR} come from this
environment (unset: empty); shell operators (; | & > <) are refused. E.g.
  --container-arg '-e GREETING="hello world"' --container-arg=--network=host

filesystem: values (--filesystem, else extensions.<NAME>.filesystem, else rootfs.filesystem, else squashfs):
${FILESYSTEM_HELP}
${RUNTIME_TEXT}

Examples:
  avocado ext image my-app
  avocado ext image my-app --dry-run     what would be built, and what is excluded and why
  avocado ext image my-app --verify      read it back and compare it with the sysroot before publishing
  avocado ext image --all --keep-going --json
  avocado ext image app bsp --filesystem erofs-lz4 --strict
  avocado ext image my-app -t raspberrypi4 --out dist
  avocado ext image -C path/to/avocado.yaml my-app --json
  avocado ext image my-app --engine container --sdk-arch aarch64
  avocado ext image my-app --runs-on builder@build-host --nfs-port 12050
  avocado ext image my-app -r dev        the sysroot of runtime dev, if the Avocado CLI made one
  AVOCADO_VOLUME=/srv/avocado avocado ext image my-app --verbose
${EXIT_HELP}`)
    .action((...args: unknown[]) => run('ext-image', args));

  extCommon(ext.command('build').description('Write an extension\'s overlay and extension-release files into its sysroot'), { several: true })
    .addHelpText('after', `
Copies the extension's overlay directory into <volume>/<target>/extensions/<NAME>/ and writes
usr/lib/extension-release.d/extension-release.<NAME>-<version> (sysext) and/or
etc/extension-release.d/extension-release.<NAME>-<version> (confext), as the Avocado CLI does.
Installing packages needs the Avocado SDK and is not done here.

Everything is checked before the first write: a failed build leaves the sysroot as it was.
What the build wrote is recorded in <volume>/<target>/.avocado-ext/<NAME>.build.json; the next
build removes what it wrote before and no longer writes (a file dropped from the overlay, the
confext release file when confext leaves types, the links of a dropped service), unless it was
replaced since. Files it did not write (installed by the SDK's package manager) are never removed.
Overlay files already in the sysroot as the overlay has them are not copied again.
${RUNTIME_TEXT}

Examples:
  avocado ext build my-app
  avocado ext build my-app -t qemux86-64 && avocado ext image my-app -t qemux86-64
  avocado ext build avocado-bsp-rpi5 -t raspberrypi5 --target-board rpi5
  avocado ext build my-app --verbose     list what was removed and why anything was kept
  avocado ext build my-app -r dev        into runtime dev's sysroot, if the Avocado CLI made one
${EXIT_HELP}`)
    .action((...args: unknown[]) => run('ext-build', args));

  extCommon(ext.command('clean').description('Remove an extension\'s sysroot and images from the volume'))
    .addHelpText('after', `
Removes, for the target, what the extension has in the volume:
  <volume>/<target>/extensions/<NAME>/                      the sysroot (packages and overlay alike)
  <volume>/<target>/output/extensions/<NAME>-<version>.raw  the image of every version
  <volume>/<target>/.avocado-ext/<NAME>.build.json          ext build's record
  <volume>/<target>/.stamps/ext/<NAME>/                     the Avocado CLI's stamps
as the Avocado CLI's ext clean does. Images of other extensions stay, even when their name
starts with <NAME>- (e.g. <NAME>-extra-1.0.0.raw); copies made with --out are not touched.
Each removal is printed; nothing to remove is not an error. A path that resolves outside the
volume (through a symlink) is refused before anything is removed. With a runtime (-r, as for
ext build) the sysroot removed is the one ext build and ext image use.

Examples:
  avocado ext clean my-app
  avocado ext clean my-app -t raspberrypi4 && avocado ext build my-app -t raspberrypi4
  avocado ext clean -C path/to/avocado.yaml my-app --json
${EXIT_HELP}`)
    .action((...args: unknown[]) => run('ext-clean', args));

  extRead(ext.command('inspect').description('Show what an image is and holds, and whether systemd will merge it').argument('<IMAGE|NAME>', 'image file, or extension name'))
    .option('--list', 'list the entries like ls -l (sorted, paths from the image root)')
    .option('--mtree', 'list the entries in mtree format with sha256 digests, as systemd-dissect --mtree')
    .addHelpText('after', `
Shows the format, compressor and its settings, block (EROFS: cluster) size, sizes and sha256,
entry counts, the image's own time and its entries' oldest and newest, the oldest kernel that
mounts it, its extension-release files, and whether systemd-sysext / systemd-confext will merge
it under its file name (the checks ext image makes on a sysroot, made on the image).
${IMAGE_ARGUMENT_TEXT}

Examples:
  avocado ext inspect my-app
  avocado ext inspect dist/my-app-1.0.0.raw --list
  avocado ext inspect my-app-1.0.0.raw --mtree > my-app.mtree
  avocado ext inspect my-app --json
${EXIT_HELP}`)
    .action((...args: unknown[]) => run('ext-inspect', args));

  extRead(ext.command('diff').description('Explain how two images differ: entries, then superblock, settings and bytes').argument('<A>', 'image file, or extension name').argument('<B>', 'image file, or extension name'))
    .addHelpText('after', `
Lists the entries only in A, only in B, and changed (which attributes: type, mode, uid, gid,
mtime, size, link count, hard links, target, device, xattrs, content). When every entry is equal
but the bytes are not, says where: superblock fields (times, counts, positions), compressor and
settings, block size, and the first runs of differing bytes with what they hold in each image.
Exit status as diff(1): 0 the images are byte-identical, 1 they differ, 2 trouble (an unreadable
or damaged image, a usage error).
${IMAGE_ARGUMENT_TEXT}

Examples:
  avocado ext diff my-app dist/my-app-1.0.0.raw      the volume's image against a copy
  avocado ext diff old.raw new.raw --json
`)
    .action((...args: unknown[]) => run('ext-diff', args));

  extRead(ext.command('verify').description('Check every structure and block of an image, and compare it with the sysroot').argument('<IMAGE|NAME>', 'image file, or extension name'))
    .option('--sysroot <DIR>', 'compare with this sysroot, minus its exclusions (default for NAME: the sysroot ext image uses; for IMAGE: no comparison)')
    .option('-e, --extension <EXTENSION>', 'with IMAGE and --sysroot: take var_files and source_date_epoch of this extension of avocado.yaml')
    .option('--source-date-epoch <SECONDS>', 'the time every entry must have (default: source_date_epoch of avocado.yaml with NAME or -e, else 0)')
    .addHelpText('after', `
Reads the whole image: every superblock field and table (the EROFS superblock checksum too),
every inode and directory, every data block decompressed. With a sysroot, compares the entries
with it exactly as ext image would have built them: the sysroot minus var/lib/rpm, var/lib/dnf,
var/cache/dnf, dnf's logs and the extension's var_files, every entry owned by root and stamped
with source_date_epoch, contents byte for byte.
Exit status: 0 the image is sound (and equal to the sysroot), 1 it is damaged or differs, 2 usage.
${IMAGE_ARGUMENT_TEXT}

Examples:
  avocado ext verify my-app                          its image against its sysroot
  avocado ext verify dist/my-app-1.0.0.raw           the image alone
  avocado ext verify my-app-1.0.0.raw --sysroot _avocado/qemux86-64/extensions/my-app -e my-app
${EXIT_HELP}`)
    .action((...args: unknown[]) => run('ext-verify', args));

  program
    .command('completion')
    .description('print a shell completion script')
    .addArgument(new Argument('<SHELL>', 'bash, zsh or fish').choices(COMPLETION_SHELLS))
    .addHelpText('after', `
Examples:
  avocado completion bash > /etc/bash_completion.d/avocado
  avocado completion zsh > "\${fpath[1]}/_avocado"     then start a new shell
  avocado completion fish > ~/.config/fish/completions/avocado.fish
Completes commands, options, extension names, targets and runtimes of the nearest avocado.yaml
(or of the -C/--config file already typed), and filesystem, engine and --sdk-arch values.`)
    .action((...args: unknown[]) => run('completion', args));

  // Called by the completion scripts: prints candidates one per line, and nothing on any problem.
  program
    .command('__complete', { hidden: true })
    .argument('[KIND]')
    .option('--config <FILE>')
    .allowUnknownOption()
    .allowExcessArguments()
    .action((...args: unknown[]) => run('complete', args));

  return program;
}
