/**
 * The container engine with real podman and a local SDK-like image (.ci/sdk-image.sh): images
 * built in the container mount and match the sysroot and equal the tools engine's bytes;
 * container arguments arrive as a shell would pass them (observed from inside the container);
 * arm64 under QEMU; a project set up like the Rust CLI's (.avocado-state + named volume);
 * and the error paths.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCornerTree, writeReleaseFiles } from './helpers/corner-tree.js';
import { withMountedImage } from './helpers/mount.js';
import { TestProject } from './helpers/project.js';
import { cannotMount, isRoot, missingTools } from './helpers/system.js';
import { compareTrees, snapshotTree } from './helpers/tree.js';

const IMAGE = 'localhost/avocado-sdk:test';
const ARM_IMAGE = 'localhost/avocado-sdk:test-arm64';
const CONF = '/etc/containers/avocado-test.conf';
const ENV = { CONTAINERS_CONF: CONF, AVOCADO_CONTAINER_TOOL: 'podman' };

function hasImage(image: string): boolean {
  try {
    execFileSync('podman', ['image', 'exists', image], { env: { ...process.env, CONTAINERS_CONF: CONF } });
    return true;
  } catch {
    return false;
  }
}

function whyNot(): string | undefined {
  if (!isRoot()) return 'needs root for podman with the VM settings of VERIFY.md';
  return missingTools('podman', 'runc') ?? (existsSync(CONF) ? undefined : `needs ${CONF} (see .ci/run)`) ?? (hasImage(IMAGE) ? undefined : `needs the image ${IMAGE}: run .ci/sdk-image.sh amd64`);
}

const skip = whyNot();

function yaml(fs = 'squashfs', extra = ''): string {
  return `default_target: qemux86-64
source_date_epoch: 1700000000
sdk:
  image: "localhost/avocado-sdk:{{ env.SDK_TAG }}"
${extra}extensions:
  app:
    version: "1.0.0"
    filesystem: ${fs}
    var_files: [var/lib/app/**, "var/log/**/*.log", var/lib/docker/, "**/vendor/cache"]
