/*
 * POSIX behaviour of scoutfs through a real FUSE mount made with the
 * `scoutfs` command (mkfs, mount -o metadev_path=..., umount), driven
 * with ordinary tools, python3 (for calls the shell has no tool for:
 * renameat2, O_TMPFILE + linkat, lseek SEEK_DATA/SEEK_HOLE, mmap) and as
 * non-root users through setpriv, so the kernel's permission checks
 * (default_permissions, with POSIX ACLs) are what is tested.
 *
 * One filesystem is mounted for the whole file; each test works in its
 * own directory.  The last test remounts with noacl.  Needs root and
 * /dev/fuse, python3, setpriv, setfacl (package acl) and setfattr
 * (package attr); skipped otherwise.  Never leaves a mount or a daemon
 * behind (cleanupMount in the after hook).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { cleanupMount, makeCliFs, scoutfs, type CliFs } from "./support/cli_harness.js";

const PYTHON = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const USER_A = 1000;
const USER_B = 1001;
const FUSE_SUPER_MAGIC = "65735546";

function hasTool(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
}

function skipReason(): string | null {
  const fuse = fuseSkipReason();
  if (fuse) return fuse;
  for (const t of ["setpriv", "setfacl", "getfacl", "setfattr", "getfattr", "mkfifo", "fallocate"]) {
    if (!hasTool(t)) return `${t} is not installed`;
  }
  if (spawnSync(PYTHON, ["-c", "1"]).status !== 0) return "no python3";
  return null;
}

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

function spawnOut(file: string, args: string[], cwd: string): Out {
  const r = spawnSync(file, args, { cwd, encoding: "utf8", timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

let cfs: CliFs;
/** the mount point (a path any user can reach) */
let mnt: string;

