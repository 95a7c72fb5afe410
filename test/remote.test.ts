/**
 * `--runs-on` against a real remote host: ../shared/remote-host's QEMU guest (its own kernel's
 * NFS client, sshd, podman as docker) with this checkout's CLI installed in it by npm, and the
 * local SDK images written into its disk by .ci/remote-host.sh. Real ssh, real nfs-ganesha here,
 * real NFS volumes there. Every image is mounted here and compared with the sysroot, and equals
 * the local `--engine container` build byte for byte; after every run nothing is left on either
 * side. The guest is software-emulated (TCG), so each remote build takes a minute or two.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { makeCornerTree, pseudoRandom, writeReleaseFiles } from './helpers/corner-tree.js';
import { withMountedImage } from './helpers/mount.js';
import { CLI, TestProject } from './helpers/project.js';
import { TARGET, down, guest, guestImages, installCli, leftovers, remoteHostMissing, up } from './helpers/remote-host.js';
import { cannotMount } from './helpers/system.js';
import { compareTrees, snapshotTree } from './helpers/tree.js';

const CONF = '/etc/containers/avocado-test.conf';
const LOCAL = { CONTAINERS_CONF: CONF, AVOCADO_CONTAINER_TOOL: 'podman' };
const EXCLUDED = ['var/cache/dnf', 'var/lib/app', 'var/lib/dnf', 'var/lib/rpm', 'var/log/dnf.log', 'var/log/hawkey.log'];
const skip = remoteHostMissing() ?? (guestImages().includes('localhost/avocado-sdk:test') ? undefined : 'the guest disk holds no localhost/avocado-sdk:test: run .ci/sdk-image.sh, then .ci/remote-host.sh');

function yaml(fs: string, tag = 'test'): string {
  return `default_target: qemux86-64
source_date_epoch: 1700000000
sdk:
  image: "localhost/avocado-sdk:${tag}"
extensions:
  app:
    version: "1.0.0"
    filesystem: ${fs}
    var_files: [var/lib/app/**]
`;
}

/** A project whose sysroot is the corner-case tree. */
function cornerProject(fs: string, maxName: number, tag?: string): { p: TestProject; sysroot: string } {
  const p = new TestProject(yaml(fs, tag), 'avocado-rtest-');
  const sysroot = p.makeSysroot('qemux86-64', 'app');
  makeCornerTree(sysroot, { maxNameLength: maxName, bigDirEntries: 500 });
  writeReleaseFiles(sysroot, 'app-1.0.0');
  return { p, sysroot };
}

function remoteBuild(p: TestProject, extra: string[] = [], env: Record<string, string> = {}) {
  const started = Date.now();
  const r = p.run(['ext', 'image', 'app', '--runs-on', TARGET, '--json', ...extra], { CONTAINERS_CONF: CONF, ...env });
  return { ...r, seconds: (Date.now() - started) / 1000 };
}

function assertClean(what: string): void {
  assert.deepEqual(leftovers(), [], `nothing may be left after ${what}`);
}

/** A PATH with everything the current one has but ganesha.nfsd. */
function pathWithoutGanesha(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const d of (process.env.PATH ?? '').split(delimiter))
    for (const name of (() => {
      try {
        return readdirSync(d);
      } catch {
        return [];
      }
    })())
      if (name !== 'ganesha.nfsd')
        try {
          symlinkSync(join(d, name), join(dir, name));
        } catch {
          // the first directory on PATH wins, as it does for the shell
        }
  return dir;
}

const timings: string[] = [];

/** binfmt_misc's registration of qemu-aarch64 (the kernel decodes the \x escapes). */
const AARCH64_BINFMT = String.raw`:qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/local/bin/qemu-aarch64-static:F`;