`;
}

const EXCLUDED = ['opt/vendor/cache', 'var/cache/dnf', 'var/lib/app', 'var/lib/dnf', 'var/lib/docker', 'var/lib/rpm', 'var/log/app.log', 'var/log/dnf.log', 'var/log/hawkey.log', 'var/log/sub/deeper.log'];

describe('container engine', { skip }, () => {
  for (const v of [
    { value: 'squashfs', fstype: 'squashfs' as const, maxName: 255 },
    { value: 'erofs', fstype: 'erofs' as const, maxName: 254 },
    { value: 'erofs-lz4', fstype: 'erofs' as const, maxName: 254 },
  ]) {
    it(`builds ${v.value} in the SDK image: it mounts, matches, and equals the tools engine's bytes`, { skip: cannotMount(v.fstype) ?? missingTools(v.fstype === 'squashfs' ? 'mksquashfs' : 'mkfs.erofs') }, async () => {
      const p = new TestProject(yaml(v.value));
      try {
        const sysroot = p.makeSysroot('qemux86-64', 'app');
        makeCornerTree(sysroot, { maxNameLength: v.maxName, bigDirEntries: 2000 });
        writeReleaseFiles(sysroot, 'app-1.0.0');
        const r = p.run(['ext', 'image', 'app', '--engine', 'container', '--json'], { ...ENV, SDK_TAG: 'test' });
        assert.equal(r.code, 0, r.stderr);
        const doc = JSON.parse(r.stdout);
        assert.equal(doc.engine, 'container');
        assert.match(doc.tool, new RegExp(`^${v.fstype === 'squashfs' ? 'mksquashfs 4\\.5\\.1' : 'mkfs\\.erofs 1\\.5'} in localhost/avocado-sdk:test \\(podman\\)$`));
        await withMountedImage(doc.image.path, v.fstype, (dir) => {
          assert.deepEqual(compareTrees(snapshotTree(dir), snapshotTree(sysroot, { exclude: EXCLUDED }), { mtime: 1700000000 }), []);
        });
        const tools = p.run(['ext', 'image', 'app', '--engine', 'tools', '--json'], ENV);
        assert.equal(tools.code, 0, tools.stderr);
        assert.equal(JSON.parse(tools.stdout).image.sha256, doc.image.sha256, 'same tool versions, same bytes');
        assert.deepEqual(readdirSync(join(doc.image.path, '..')), ['app-1.0.0.raw'], 'no temporary or exclude file left');
        assert.equal(execFileSync('podman', ['ps', '-aq', '--filter', 'name=avocado-image-'], { env: { ...process.env, CONTAINERS_CONF: CONF } }).toString().trim(), '', 'the SDK container is gone');
      } finally {
        p.remove();
      }
    });
  }

  it('passes container arguments split once like a shell, with host variables, and the dnf arguments', () => {
    const p = new TestProject(yaml('squashfs', `  container_args: ["-e FROM_CONFIG='a  b'", "--env=CONFIG_HOME=$PROBE_HOST"]\n`));
    try {
      const sysroot = p.makeSysroot('qemux86-64', 'app');
      writeReleaseFiles(sysroot, 'app-1.0.0');
      // The SDK's environment-setup is sourced before each tool runs: let it report what it sees.
      const setup = join(p.volume, 'qemux86-64/sdk/x86_64/environment-setup');
      mkdirSync(join(setup, '..'), { recursive: true });
      writeFileSync(setup, 'printf "PROBE [%s] [%s] [%s] [%s] [%s] [%s]\\n" "$FROM_CONFIG" "$CONFIG_HOME" "$QUOTED" "$SINGLE" "$AVOCADO_DNF_ARGS" "$AVOCADO_TARGET" >&2\n');
      const r = p.run(
        [
          'ext', 'image', 'app', '--engine', 'container', '--verbose',
          '--container-arg', '-e QUOTED="say \\"hi\\" to $PROBE_HOST"',
          '--container-arg', "--env=SINGLE='$PROBE_HOST stays'",
          '--dnf-arg', '--nogpgcheck', '--dnf-arg=--setopt=install_weak_deps=False',
        ],
        { ...ENV, SDK_TAG: 'test', PROBE_HOST: 'host value' },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /PROBE \[a {2}b\] \[host value\] \[say "hi" to host value\] \[\$PROBE_HOST stays\] \[--nogpgcheck --setopt=install_weak_deps=False\] \[qemux86-64\]/);
      assert.doesNotMatch(r.stderr, /warning: --(container|dnf)-arg/);
    } finally {
      p.remove();
    }
  });

  it('passes AVOCADO_RUNTIME and the AVOCADO_EXT_SYSROOTS of the sysroot imaged when a runtime is in effect', async () => {
    const p = new TestProject(yaml('squashfs', 'runtimes:\n  dev: {extensions: [app]}\n  prod: {extensions: [app]}\n'));
    try {
      const legacy = p.makeSysroot('qemux86-64', 'app');
      writeReleaseFiles(legacy, 'app-1.0.0');
      const scoped = join(p.volume, 'qemux86-64/runtimes/dev/extensions/app');
      mkdirSync(scoped, { recursive: true });
      makeCornerTree(scoped, { depth: 2 });
      writeReleaseFiles(scoped, 'app-1.0.0');
      const setup = join(p.volume, 'qemux86-64/sdk/x86_64/environment-setup');
      mkdirSync(join(setup, '..'), { recursive: true });
      writeFileSync(setup, 'printf "PROBE [%s] [%s]\\n" "${AVOCADO_RUNTIME-unset}" "$AVOCADO_EXT_SYSROOTS" >&2\n');
      const run = (args: string[]) => {
        const r = p.run(['ext', 'image', 'app', '--engine', 'container', '--json', '--verbose', ...args], { ...ENV, SDK_TAG: 'test' });
        assert.equal(r.code, 0, r.stderr);
        return { probe: r.stderr.match(/PROBE \[[^\]]*\] \[[^\]]*\]/)?.[0], doc: JSON.parse(r.stdout) };
      };
      const dev = run(['-r', 'dev']);
      assert.equal(dev.probe, 'PROBE [dev] [/opt/_avocado/qemux86-64/runtimes/dev/extensions]');
      assert.equal(dev.doc.sysroot, scoped);
      if (!cannotMount('squashfs'))
        await withMountedImage(dev.doc.image.path, 'squashfs', (dir) => assert.deepEqual(compareTrees(snapshotTree(dir), snapshotTree(scoped, { exclude: EXCLUDED }), { mtime: 1700000000 }), []));
      const prod = run(['-r', 'prod']);
      assert.equal(prod.probe, 'PROBE [prod] [/opt/_avocado/qemux86-64/extensions]', 'prod has no sysroot of its own: the legacy one is imaged');
      assert.equal(prod.doc.sysroot, legacy);
      assert.equal(run([]).probe, 'PROBE [unset] [/opt/_avocado/qemux86-64/extensions]', 'two runtimes and none chosen: none in effect');
    } finally {
      p.remove();
    }
  });

  it('runs an arm64 SDK image under QEMU for --sdk-arch aarch64', { skip: hasImage(ARM_IMAGE) ? (existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64') ? undefined : 'QEMU aarch64 emulation is not registered') : `needs ${ARM_IMAGE}: run .ci/sdk-image.sh arm64` }, async () => {
    const p = new TestProject(yaml('squashfs'));
    try {
      const sysroot = p.makeSysroot('qemux86-64', 'app');
      makeCornerTree(sysroot, { depth: 5 });
      writeReleaseFiles(sysroot, 'app-1.0.0');
      const r = p.run(['ext', 'image', 'app', '--engine', 'container', '--sdk-arch', 'AArch64', '--json'], { ...ENV, SDK_TAG: 'test-arm64' });
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.match(doc.tool, /in localhost\/avocado-sdk:test-arm64 \(podman, linux\/arm64\)/);
      if (!cannotMount('squashfs'))
        await withMountedImage(doc.image.path, 'squashfs', (dir) => {
          assert.deepEqual(compareTrees(snapshotTree(dir), snapshotTree(sysroot, { exclude: EXCLUDED }), { mtime: 1700000000 }), []);
        });
      const tools = p.run(['ext', 'image', 'app', '--engine', 'tools', '--json'], ENV);
      assert.equal(JSON.parse(tools.stdout).image.sha256, doc.image.sha256, 'mksquashfs on arm64 writes the same bytes');
    } finally {
      p.remove();
    }
  });

  describe('a project set up by the Rust CLI (.avocado-state and a named volume)', () => {
    const volumeName = `avo-test-${process.pid}`;
    const podman = (...args: string[]) => execFileSync('podman', args, { env: { ...process.env, CONTAINERS_CONF: CONF } }).toString().trim();
    let p: TestProject;
    let mountpoint = '';
    let state = '';
    before(() => {
      podman('volume', 'create', '--label', 'avocado.source_path=test', volumeName);
      mountpoint = podman('volume', 'inspect', '--format', '{{.Mountpoint}}', volumeName);
      p = new TestProject(yaml('squashfs'));
      state = JSON.stringify({ volume_name: volumeName, source_path: p.dir, container_tool: 'podman' }, null, 2);
      writeFileSync(join(p.dir, '.avocado-state'), state);
      const sysroot = join(mountpoint, 'qemux86-64/extensions/app');
      mkdirSync(join(sysroot, 'usr/bin'), { recursive: true });
      writeFileSync(join(sysroot, 'usr/bin/app'), 'from the Rust CLI volume\n');
      writeReleaseFiles(sysroot, 'app-1.0.0');
    });
    after(() => {
      p?.remove();
      podman('volume', 'rm', '-f', volumeName);
    });

    for (const engine of ['container', 'native']) {
      it(`builds from and into the named volume with the ${engine} engine, touching nothing else`, () => {
        const before = execFileSync('find', [mountpoint, '-printf', '%p %s %T@ %m\\n']).toString();
        const r = p.run(['ext', 'image', 'app', '--engine', engine, '--out', 'dist', '--json', '-v'], { CONTAINERS_CONF: CONF, SDK_TAG: 'test' });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`volume podman volume ${volumeName} at ${mountpoint} \\(from .*\\.avocado-state\\)`));
        const doc = JSON.parse(r.stdout);
        assert.equal(doc.image.path, join(mountpoint, 'qemux86-64/output/extensions/app-1.0.0.raw'));
        assert.deepEqual(readFileSync(join(p.dir, 'dist/app-1.0.0.raw')), readFileSync(doc.image.path));
        assert.equal(readFileSync(join(p.dir, '.avocado-state'), 'utf8'), state, '.avocado-state is never modified');
        assert.ok(!existsSync(join(p.dir, '_avocado')), 'no directory volume is created');
        const afterList = execFileSync('find', [mountpoint, '-printf', '%p %s %T@ %m\\n']).toString();
        const changed = afterList.split('\n').filter((l) => !before.split('\n').includes(l)).map((l) => l.split(' ')[0]);
        // Creating output/extensions/ touches its parent's mtime; nothing else may change.
        for (const c of changed) assert.ok(c!.startsWith(join(mountpoint, 'qemux86-64/output')) || c === join(mountpoint, 'qemux86-64'), `only the output changes, not ${c}`);
      });
    }
  });

  describe('errors', () => {
    let p: TestProject;
    before(() => {
      p = new TestProject(yaml());
      writeReleaseFiles(p.makeSysroot('qemux86-64', 'app'), 'app-1.0.0');
    });
    after(() => p.remove());
    const cases: { name: string; args?: string[]; env: Record<string, string>; yaml?: string; code: number; stderr: RegExp }[] = [
      { name: 'no container tool', env: { PATH: '/nonexistent', CONTAINERS_CONF: CONF, SDK_TAG: 'test' }, code: 1, stderr: /neither docker nor podman is installed .*; install podman/ },
      { name: 'unknown AVOCADO_CONTAINER_TOOL', env: { ...ENV, AVOCADO_CONTAINER_TOOL: 'lxc', SDK_TAG: 'test' }, code: 1, stderr: /unknown container tool 'lxc' \(from AVOCADO_CONTAINER_TOOL\); use docker or podman/ },
      { name: 'image not present', env: { ...ENV, SDK_TAG: 'nope' }, code: 1, stderr: /the SDK image localhost\/avocado-sdk:nope is not present locally; pull it \(podman pull localhost\/avocado-sdk:nope\) or build it/ },
      { name: 'no sdk.image', env: ENV, yaml: 'default_target: qemux86-64\nextensions:\n  app:\n    version: "1.0.0"\n', code: 2, stderr: /sdk\.image is not set: the container engine runs the SDK image it names; set sdk\.image/ },
      { name: 'container does not start', args: ['--container-arg', '--no-such-flag'], env: { ...ENV, SDK_TAG: 'test' }, code: 1, stderr: /the SDK container did not start \(podman run exited with status 125\)[\s\S]*\| .*no-such-flag/ },
      { name: 'volume not writable for the container user', args: ['--container-arg', '--user=65534:65534'], env: { ...ENV, SDK_TAG: 'test' }, code: 1, stderr: /in the SDK container cannot access the volume .*; check the ownership of/ },
      { name: 'unterminated quote', args: ['--container-arg', '-e "A=b'], env: { ...ENV, SDK_TAG: 'test' }, code: 2, stderr: /--container-arg "-e \\"A=b": unterminated double quote/ },
      { name: 'shell operator', args: ['--container-arg', '-e A=b; rm -rf /'], env: { ...ENV, SDK_TAG: 'test' }, code: 2, stderr: /shell operator ';' is not allowed in a container argument/ },
      { name: 'compressor missing in the SDK', env: { ...ENV, SDK_TAG: 'test' }, yaml: yaml('erofs-zst'), code: 1, stderr: /mkfs\.erofs 1\.5 has no zstd compressor .*; the SDK image localhost\/avocado-sdk:test lacks it/ },
      // binfmt_misc cannot be unregistered here without breaking the host: AVOCADO_BINFMT_DIR points the check at an empty directory.
      { name: 'no QEMU emulation for --sdk-arch', args: ['--sdk-arch', 'aarch64'], env: { ...ENV, SDK_TAG: 'test-arm64', AVOCADO_BINFMT_DIR: '/nonexistent' }, code: 1, stderr: /needs QEMU user emulation, and no qemu-aarch64 handler is registered .*; register it \(as root\): apt-get install -y qemu-user-static binfmt-support && .* update-binfmts --enable qemu-aarch64/ },
    ];
    for (const c of cases) {
      it(`${c.name}: exit ${c.code}`, { skip: c.name.includes('QEMU') && !hasImage(ARM_IMAGE) ? `needs ${ARM_IMAGE}` : undefined }, () => {
        p.writeConfig(c.yaml ?? yaml());
        const r = p.run(['ext', 'image', 'app', '--engine', 'container', ...(c.args ?? [])], c.env);
        assert.equal(r.code, c.code, r.stderr);
        assert.match(r.stderr, c.stderr);
        assert.ok(!existsSync(p.image('qemux86-64', 'app', '1.0.0')));
      });
    }
  });
});