/** run a shell command as root in dir (relative to the mount); its stdout, or throw */
function sh(cmd: string, dir = "."): string {
  const r = spawnOut("sh", ["-ec", cmd], path.join(mnt, dir));
  if (r.code !== 0) throw new Error(`sh ${JSON.stringify(cmd)} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** run a shell command as uid (gid the same, no other groups, umask 022) in dir; never throws */
function asUser(uid: number, cmd: string, dir = "."): Out {
  return spawnOut("setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "sh", "-ec", `umask 022; ${cmd}`], path.join(mnt, dir));
}

function expectDenied(r: Out, message: RegExp): void {
  assert.notEqual(r.code, 0, `expected failure, got: ${r.stdout}`);
  assert.match(r.stderr, message);
}

/*
 * A python3 script (its lines) run as root in dir; it has `err(f, *a)`
 * (the errno name f raised, or "ok"), `out(x)` (print x as JSON; py
 * returns x), `libc` and `check(r)` (raise errno unless the libc call
 * returned 0).
 */
function py(lines: string[], dir = "."): unknown {
  const prelude = [
    "import os, sys, json, errno, ctypes, socket, mmap",
    "def err(f, *a):",
    "    try:",
    "        f(*a)",
    "        return 'ok'",
    "    except OSError as e:",
    "        return errno.errorcode[e.errno]",
    "def out(x):",
    "    print(json.dumps(x))",
    "libc = ctypes.CDLL(None, use_errno=True)",
    "def check(r):",
    "    if r != 0:",
    "        e = ctypes.get_errno()",
    "        raise OSError(e, os.strerror(e))",
    "",
  ].join("\n");
  const r = spawnOut(PYTHON, ["-c", prelude + lines.join("\n")], path.join(mnt, dir));
  if (r.code !== 0) throw new Error(`python failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}

const stat = (fmt: string, ...files: string[]): string[] => sh(`stat -c '${fmt}' ${files.join(" ")}`).trim().split("\n");

async function mountFs(options: string): Promise<void> {
  const r = await scoutfs("mount", "-o", `metadev_path=${cfs.meta}${options}`, cfs.data, mnt);
  assert.equal(r.code, 0, `mount: ${r.stderr}`);
}

async function umountFs(): Promise<void> {
  const r = await scoutfs("umount", mnt);
  assert.equal(r.code, 0, `umount: ${r.stderr}`);
}

const skip = skipReason();

describe("POSIX through a scoutfs FUSE mount", { skip: skip ?? false, timeout: 120_000 }, () => {
  before(async () => {
    cfs = await makeCliFs("fuse-posix-", "64M", "256M");
    fs.chmodSync(cfs.tmp, 0o755); // other users must reach the mount
    mnt = cfs.mnt;
    await mountFs("");
    sh("chmod 755 .");
  });

  after(async () => {
    if (!cfs) return;
    await cleanupMount(cfs.mnt, cfs.meta);
    fs.rmSync(cfs.tmp, { recursive: true, force: true });
  });

  test("permissions and ownership as non-root users", () => {
    sh("mkdir perm open && chmod 755 perm && chmod 777 open && echo secret > perm/f && chmod 600 perm/f");
    expectDenied(asUser(USER_A, "touch perm/x"), /Permission denied/);
    expectDenied(asUser(USER_A, "cat perm/f"), /Permission denied/);
    assert.equal(asUser(USER_A, "ls perm").stdout, "f\n");
    assert.equal(asUser(USER_A, "touch open/mine && stat -c '%u %g %a' open/mine").stdout, `${USER_A} ${USER_A} 644\n`);
    expectDenied(asUser(USER_B, "chmod 777 open/mine"), /Operation not permitted/);
    expectDenied(asUser(USER_A, `chown ${USER_B} open/mine`), /Operation not permitted/);
    expectDenied(asUser(USER_B, "echo x >> open/mine"), /Permission denied/);
    assert.equal(asUser(USER_A, "chmod 600 open/mine && echo mine >> open/mine && cat open/mine").stdout, "mine\n");
    expectDenied(asUser(USER_B, "cat open/mine"), /Permission denied/);
    sh(`chown ${USER_B}:${USER_B} open/mine`);
    assert.deepEqual(stat("%u %g %a", "open/mine"), [`${USER_B} ${USER_B} 600`]);
    expectDenied(asUser(USER_A, "cat open/mine"), /Permission denied/);
    assert.equal(asUser(USER_B, "cat open/mine").stdout, "mine\n");
    sh("chmod 711 perm");
    expectDenied(asUser(USER_A, "ls perm"), /Permission denied/);
    sh("chmod 700 perm");
    expectDenied(asUser(USER_A, "stat perm/f"), /Permission denied/);
    // a setgid directory gives new inodes its group, and new directories its setgid bit
    sh(`mkdir sgid && chgrp ${USER_B} sgid && chmod 2777 sgid`);
    asUser(USER_A, "touch sgid/f && mkdir sgid/d");
    assert.deepEqual(stat("%g %a", "sgid/f", "sgid/d"), [`${USER_B} 644`, `${USER_B} 2755`]);
  });

  test("setuid and setgid are cleared by an unprivileged write and chown", () => {
    sh("mkdir sid && chmod 777 sid && cd sid && touch w g r c && chmod 6777 w && chmod 2766 g && chmod 4755 r");
    sh(`chown ${USER_A}:${USER_A} sid/c && chmod 6775 sid/c`);
    assert.equal(asUser(USER_A, "echo data >> sid/w").code, 0);
    assert.deepEqual(stat("%a", "sid/w"), ["777"]);
    // setgid without group execute is not a privilege: a write keeps it
    assert.equal(asUser(USER_A, "echo data >> sid/g").code, 0);
    assert.deepEqual(stat("%a", "sid/g"), ["2766"]);
    // root (CAP_FSETID) writing keeps both
    sh("echo data >> sid/r");
    assert.deepEqual(stat("%a", "sid/r"), ["4755"]);
    assert.equal(asUser(USER_A, `chown ${USER_A}:${USER_A} sid/c`).code, 0);
    assert.deepEqual(stat("%a", "sid/c"), ["775"]);
  });

  test("sticky directories: only the owner removes or renames", () => {
    sh("mkdir sticky && chmod 1777 sticky");
    assert.equal(asUser(USER_A, "touch sticky/a && mkdir sticky/ad").code, 0);
    expectDenied(asUser(USER_B, "rm -f sticky/a"), /Operation not permitted/);
    expectDenied(asUser(USER_B, "mv sticky/a sticky/b"), /Operation not permitted/);
    expectDenied(asUser(USER_B, "rmdir sticky/ad"), /Operation not permitted/);
    assert.equal(asUser(USER_B, "touch sticky/b && rm sticky/b").code, 0, "own files go");
    assert.equal(sh("ls sticky"), "a\nad\n");
    assert.equal(asUser(USER_A, "rm sticky/a && rmdir sticky/ad").code, 0);
    sh("chmod 0777 sticky && touch sticky/root");
    assert.equal(asUser(USER_B, "rm -f sticky/root").code, 0, "without sticky anyone with write permission removes");
  });

  test("every file type", () => {
    sh("mkdir types && cd types && echo r > reg && mkdir dir && ln -s reg sym && mkfifo fifo && mknod null c 1 3 && mknod zero c 1 5 && mknod blk b 7 0");
    const echo = py(
      [
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind('sock'); s.listen(1)",
        "c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c.connect('sock'); a, _ = s.accept()",
        "c.sendall(b'ping'); out(a.recv(4).decode())",
      ],
      "types",
    );
    assert.equal(echo, "ping");
    assert.deepEqual(stat("%n %F", "types/reg", "types/dir", "types/sym", "types/fifo", "types/null", "types/blk", "types/sock"), [
      "types/reg regular file",
      "types/dir directory",
      "types/sym symbolic link",
      "types/fifo fifo",
      "types/null character special file",
      "types/blk block special file",
      "types/sock socket",
    ]);
    assert.deepEqual(stat("%t %T", "types/null", "types/zero", "types/blk"), ["1 3", "1 5", "7 0"]);
    assert.equal(sh("readlink sym && cat sym", "types"), "reg\nr\n");
    assert.equal(sh("(echo through > fifo &) && timeout 10 cat fifo", "types"), "through\n");
    assert.equal(sh("echo gone > null && head -c 4 zero | od -An -tx1", "types").trim(), "00 00 00 00");
    assert.equal(sh("ls -l | tail -n +2 | cut -c1 | sort | tr -d '\\n'", "types"), "-bccdlps");
  });

  test("hard links across directories and link counts", () => {
    sh("mkdir -p hl/a hl/b && echo one > hl/a/f && ln hl/a/f hl/b/g");
    const [f, g] = stat("%i %h", "hl/a/f", "hl/b/g");
    assert.equal(f, g);
    assert.match(f!, / 2$/);
    sh("echo more >> hl/b/g");
    assert.equal(sh("cat hl/a/f"), "one\nmore\n");
    assert.deepEqual(stat("%h", "hl", "hl/a"), ["4", "2"]);
    sh("mkdir hl/a/x hl/a/y");
    assert.deepEqual(stat("%h", "hl/a"), ["4"]);
    sh("rmdir hl/a/x && rm hl/a/f");
    assert.deepEqual(stat("%h", "hl/a", "hl/b/g"), ["3", "1"]);
    assert.equal(sh("cat hl/b/g"), "one\nmore\n");
    assert.deepEqual(py(["out([err(os.link, 'hl/a', 'hl/c'), err(os.link, 'hl/b/g', 'hl/a/y'), err(os.link, 'hl/nope', 'hl/z')])"]), [
      "EPERM",
      "EEXIST",
      "ENOENT",
    ]);
    // the link survives a rename of its other name's directory
    sh("ln hl/b/g hl/a/y/h && mv hl/b hl/bb");
    assert.deepEqual(stat("%h", "hl/a/y/h"), ["2"]);
  });

  test("rename: replace, directories, NOREPLACE, EXCHANGE", () => {
    sh("mkdir rn && cd rn && echo old > t && echo new > s && mkdir d1 d2 d3 d4 e && touch d1/in d4/x && echo file > file");
    const r = py(
      [
        "renameat2 = lambda a, b, flags: check(libc.renameat2(-100, a.encode(), -100, b.encode(), flags))",
        "res = {}",
        "ino_s = os.stat('s').st_ino",
        "res['replace'] = err(os.rename, 's', 't')",
        "res['replaced'] = [open('t').read(), os.stat('t').st_ino == ino_s, os.path.exists('s')]",
        "res['dirOverEmpty'] = err(os.rename, 'd1', 'd2')",
        "res['moved'] = [os.path.exists('d1'), os.listdir('d2')]",
        "res['dirOverFull'] = err(os.rename, 'd3', 'd4')",
        "res['fileOverDir'] = err(os.rename, 'file', 'd3')",
        "res['dirOverFile'] = err(os.rename, 'd3', 'file')",
        "res['underItself'] = err(os.rename, 'd2', 'd2/sub')",
        "open('a', 'w').write('A'); open('b', 'w').write('B')",
        "res['noreplace'] = err(renameat2, 'a', 'b', 1)",
        "res['noreplaceNew'] = err(renameat2, 'a', 'c', 1)",
        "res['exchange'] = err(renameat2, 'c', 'b', 2)",
        "res['swapped'] = [open('b').read(), open('c').read()]",
        "res['exchangeMissing'] = err(renameat2, 'c', 'zz', 2)",
        "res['both'] = err(renameat2, 'b', 'c', 3)",
        "nl = lambda p: os.stat(p).st_nlink",
        "before = [nl('.'), nl('e')]",
        "res['exchangeDirFile'] = err(renameat2, 'd2', 'c', 2)",
        "res['types'] = [os.path.isdir('c'), os.path.isfile('d2')]",
        "res['links'] = [before, [nl('.'), nl('e')]]",
        "os.rename('c', 'e/moved')",
        "res['crossDirLinks'] = [nl('.'), nl('e')]",
        "res['exchangeCross'] = err(renameat2, 'e/moved', 'b', 2)",
        "res['crossExLinks'] = [nl('.'), nl('e'), os.path.isdir('b'), os.path.isfile('e/moved')]",
        "out(res)",
      ],
      "rn",
    );
    assert.deepEqual(r, {
      replace: "ok",
      replaced: ["new\n", true, false],
      dirOverEmpty: "ok",
      moved: [false, ["in"]],
      dirOverFull: "ENOTEMPTY",
      fileOverDir: "EISDIR",
      dirOverFile: "ENOTDIR",
      underItself: "EINVAL",
      noreplace: "EEXIST",
      noreplaceNew: "ok",
      exchange: "ok",
      swapped: ["A", "B"],
      exchangeMissing: "ENOENT",
      both: "EINVAL",
      exchangeDirFile: "ok",
      types: [true, true],
      links: [
        [6, 2],
        [6, 2],
      ],
      crossDirLinks: [5, 3],
      exchangeCross: "ok",
      crossExLinks: [6, 2, true, true],
    });
  });

  test("O_TMPFILE, linkat, O_APPEND, O_EXCL", () => {
    sh("mkdir of");
    const r = py(
      [
        "# linkat(AT_FDCWD, /proc/self/fd/N, AT_FDCWD, name, AT_SYMLINK_FOLLOW)",
        "link_fd = lambda fd, name: check(libc.linkat(-100, ('/proc/self/fd/%d' % fd).encode(), -100, name.encode(), 0x400))",
        "res = {}",
        "fd = os.open('.', os.O_TMPFILE | os.O_RDWR, 0o640)",
        "os.write(fd, b'tmp data')",
        "res['unnamed'] = [os.fstat(fd).st_nlink, os.listdir('.')]",
        "link_fd(fd, 'named')",
        "res['named'] = [os.fstat(fd).st_nlink, os.listdir('.'), open('named').read(), oct(os.stat('named').st_mode & 0o777)]",
        "os.close(fd)",
        "fd = os.open('.', os.O_TMPFILE | os.O_RDWR | os.O_EXCL, 0o600)",
        "res['exclLink'] = err(link_fd, fd, 'never')",
        "os.close(fd)",
        "fd1 = os.open('f', os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)",
        "res['exclAgain'] = err(os.open, 'f', os.O_WRONLY | os.O_CREAT | os.O_EXCL)",
        "os.symlink('dangling', 'sym')",
        "res['exclSymlink'] = err(os.open, 'sym', os.O_WRONLY | os.O_CREAT | os.O_EXCL)",
        "fd2 = os.open('f', os.O_WRONLY | os.O_APPEND)",
        "os.write(fd1, b'aaaa'); os.write(fd2, b'bb'); os.write(fd1, b'c'); os.write(fd2, b'dd')",
        "os.lseek(fd2, 0, os.SEEK_SET); os.write(fd2, b'ee')",
        "res['append'] = open('f').read()",
        "res['list'] = sorted(os.listdir('.'))",
        "out(res)",
      ],
      "of",
    );
    assert.deepEqual(r, {
      unnamed: [0, []],
      named: [1, ["named"], "tmp data", "0o640"],
      exclLink: "ENOENT",
      exclAgain: "EEXIST",
      exclSymlink: "EEXIST",
      append: "aaaacbddee",
      list: ["f", "named", "sym"],
    });
  });

  test("truncate, ftruncate, fallocate, sparse files and SEEK_DATA/SEEK_HOLE", () => {
    sh("mkdir tr && cd tr && truncate -s 10000 t && fallocate -l 1M fa && fallocate -n -o 1M -l 1M fa");
    assert.deepEqual(stat("%s", "tr/t"), ["10000"]);
    sh("cmp -n 10000 tr/t /dev/zero");
    const [size, blocks] = stat("%s %b", "tr/fa")[0]!.split(" ").map(Number);
    assert.equal(size, 1 << 20, "KEEP_SIZE leaves the size");
    assert.ok(blocks! * 512 >= 2 << 20, `blocks ${blocks} cover both ranges`);
    const punch = spawnOut("fallocate", ["-p", "-o", "0", "-l", "4096", "fa"], path.join(mnt, "tr"));
    assert.notEqual(punch.code, 0);
    assert.match(punch.stderr, /unsupported|not supported/, "scoutfs has no hole punching (nor does the original)");
    expectDenied(asUser(USER_A, "truncate -s 0 tr/t"), /Permission denied/);
    const r = py(
      [
        "res = {}",
        "fd = os.open('s', os.O_RDWR | os.O_CREAT, 0o644)",
        "os.write(fd, b'abcdef'); os.ftruncate(fd, 3)",
        "res['shrunk'] = open('s', 'rb').read().decode()",
        "os.ftruncate(fd, 8192)",
        "res['grown'] = open('s', 'rb').read() == b'abc' + bytes(8189)",
        "os.close(fd)",
        "fd = os.open('sparse', os.O_RDWR | os.O_CREAT, 0o644)",
        "M = 1 << 20",
        "os.pwrite(fd, b'x' * 4096, 0); os.pwrite(fd, b'y' * 4096, M)",
        "st = os.fstat(fd)",
        "res['size'] = st.st_size; res['sparse'] = st.st_blocks * 512 < M",
        "res['seek'] = [os.lseek(fd, 0, os.SEEK_HOLE), os.lseek(fd, 4096, os.SEEK_DATA), os.lseek(fd, M, os.SEEK_HOLE), os.lseek(fd, 10, os.SEEK_DATA)]",
        "res['pastEnd'] = err(os.lseek, fd, M + 4096, os.SEEK_DATA)",
        "res['hole'] = os.pread(fd, 8192, 8192) == bytes(8192)",
        "res['truncDir'] = err(os.truncate, '.', 0)",
        "res['tooBig'] = [err(os.ftruncate, fd, 1 << 60), err(os.pwrite, fd, b'z', 1 << 60), err(os.posix_fallocate, fd, 1 << 60, 4096)]",
        "out(res)",
      ],
      "tr",
    );
    assert.deepEqual(r, {
      shrunk: "abc",
      grown: true,
      size: (1 << 20) + 4096,
      sparse: true,
      seek: [4096, 1 << 20, (1 << 20) + 4096, 10],
      pastEnd: "ENXIO",
      hole: true,
      truncDir: "EISDIR",
      tooBig: ["EFBIG", "EFBIG", "EFBIG"],
    });
  });

  test("copy_file_range: within and across files, short at end of file, page cache of the target dropped", async () => {
    const res = py([
      "M = 1 << 20",
      "src = bytes((i * 7 + 3) % 251 for i in range(3 * M + 123))",
      "with open('cfr-src', 'wb') as f: f.write(src)",
      "dst = os.open('cfr-dst', os.O_RDWR | os.O_CREAT, 0o644)",
      "os.write(dst, b'x' * 10)",
      "os.pread(dst, 10, 0)  # cached in the kernel before the copy",
      "s = os.open('cfr-src', os.O_RDONLY)",
      "n1 = os.copy_file_range(s, dst, 5, 0, 0)",
      "n2 = os.copy_file_range(s, dst, 10 * M, 2 * M, 2 * M)",
      "data = os.pread(dst, 4 * M, 0)",
      "same = os.open('cfr-src', os.O_RDWR)",
      "overlap = err(os.copy_file_range, same, same, 50, 0, 20)",
      "n3 = os.copy_file_range(same, same, 100, 0, 3 * M)",
      "tail = os.pread(same, 100, 3 * M)",
      "ok = data[:5] == src[:5] and data[5:10] == b'xxxxx' and data[10:2*M] == bytes(2*M - 10) and data[2*M:] == src[2*M:]",
      "out({'n1': n1, 'n2': n2, 'ok': ok, 'size': os.fstat(dst).st_size, 'overlap': overlap, 'n3': n3, 'tail': tail == src[:100]})",
    ]) as { n1: number; n2: number; ok: boolean; size: number; overlap: string; n3: number; tail: boolean };
    assert.equal(res.n1, 5);
    assert.equal(res.n2, (3 << 20) + 123 - (2 << 20), "short at the input's end of file");
    assert.equal(res.size, (3 << 20) + 123);
    assert.ok(res.ok, "copied bytes read back through the page cache");
    assert.equal(res.overlap, "EINVAL", "overlapping ranges of one file");
    assert.equal(res.n3, 100);
    assert.ok(res.tail);
    // served by the daemon, not by the kernel falling back to read and write
    const c = await scoutfs("counters", mnt);
    const served = /^fuse_op_copy_file_range(?:_64)?\s+(\d+)$/m.exec(c.stdout);
    assert.ok(served && Number(served[1]) >= 3, c.stdout);
  });

  test("mmap shared writes agree with read and write; fsync", () => {
    sh("mkdir mm");
    const r = py(
      [
        "res = {}",
        "fd = os.open('m', os.O_RDWR | os.O_CREAT, 0o644); os.ftruncate(fd, 8192)",
        "mm = mmap.mmap(fd, 8192, mmap.MAP_SHARED)",
        "mm[0:5] = b'abcde'; mm[4096:4099] = b'xyz'",
        "res['readSeesMmap'] = os.pread(fd, 5, 0).decode()",
        "os.pwrite(fd, b'XY', 1)",
        "res['mmapSeesWrite'] = mm[0:5].decode()",
        "mm.flush(); mm.close()",
        "os.fsync(fd); os.fdatasync(fd)",
        "os.close(fd)",
        "res['afterClose'] = open('m', 'rb').read(4099)[4096:].decode()",
        "d = os.open('.', os.O_RDONLY); os.fsync(d); os.close(d)",
        "ro = os.open('m', os.O_RDONLY); m2 = mmap.mmap(ro, 8192, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)",
        "m2[0:1] = b'P'; res['private'] = [m2[0:1].decode(), os.pread(ro, 1, 0).decode()]",
        "out(res)",
      ],
      "mm",
    );
    assert.deepEqual(r, { readSeesMmap: "abcde", mmapSeesWrite: "aXYde", afterClose: "xyz", private: ["P", "a"] });
    sh("sync -f mm/m");
  });

  test("xattrs with setfattr and getfattr", () => {
    sh("mkdir xa && echo f > xa/f && setfattr -n user.color -v blue xa/f && setfattr -n user.bin -v 0x000102ff xa/f");
    assert.equal(sh("getfattr --only-values -n user.color xa/f"), "blue");
    assert.match(sh("getfattr -e hex -n user.bin xa/f"), /user\.bin=0x000102ff/);
    assert.match(sh("getfattr -d xa/f"), /user\.bin=.*\nuser\.color="blue"/s);
    sh("setfattr -x user.color xa/f");
    const gone = spawnOut("getfattr", ["-n", "user.color", "xa/f"], mnt);
    assert.match(gone.stderr, /No such attribute/);
    expectDenied(asUser(USER_A, "setfattr -n user.mine -v x xa/f"), /Permission denied/);
    sh("setfattr -n trusted.t -v secret xa/f");
    assert.doesNotMatch(asUser(USER_A, "getfattr -d -m - xa/f").stdout, /trusted/);
    assert.match(sh("getfattr -d -m - xa/f"), /trusted\.t="secret"/);
  });

  test("statfs, name lengths and errors: ENAMETOOLONG ENOTDIR EISDIR ELOOP EXDEV", () => {
    // the kernel's FUSE reports its own magic: scoutfs's 0x554f4353 cannot show through a FUSE mount
    assert.equal(sh("stat -f -c '%t %l' .").trim(), `${FUSE_SUPER_MAGIC} 255`);
    assert.ok(Number(sh("stat -f -c %b .").trim()) > 0);
    sh("mkdir nm");
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "fuse-posix-outside-"));
    try {
      const r = py(
        [
          "res = {}",
          "res['name255'] = err(lambda: open('a' * 255, 'w').close())",
          "res['name256'] = [err(os.open, 'b' * 256, os.O_CREAT | os.O_WRONLY), err(os.mkdir, 'c' * 256), err(os.rename, 'a' * 255, 'd' * 256)]",
          "open('file', 'w').write('x'); os.mkdir('dir')",
          "res['enotdir'] = [err(os.mkdir, 'file/x'), err(os.open, 'file/x', os.O_RDONLY), err(os.rmdir, 'file'), err(os.listdir, 'file')]",
          "res['eisdir'] = [err(os.open, 'dir', os.O_WRONLY), err(os.unlink, 'dir')]",
          "os.symlink('l2', 'l1'); os.symlink('l1', 'l2'); os.symlink('file', 'tofile')",
          "res['eloop'] = [err(os.stat, 'l1'), err(os.open, 'tofile', os.O_RDONLY | os.O_NOFOLLOW)]",
          `res['exdev'] = [err(os.rename, 'file', ${JSON.stringify(outside + "/moved")}), err(os.link, 'file', ${JSON.stringify(outside + "/linked")})]`,
          "out(res)",
        ],
        "nm",
      );
      assert.deepEqual(r, {
        name255: "ok",
        name256: ["ENAMETOOLONG", "ENAMETOOLONG", "ENAMETOOLONG"],
        enotdir: ["ENOTDIR", "ENOTDIR", "ENOTDIR", "ENOTDIR"],
        eisdir: ["EISDIR", "EISDIR"],
        eloop: ["ELOOP", "ELOOP"],
        exdev: ["EXDEV", "EXDEV"],
      });
      assert.equal(sh("ls nm").split("\n")[0]!.length, 255);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  test("timestamps: write, chmod, utimensat with nanoseconds, relatime", () => {
    sh("mkdir ts && echo a > ts/f && mkdir ts/d && chmod 666 ts/f");
    const r = py(
      [
        "import time",
        "res = {}",
        "os.utime('f', ns=(1_000_000_123, 2_000_000_456))",
        "st = os.stat('f'); res['utime'] = [st.st_atime_ns, st.st_mtime_ns]",
        "c0 = st.st_ctime_ns",
        "time.sleep(0.02)",
        "open('f', 'a').write('b')",
        "st = os.stat('f'); res['write'] = [st.st_mtime_ns > 2_000_000_456, st.st_ctime_ns > c0, st.st_mtime_ns == st.st_ctime_ns]",
        "m1, c1 = st.st_mtime_ns, st.st_ctime_ns",
        "open('e', 'w').close(); e0 = os.stat('e')",
        "time.sleep(0.02)",
        "os.close(os.open('e', os.O_WRONLY | os.O_TRUNC))",
        "e1 = os.stat('e'); res['truncEmpty'] = [e1.st_mtime_ns > e0.st_mtime_ns, e1.st_ctime_ns > e0.st_ctime_ns]",
        "time.sleep(0.02)",
        "os.chmod('f', 0o644)",
        "st = os.stat('f'); res['chmod'] = [st.st_mtime_ns == m1, st.st_ctime_ns > c1]",
        "os.utime('f', ns=(1_000_000_000, 3_000_000_000))",
        "open('f').read()",
        "a1 = os.stat('f').st_atime_ns",
        "res['relatimeRead'] = a1 > 3_000_000_000",
        "open('f').read()",
        "res['relatimeAgain'] = os.stat('f').st_atime_ns == a1",
        "os.utime('d', ns=(1_000_000_000, 3_000_000_000))",
        "os.listdir('d')",
        "res['relatimeReaddir'] = os.stat('d').st_atime_ns > 3_000_000_000",
        "out(res)",
      ],
      "ts",
    );
    assert.deepEqual(r, {
      utime: [1_000_000_123, 2_000_000_456],
      write: [true, true, true],
      chmod: [true, true],
      truncEmpty: [true, true],
      relatimeRead: true,
      relatimeAgain: true,
      relatimeReaddir: true,
    });
    sh("touch -d '2001-02-03 04:05:06.123456789 UTC' ts/f");
    assert.equal(sh("TZ=UTC stat -c %y ts/f").trim(), "2001-02-03 04:05:06.123456789 +0000");
    // a writer who is not the owner may set the times to now, not to a given time
    sh("chmod 666 ts/f");
    assert.equal(asUser(USER_A, "touch ts/f").code, 0);
    expectDenied(asUser(USER_A, "touch -d 2001-01-01 ts/f"), /Operation not permitted/);
  });

  test("POSIX ACLs: setfacl/getfacl, enforcement by the kernel, the mask, default ACLs, the umask", () => {
    sh("mkdir acl && chmod 755 acl && echo secret > acl/f && chmod 600 acl/f");
    expectDenied(asUser(USER_A, "cat acl/f"), /Permission denied/);
    sh(`setfacl -m u:${USER_A}:r acl/f`);
    assert.equal(asUser(USER_A, "cat acl/f").stdout, "secret\n");
    expectDenied(asUser(USER_B, "cat acl/f"), /Permission denied/);
    expectDenied(asUser(USER_A, "echo x >> acl/f"), /Permission denied/);
    const acl = sh("getfacl -nc acl/f");
    assert.equal(acl, `user::rw-\nuser:${USER_A}:r--\ngroup::---\nmask::r--\nother::---\n\n`);
    assert.deepEqual(stat("%a", "acl/f"), ["640"], "the group bits are the mask");
    // chmod sets the mask, and the kernel's cached ACL follows
    sh("chmod 600 acl/f");
    assert.match(sh("getfacl -nc acl/f"), new RegExp(`user:${USER_A}:r--\\s+#effective:---\\n.*mask::---`, "s"));
    expectDenied(asUser(USER_A, "cat acl/f"), /Permission denied/);
    sh("chmod 640 acl/f");
    assert.equal(asUser(USER_A, "cat acl/f").stdout, "secret\n");
    sh(`setfacl -m g:${USER_B}:rw acl/f`);
    assert.equal(asUser(USER_B, "echo more >> acl/f && cat acl/f").stdout, "secret\nmore\n");
    sh("setfacl -b acl/f");
    assert.equal(sh("getfacl -nc acl/f"), "user::rw-\ngroup::---\nother::---\n\n", "the owning group's own entry is back in the mode");
    assert.deepEqual(stat("%a", "acl/f"), ["600"]);
    expectDenied(asUser(USER_A, "cat acl/f"), /Permission denied/);
    assert.match(spawnOut("getfattr", ["-n", "system.posix_acl_access", "acl/f"], mnt).stderr, /No such attribute/);
    // an ACL no more than the mode only sets the mode
    sh("setfacl -m u::rwx,g::r-x,o::--x acl/f");
    assert.deepEqual(stat("%a", "acl/f"), ["751"]);
    assert.equal(sh("getfattr -m - -d acl/f"), "");
    expectDenied(asUser(USER_A, `setfacl -m u:${USER_A}:rwx acl/f`), /Operation not permitted/);
    // an owner outside the file's group loses setgid by setting an ACL (the kernel says so with SETXATTR_EXT)
    sh(`touch acl/sg acl/sgmine && chown ${USER_A}:${USER_B} acl/sg && chown ${USER_A}:${USER_A} acl/sgmine && chmod 2770 acl/sg acl/sgmine`);
    assert.equal(asUser(USER_A, `setfacl -m u:${USER_B}:r acl/sg acl/sgmine`).code, 0);
    assert.deepEqual(stat("%a", "acl/sg", "acl/sgmine"), ["770", "2770"]);
    const bad = spawnOut("setfattr", ["-n", "system.posix_acl_access", "-v", "0x02000000010007", "acl/f"], mnt);
    assert.match(bad.stderr, /Invalid argument/);

    // default ACLs: new inodes inherit, the umask is ignored; without one the umask applies
    sh(`mkdir acl/d && setfacl -d -m u:${USER_A}:rwx acl/d && cd acl/d && umask 077 && touch new && mkdir sub && mkfifo p`);
    assert.deepEqual(stat("%a", "acl/d/new", "acl/d/sub", "acl/d/p"), ["664", "775", "664"]);
    assert.equal(sh("getfacl -nc acl/d/new"), `user::rw-\nuser:${USER_A}:rwx\t#effective:rw-\ngroup::r-x\t#effective:r--\nmask::rw-\nother::r--\n\n`);
    assert.equal(sh("getfacl -ncd acl/d/sub"), sh("getfacl -ncd acl/d"));
    assert.equal(asUser(USER_A, "echo mine >> acl/d/new && cat acl/d/new").stdout, "mine\n");
    sh("cd acl && umask 077 && touch plain && mkdir plaindir");
    assert.deepEqual(stat("%a", "acl/plain", "acl/plaindir"), ["600", "700"]);
    sh("cd acl && umask 022 && ln -s new d/link");
    assert.deepEqual(stat("%a", "acl/d/link"), ["777"]);
  });

  test("noacl: ACL xattrs refused, stored ACLs kept but unused, the kernel applies the umask", async () => {
    sh(`mkdir keep && echo k > keep/f && chmod 600 keep/f && setfacl -m u:${USER_A}:r keep/f`);
    await umountFs();
    await mountFs(",noacl");
    assert.match(fs.readFileSync("/proc/mounts", "utf8"), new RegExp(`${mnt} fuse\\.scoutfs `));
    assert.match(spawnOut("getfattr", ["-n", "system.posix_acl_access", "keep/f"], mnt).stderr, /Operation not supported/);
    assert.match(spawnOut("setfacl", ["-m", `u:${USER_B}:r`, "keep/f"], mnt).stderr, /Operation not supported/);
    expectDenied(asUser(USER_A, "cat keep/f"), /Permission denied/);
    sh("cd keep && umask 027 && touch new && mkdir newdir");
    assert.deepEqual(stat("%a", "keep/new", "keep/newdir"), ["640", "750"]);
    assert.equal(sh("getfattr -m - -d keep/f"), "", "ACL names are not listed");
    await umountFs();
    await mountFs("");
    assert.equal(asUser(USER_A, "cat keep/f").stdout, "k\n", "the ACL is back with acl");
  });
});