describe('--runs-on: building on a remote host over SSH and NFS', { skip, timeout: 60 * 60_000 }, () => {
  before(() => {
    up();
    installCli();
  });
  after(() => {
    down();
    if (timings.length) console.log(`# remote build timings (TCG guest): ${timings.join('; ')}`);
  });

  for (const v of [
    { fs: 'squashfs', fstype: 'squashfs' as const, maxName: 255 },
    { fs: 'erofs-lz4', fstype: 'erofs' as const, maxName: 254 },
  ]) {
    it(`builds ${v.fs} in the guest's SDK container: the image is here, mounts, matches the sysroot and equals the local container build`, { skip: cannotMount(v.fstype) }, async () => {
      const { p, sysroot } = cornerProject(v.fs, v.maxName);
      try {
        const r = remoteBuild(p, ['--out', 'dist']);
        assert.equal(r.code, 0, r.stderr);
        const doc = JSON.parse(r.stdout);
        assert.equal(doc.engine, 'container');
        assert.equal(doc.engineSource, '--runs-on');
        assert.match(doc.tool, new RegExp(`in localhost/avocado-sdk:test \\(docker on ${TARGET}\\)$`));
        assert.equal(doc.remote.host, TARGET);
        assert.equal(doc.remote.address, '127.0.0.1');
        assert.equal(doc.remote.nfsPortSource, 'auto');
        assert.ok(doc.remote.nfsPort >= 12050 && doc.remote.nfsPort <= 12099, String(doc.remote.nfsPort));
        assert.match(doc.remote.nfsServer, /ganesha\.nfsd$/);
        for (const step of [`connecting to ${TARGET}`, `NFS server on 127.0.0.1:${doc.remote.nfsPort}`, 'remote volumes avocado-src-', `engine container (from --runs-on)`, `building on ${TARGET}`, 'cleaning up'])
          assert.ok(r.stderr.includes(step), `progress says '${step}':\n${r.stderr}`);
        await withMountedImage(doc.image.path, v.fstype, (dir) => {
          assert.deepEqual(compareTrees(snapshotTree(dir), snapshotTree(sysroot, { exclude: EXCLUDED }), { mtime: 1700000000 }), []);
        });
        assert.deepEqual(readFileSync(join(p.dir, 'dist/app-1.0.0.raw')), readFileSync(doc.image.path), '--out copies it');
        assert.deepEqual(readdirSync(join(doc.image.path, '..')), ['app-1.0.0.raw'], 'no temporary, probe or exclude file left in the volume');
        assertClean('a remote build');

        const started = Date.now();
        const local = p.run(['ext', 'image', 'app', '--engine', 'container', '--json'], LOCAL);
        assert.equal(local.code, 0, local.stderr);
        assert.equal(JSON.parse(local.stdout).image.sha256, doc.image.sha256, 'the same SDK image gives the same bytes here and there');
        timings.push(`${v.fs}: remote ${r.seconds.toFixed(1)} s, local container ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } finally {
        p.remove();
      }
    });
  }

  it('--nfs-port given is used, and --container-arg / --dnf-arg values arrive in the remote docker run', () => {
    const p = new TestProject(yaml('squashfs'), 'avocado-rtest-');
    try {
      writeReleaseFiles(p.makeSysroot('qemux86-64', 'app'), 'app-1.0.0');
      // The SDK's environment-setup is sourced before each tool runs in the container: let it report.
      const setup = join(p.volume, 'qemux86-64/sdk/x86_64/environment-setup');
      mkdirSync(join(setup, '..'), { recursive: true });
      writeFileSync(setup, 'printf "PROBE [%s] [%s] [%s] [%s]\\n" "$QUOTED" "$HOSTVAR" "$AVOCADO_DNF_ARGS" "$(cat /etc/hostname)" >&2\n');
      const r = remoteBuild(p, ['--nfs-port', '12077', '--verbose', '--container-arg', '-e QUOTED="a  b"', '--container-arg', '--env=HOSTVAR=$PROBE_HOST', '--container-arg=--label=avocado-test=yes', '--dnf-arg', '--nogpgcheck'], {
        PROBE_HOST: 'from here',
      });
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.remote.nfsPort, 12077);
      assert.equal(doc.remote.nfsPortSource, '--nfs-port');
      assert.match(r.stderr, /NFS server on 127\.0\.0\.1:12077 \(--nfs-port\)/);
      assert.match(r.stderr, /docker run -d --rm --name avocado-image-\S+ .* -e QUOTED=a {2}b --env=HOSTVAR=from here --label=avocado-test=yes localhost\/avocado-sdk:test sleep infinity/);
      assert.match(r.stderr, /PROBE \[a {2}b\] \[from here\] \[--nogpgcheck\] \[\w+\]/);
      assertClean('a build with --nfs-port');
    } finally {
      p.remove();
    }
  });

  it('--sdk-arch aarch64 runs the arm64 SDK image on the remote, once QEMU emulation is registered there', { skip: guestImages().includes('localhost/avocado-sdk:test-arm64') ? undefined : 'the guest disk holds no localhost/avocado-sdk:test-arm64' }, async () => {
    const p = new TestProject(yaml('squashfs', 'test-arm64'), 'avocado-rtest-');
    try {
      const sysroot = p.makeSysroot('qemux86-64', 'app');
      makeCornerTree(sysroot, { depth: 5 });
      writeReleaseFiles(sysroot, 'app-1.0.0');
      const refused = remoteBuild(p, ['--sdk-arch', 'aarch64']);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, new RegExp(`error: running the arm64 SDK image on ${TARGET} \\(amd64\\) needs QEMU user emulation, and no qemu-aarch64 handler is registered in /proc/sys/fs/binfmt_misc on ${TARGET}; register it \\(as root on ${TARGET}\\)`));
      assertClean('a refused --sdk-arch');
      // The static qemu-aarch64 that .ci/remote-host.sh put into the guest ('F': opened now, usable in containers).
      guest(`mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; printf '%s' '${AARCH64_BINFMT}' > /proc/sys/fs/binfmt_misc/register`);
      const r = remoteBuild(p, ['--sdk-arch', 'aarch64']);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.match(doc.tool, new RegExp(`in localhost/avocado-sdk:test-arm64 \\(docker on ${TARGET}, linux/arm64\\)$`));
      if (!cannotMount('squashfs'))
        await withMountedImage(doc.image.path, 'squashfs', (dir) => {
          assert.deepEqual(compareTrees(snapshotTree(dir), snapshotTree(sysroot, { exclude: EXCLUDED }), { mtime: 1700000000 }), []);
        });
      const local = p.run(['ext', 'image', 'app', '--engine', 'container', '--sdk-arch', 'aarch64', '--json'], LOCAL);
      assert.equal(local.code, 0, local.stderr);
      assert.equal(JSON.parse(local.stdout).image.sha256, doc.image.sha256, 'arm64 mksquashfs there and here: the same bytes');
      assertClean('an --sdk-arch build');
    } finally {
      p.remove();
    }
  });

  it('--nfs-port busy is a usage error before anything touches the remote', async () => {
    const p = new TestProject(yaml('squashfs'), 'avocado-rtest-');
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 12078 }, resolve));
    try {
      writeReleaseFiles(p.makeSysroot('qemux86-64', 'app'), 'app-1.0.0');
      const r = remoteBuild(p, ['--nfs-port', '12078']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--nfs-port 12078: the port is in use on 127\.0\.0\.1; choose another port, or leave --nfs-port out/);
      assert.doesNotMatch(r.stderr, /connecting to/);
      assertClean('a busy --nfs-port');
    } finally {
      server.close();
      p.remove();
    }
  });

  describe('failures leave the previous image and nothing else', () => {
    let p: TestProject;
    let image = '';
    let good: Buffer;
    before(() => {
      p = new TestProject(yaml('squashfs'), 'avocado-rtest-');
      const sysroot = p.makeSysroot('qemux86-64', 'app');
      writeReleaseFiles(sysroot, 'app-1.0.0');
      mkdirSync(join(sysroot, 'usr/share'), { recursive: true });
      // Enough incompressible data for the remote mksquashfs to take a while.
      writeFileSync(join(sysroot, 'usr/share/blob'), pseudoRandom(24 << 20, 11));
      const r = p.run(['ext', 'image', 'app', '--engine', 'container'], LOCAL);
      assert.equal(r.code, 0, r.stderr);
      image = p.image('qemux86-64', 'app', '1.0.0');
      good = readFileSync(image);
    });
    after(() => p.remove());
    const intact = (what: string) => {
      assert.deepEqual(readFileSync(image), good, `the previous image is intact after ${what}`);
      assert.deepEqual(readdirSync(join(image, '..')), ['app-1.0.0.raw'], `no temporary file after ${what}`);
      assertClean(what);
    };

    it('an unreachable host: exit 1, naming it', () => {
      const r = p.run(['ext', 'image', 'app', '--runs-on', 'root@127.0.0.3'], { CONTAINERS_CONF: CONF });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /error: cannot connect to root@127\.0\.0\.3 over SSH; check that the host is up, reachable, and runs sshd/);
      intact('an unreachable host');
    });

    const guestCases = [
      {
        name: 'no docker or podman on the remote',
        break: 'mv /usr/local/bin/docker /usr/local/bin/docker.off && mv /usr/bin/podman /usr/bin/podman.off',
        mend: 'mv /usr/local/bin/docker.off /usr/local/bin/docker; mv /usr/bin/podman.off /usr/bin/podman',
        stderr: /error: neither docker nor podman is installed on root@127\.0\.0\.2; install one there/,
      },
      {
        name: 'no avocado on the remote',
        break: 'mv /usr/local/bin/avocado /usr/local/bin/avocado.off',
        mend: 'mv /usr/local/bin/avocado.off /usr/local/bin/avocado',
        stderr: /error: avocado is not installed on root@127\.0\.0\.2 \(remote builds need avocado-ext \d+\.\d+\.\d+ or newer there\); install it there: npm install -g avocado-ext@/,
      },
      {
        name: 'an older avocado on the remote',
        break: `sed -i.off 's/"version": "[^"]*"/"version": "0.0.9"/' /usr/local/lib/node_modules/avocado-ext/package.json`,
        mend: 'mv /usr/local/lib/node_modules/avocado-ext/package.json.off /usr/local/lib/node_modules/avocado-ext/package.json',
        stderr: /error: avocado-ext 0\.0\.9 on root@127\.0\.0\.2 is older than this one \(\d+\.\d+\.\d+\); upgrade it there/,
      },
    ];
    for (const c of guestCases) {
      it(`${c.name}: exit 1, saying what to install`, () => {
        guest(c.break);
        try {
          const r = p.run(['ext', 'image', 'app', '--runs-on', TARGET], { CONTAINERS_CONF: CONF });
          assert.equal(r.code, 1, r.stderr);
          assert.match(r.stderr, c.stderr);
          assert.match(r.stderr, /cleaning up|connecting to/);
        } finally {
          guest(c.mend);
        }
        intact(c.name);
      });
    }

    it('no NFS server possible here: exit 1 before anything touches the remote', () => {
      const bin = mkdtempSync(join(tmpdir(), 'avocado-path-'));
      try {
        const r = p.run(['ext', 'image', 'app', '--runs-on', TARGET], { CONTAINERS_CONF: CONF, PATH: pathWithoutGanesha(bin) });
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /error: --runs-on shares this machine's volume over NFS, and no NFS server can run: ganesha\.nfsd is not installed here, and the SDK image localhost\/avocado-sdk:test has no ganesha\.nfsd; install nfs-ganesha here \(Debian\/Ubuntu: apt-get install nfs-ganesha nfs-ganesha-vfs/);
        assert.doesNotMatch(r.stderr, /connecting to/);
      } finally {
        rmSync(bin, { recursive: true, force: true });
      }
      intact('no NFS server');
    });

    it('the remote build failing (the volume full): exit 1 with the tool output', () => {
      // A small volume of its own: the sysroot fits, the image does not.
      const vol = mkdtempSync(join(tmpdir(), 'avocado-small-volume-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=72m', 'tmpfs', vol]);
      try {
        execFileSync('cp', ['-a', `${p.volume}/.`, vol]);
        const smallImage = join(vol, 'qemux86-64/output/extensions/app-1.0.0.raw');
        const before = readFileSync(smallImage);
        writeFileSync(join(vol, 'qemux86-64/extensions/app/usr/share/blob2'), pseudoRandom(12 << 20, 12));
        const r = p.run(['ext', 'image', 'app', '--runs-on', TARGET, '--volume', vol], { CONTAINERS_CONF: CONF });
        assert.equal(r.code, 1, r.stderr);
        // mksquashfs hears of the full disk behind NFS only when it closes the file, and ignores
        // that: the image is found short of what its superblock says, and not published.
        assert.match(r.stderr, /error: (mksquashfs failed \(exit status 1\)|the image is incomplete: its superblock says \d+ bytes, the file has \d+ \(written by mksquashfs 4\.5\.1 in \S+ \(docker on root@127\.0\.0\.2\)\); the disk holding \S+ is full)/);
        assert.deepEqual(readFileSync(smallImage), before, 'the previous image in that volume is intact');
        assert.deepEqual(readdirSync(join(smallImage, '..')), ['app-1.0.0.raw']);
        assertClean('a failing remote build');
      } finally {
        execFileSync('umount', [vol]);
        rmSync(vol, { recursive: true, force: true });
      }
      intact('a failing remote build');
    });

    it('Ctrl-C during the remote build: exit 130, the remote container, volumes, NFS server and connection gone', async () => {
      const child = spawn(process.execPath, [CLI, 'ext', 'image', 'app', '--runs-on', TARGET], { cwd: p.dir, env: { ...process.env, CONTAINERS_CONF: CONF }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      const building = new Promise<void>((resolve) =>
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes(`building on ${TARGET}`)) resolve();
        }),
      );
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await Promise.race([building, exited]);
      // Let mksquashfs get going in the guest.
      await new Promise((r) => setTimeout(r, 3000));
      child.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 130, stderr);
      assert.match(stderr, /error: interrupted; temporary files removed, previous image unchanged/);
      assert.match(stderr, /cleaning up/);
      intact('Ctrl-C');
    });
  });

  it('runs ganesha from the SDK image when this machine has none', { skip: guestImages().includes('localhost/avocado-sdk:test-nfs') ? undefined : 'the guest disk holds no localhost/avocado-sdk:test-nfs: run .ci/sdk-image.sh nfs, then .ci/remote-host.sh' }, () => {
    const p = new TestProject(yaml('squashfs', 'test-nfs'), 'avocado-rtest-');
    const bin = mkdtempSync(join(tmpdir(), 'avocado-path-'));
    try {
      const sysroot = p.makeSysroot('qemux86-64', 'app');
      writeReleaseFiles(sysroot, 'app-1.0.0');
      mkdirSync(join(sysroot, 'usr/bin'), { recursive: true });
      writeFileSync(join(sysroot, 'usr/bin/hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
      const r = remoteBuild(p, [], { PATH: pathWithoutGanesha(bin), AVOCADO_CONTAINER_TOOL: 'podman' });
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.remote.nfsServer, 'ganesha.nfsd in localhost/avocado-sdk:test-nfs (podman on this machine)');
      const local = p.run(['ext', 'image', 'app', '--engine', 'container', '--json'], LOCAL);
      assert.equal(JSON.parse(local.stdout).image.sha256, doc.image.sha256);
      assertClean('a build with ganesha in the SDK image');
    } finally {
      rmSync(bin, { recursive: true, force: true });
      p.remove();
    }
  });
});
