#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Model-level tests of the tern device, no guest needed.

Runs the rig's qemu-system-x86_64 with -accel qtest, programs PCI config
space through ECAM, and drives the PF admin queue and the VF engines by
register and guest-memory reads/writes, as a driver would. MSI-X messages
are pointed at guest RAM so that each interrupt is observable as a memory
write. Constants come from include/linux/tern/tern_if.h (parsed here, so
the test cannot drift from the ABI). Prints TAP.

    tools/qemu/tern-qtest/tern_qtest.py [path/to/qemu-system-x86_64]
"""
import base64
import os
import platform
import re
import struct
import subprocess
import sys
import tempfile
import traceback

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


# ---- ABI constants from the header ------------------------------------------

def load_abi():
    text = open(os.path.join(TOP, 'include/linux/tern/tern_if.h')).read()
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    ns = {}
    for m in re.finditer(r'#define\s+(TERN_\w+)\s+(.+)', text):
        name, val = m.group(1), m.group(2).strip()
        if '(' in name or 'sizeof' in val or name.endswith('CHECK_SIZE'):
            continue
        val = re.sub(r'(0x[0-9a-fA-F]+|\d+)(u?ll|u)\b', r'\1', val)
        try:
            ns[name] = eval(val, {}, ns)
        except Exception:
            pass
    for m in re.finditer(r'\b(TERN_\w+)\s*=\s*(0x[0-9a-fA-F]+|\d+)\s*,', text):
        ns[m.group(1)] = int(m.group(2), 0)
    for m in re.finditer(r'#define\s+(TERN_\w+)\((\w+)\)\s+(.+)', text):
        ns[m.group(1)] = eval('lambda %s: %s' % (m.group(2), m.group(3)))
    # TERN_OPCODES(op): the commands' names, as the drivers print them
    body = re.search(r'#define\s+TERN_OPCODES\(.*?[^\\]\n', text, re.S)[0]
    ns['TERN_OPCODE_LIST'] = re.findall(r'__VA_ARGS__\((\w+)\)', body)
    return ns


A = load_abi()
globals().update(A)


# ---- CRC-32C ----------------------------------------------------------------

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82f63b78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data, crc=0):
    crc ^= 0xffffffff
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc ^ 0xffffffff


assert crc32c(b'123456789') == 0xe3069283


# ---- qtest transport --------------------------------------------------------

class QTest:
    def __init__(self, qemu, args, stderr=None):
        cmd = [qemu, '-M', 'q35', '-accel', 'qtest', '-qtest', 'stdio',
               '-qtest-log', '/dev/null',
               '-display', 'none', '-nodefaults', '-m', '256M',
               '-L', '/usr/share/seabios', '-L', '/usr/share/qemu'] + args
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=stderr,
                                  text=True)

    def cmd(self, line):
        self.p.stdin.write(line + '\n')
        self.p.stdin.flush()
        while True:
            resp = self.p.stdout.readline()
            if not resp:
                raise RuntimeError('qemu exited')
            if resp.startswith('IRQ'):
                continue
            resp = resp.strip()
            if not resp.startswith('OK'):
                raise RuntimeError('%s -> %s' % (line, resp))
            return resp[3:]

    def outl(self, port, v): self.cmd('outl 0x%x 0x%x' % (port, v))
    def readl(self, a): return int(self.cmd('readl 0x%x' % a), 16)
    def readq(self, a): return int(self.cmd('readq 0x%x' % a), 16)
    def writel(self, a, v): self.cmd('writel 0x%x 0x%x' % (a, v))
    def writeq(self, a, v): self.cmd('writeq 0x%x 0x%x' % (a, v))
    def readw(self, a): return int(self.cmd('readw 0x%x' % a), 16)
    def writew(self, a, v): self.cmd('writew 0x%x 0x%x' % (a, v))
    def writeb(self, a, v): self.cmd('writeb 0x%x 0x%x' % (a, v))

    def mem_read(self, a, n):
        return base64.b64decode(self.cmd('b64read 0x%x 0x%x' % (a, n)))

    def mem_write(self, a, data):
        if data:
            self.cmd('b64write 0x%x 0x%x %s' %
                     (a, len(data), base64.b64encode(data).decode()))

    def memset(self, a, n, v=0):
        self.cmd('memset 0x%x 0x%x 0x%x' % (a, n, v))

    def step(self, ns=2000000):
        self.cmd('clock_step %d' % ns)

    def close(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


# ---- machine layout ---------------------------------------------------------

ECAM = 0xb0000000
PF_BAR0 = 0xc0000000
PF_BAR4 = 0xc0001000
VF_BAR0 = 0x100000000          # VF i: + i * 4 KiB
VF_BAR4 = 0x100010000
VF_BAR2 = 0x104000000          # VF i: + i * devmem
DEVMEM = 4 << 20
NVFS = 3

MSI_PF = 0x3f0000               # MSI-X messages land here (one dword each)
MSI_VF = 0x3f0100               # VF i vector v: + i * 0x10 + v * 4
SQ = 0x200000
CQ = 0x201000
SGL = 0x202000
BUF = 0x400000                  # admin data buffers
BUF2 = 0x600000
HOST = 0x800000                 # engine test area, 8 MiB
RING = 0x1000000                # VF i ring: + i * 0x10000, cpl + 0x8000


def cfg(bus, devfn, off):
    return ECAM + (bus << 20) + (devfn << 12) + off


class Rig:
    def __init__(self, qemu, extra=''):
        self.q = QTest(qemu, [
            '-device', 'pcie-root-port,id=rp,chassis=1,addr=1.0',
            '-device', 'tern-pf,bus=rp,addr=0.0,vfs=%d,devmem-mb=%d,'
            'fault-injection=on%s' % (NVFS, DEVMEM >> 20, extra)])
        q = self.q
        # q35 PCIEXBAR: ECAM at 0xb0000000, 256 buses
        q.outl(0xcf8, 0x80000060)
        q.outl(0xcfc, ECAM | 1)
        q.outl(0xcf8, 0x80000064)
        q.outl(0xcfc, 0)
        rp = (0, 1 << 3)
        q.writel(cfg(*rp, 0x18), 0x010100)              # buses 0 / 1 / 1
        q.writew(cfg(*rp, 0x20), 0xc000)                # mem window
        q.writew(cfg(*rp, 0x22), 0xc0f0)
        q.writew(cfg(*rp, 0x24), 0x0001)                # pref64 window
        q.writel(cfg(*rp, 0x28), 0x1)
        q.writew(cfg(*rp, 0x26), 0x3ff1)
        q.writel(cfg(*rp, 0x2c), 0x1)
        q.writew(cfg(*rp, 0x04), 0x6)
        pf = (1, 0)
        q.writel(cfg(*pf, 0x10), PF_BAR0)
        q.writel(cfg(*pf, 0x20), PF_BAR4)
        q.writew(cfg(*pf, 0x04), 0x6)
        self.msix_setup(PF_BAR4, cfg(*pf, 0x70), [MSI_PF])
        # SR-IOV
        sr = 0x160
        assert q.readw(cfg(*pf, sr + 0x0e)) == NVFS
        q.writew(cfg(*pf, sr + 0x10), NVFS)
        q.writel(cfg(*pf, sr + 0x24), VF_BAR0 & 0xffffffff)
        q.writel(cfg(*pf, sr + 0x28), VF_BAR0 >> 32)
        q.writel(cfg(*pf, sr + 0x2c), VF_BAR2 & 0xffffffff)
        q.writel(cfg(*pf, sr + 0x30), VF_BAR2 >> 32)
        q.writel(cfg(*pf, sr + 0x34), VF_BAR4 & 0xffffffff)
        q.writel(cfg(*pf, sr + 0x38), VF_BAR4 >> 32)
        q.writew(cfg(*pf, sr + 0x08), 0x9)              # VF Enable, MSE
        for i in range(NVFS):
            self.vf_pci_setup(i)
        self.cid = 0
        self.done = {}
        self.admin_setup()

    def vf_pci_setup(self, i):
        q = self.q
        q.writew(cfg(1, 1 + i, 0x04), 0x6)
        self.msix_setup(VF_BAR4 + i * 0x1000, cfg(1, 1 + i, 0x70),
                        [MSI_VF + i * 0x10, MSI_VF + i * 0x10 + 4])

    def msix_setup(self, table, cap, addrs):
        q = self.q
        for v, a in enumerate(addrs):
            q.writel(table + v * 16, a)
            q.writel(table + v * 16 + 4, 0)
            q.writel(table + v * 16 + 8, 0x1000 + v)    # data
            q.writel(table + v * 16 + 12, 0)            # unmasked
            q.writel(a, 0)
        q.writew(cap + 2, 0x8000)

    # ---- admin queue ----

    def admin_setup(self, size=16):
        q = self.q
        self.sq_size = self.cq_size = size
        q.memset(SQ, size * 64)
        q.memset(CQ, size * 32)
        q.writel(PF_BAR0 + TERN_PF_REG_SQ_BASE_LO, SQ)
        q.writel(PF_BAR0 + TERN_PF_REG_SQ_BASE_HI, 0)
        q.writel(PF_BAR0 + TERN_PF_REG_SQ_SIZE, size)
        q.writel(PF_BAR0 + TERN_PF_REG_CQ_BASE_LO, CQ)
        q.writel(PF_BAR0 + TERN_PF_REG_CQ_BASE_HI, 0)
        q.writel(PF_BAR0 + TERN_PF_REG_CQ_SIZE, size)
        q.writel(PF_BAR0 + TERN_PF_REG_INTR_ENABLE, TERN_PF_INTR_ADMIN)
        q.writel(PF_BAR0 + TERN_PF_REG_CTRL, TERN_PF_CTRL_ENABLE)
        assert q.readl(PF_BAR0 + TERN_PF_REG_STATUS) == TERN_PF_STS_READY
        self.sq_tail = self.cq_head = 0
        self.phase = 1

    def submit(self, opcode, vf=TERN_VF_NONE, data=None, params=b'',
               sgl=None, flags=0):
        """Queue a command; data = (addr, len); sgl = [(addr, len), ...]."""
        self.cid = (self.cid + 1) & 0xffff
        addr, length, nsge = 0, 0, 0
        if sgl is not None:
            raw = b''.join(struct.pack('<QII', a, n, 0) for a, n in sgl)
            self.q.mem_write(SGL, raw)
            addr, length, nsge = SGL, sum(n for _, n in sgl), len(sgl)
            flags |= TERN_CMD_F_SGL
        elif data:
            addr, length = data
        cmd = struct.pack('<BBHHHQIHH', opcode, flags, self.cid, vf, 0,
                          addr, length, nsge, 0)
        cmd += params.ljust(40, b'\0')
        assert len(cmd) == 64
        self.q.mem_write(SQ + self.sq_tail * 64, cmd)
        self.sq_tail = (self.sq_tail + 1) % self.sq_size
        self.q.writel(PF_BAR0 + TERN_PF_REG_SQ_TAIL, self.sq_tail)
        return self.cid

    def poll(self):
        """Consume available completions: list of (cid, status, results)."""
        out = []
        while True:
            raw = self.q.mem_read(CQ + self.cq_head * 32, 32)
            r0, r1, r2, cid, sqh, st, fl = struct.unpack('<QQQHHHH', raw)
            if (fl & TERN_ADMIN_CPL_F_PHASE) != self.phase:
                break
            out.append((cid, st, (r0, r1, r2)))
            self.cq_head = (self.cq_head + 1) % self.cq_size
            if self.cq_head == 0:
                self.phase ^= 1
        if out:
            self.q.writel(PF_BAR0 + TERN_PF_REG_CQ_HEAD, self.cq_head)
        return out

    def wait(self, cid, steps=50):
        for _ in range(steps):
            if cid in self.done:
                return self.done.pop(cid)
            self.q.step()
            for c, st, res in self.poll():
                self.done[c] = (st, res)
        raise AssertionError('command %d did not complete' % cid)

    def run(self, opcode, vf=TERN_VF_NONE, expect=0, **kw):
        st, res = self.wait(self.submit(opcode, vf, **kw))
        if expect is not None:
            assert st == expect, 'opcode 0x%x: status 0x%x, expected 0x%x' % (
                opcode, st, expect)
        return st, res

    # ---- VF helpers ----

    def vf_reg(self, i, off):
        return VF_BAR0 + i * 0x1000 + off

    def devmem(self, i):
        return VF_BAR2 + i * DEVMEM

    def engine_setup(self, i, size=64):
        q = self.q
        ring = RING + i * 0x10000
        q.writel(self.vf_reg(i, TERN_VF_REG_ENGINE_CTRL), 0)
        q.memset(ring, 0x10000)
        q.writel(self.vf_reg(i, TERN_VF_REG_RING_BASE_LO), ring)
        q.writel(self.vf_reg(i, TERN_VF_REG_RING_BASE_HI), 0)
        q.writel(self.vf_reg(i, TERN_VF_REG_CPL_BASE_LO), ring + 0x8000)
        q.writel(self.vf_reg(i, TERN_VF_REG_CPL_BASE_HI), 0)
        q.writel(self.vf_reg(i, TERN_VF_REG_RING_SIZE), size)
        q.writel(self.vf_reg(i, TERN_VF_REG_INTR_ENABLE),
                 TERN_VF_INTR_JOB | TERN_VF_INTR_ERROR)
        q.writel(self.vf_reg(i, TERN_VF_REG_ENGINE_CTRL),
                 TERN_ENGINE_CTRL_ENABLE)
        assert q.readl(self.vf_reg(i, TERN_VF_REG_ENGINE_STATUS)) & \
            TERN_ENGINE_STS_ENABLED
        return {'vf': i, 'ring': ring, 'cpl': ring + 0x8000, 'size': size,
                'tail': 0, 'done': 0, 'phase': 1}

    def post(self, eng, op, length=0, src=0, dst=0, flags=TERN_DESC_F_INTR,
             cookie=None):
        if cookie is None:
            cookie = 0xc0de0000 + eng['tail']
        d = struct.pack('<BBHIQQQ', op, flags, 0, length, src, dst, cookie)
        self.q.mem_write(eng['ring'] + eng['tail'] * 32, d)
        eng['tail'] = (eng['tail'] + 1) % eng['size']
        return cookie

    def doorbell(self, eng):
        self.q.writel(self.vf_reg(eng['vf'], TERN_VF_REG_RING_TAIL),
                      eng['tail'])

    def reap(self, eng, n, steps=20):
        """Wait for n completions: list of (cookie, result, status)."""
        out = []
        for _ in range(steps):
            while len(out) < n:
                raw = self.q.mem_read(eng['cpl'] + eng['done'] * 16, 16)
                cookie, result, st, fl = struct.unpack('<QIHH', raw)
                if (fl & TERN_DESC_CPL_F_PHASE) != eng['phase']:
                    break
                out.append((cookie, result, st))
                eng['done'] = (eng['done'] + 1) % eng['size']
                if eng['done'] == 0:
                    eng['phase'] ^= 1
            if len(out) == n:
                return out
            self.q.step()
        raise AssertionError('engine: %d of %d completions' % (len(out), n))

    # ---- migration helpers ----

    def save_all(self, vf, chunk=100000, nsge=3):
        """SAVE_READ until END or NO_DATA; returns (bytes, flags)."""
        data = b''
        while True:
            seg = chunk // nsge
            sgl = [(BUF + k * 0x40000, seg) for k in range(nsge - 1)]
            sgl.append((BUF + (nsge - 1) * 0x40000, chunk - seg * (nsge - 1)))
            st, res = self.run(TERN_OP_SAVE_READ, vf, sgl=sgl)
            n, flags = res[0], res[1]
            got = b''
            for a, ln in sgl:
                take = min(ln, n - len(got))
                if take <= 0:
                    break
                got += self.q.mem_read(a, take)
            data += got
            if flags & (TERN_SAVE_F_END | TERN_SAVE_F_NO_DATA):
                return data, flags

    def load(self, vf, stream, splits=(1, 63, 17, 4096, 100003)):
        """LOAD_BEGIN + LOAD_WRITE in odd pieces; returns first bad status.

        Device memory is filled with 0xee first: whatever the load carries
        or not, none of it may survive (pages not carried read as zero).
        """
        self.q.memset(self.devmem(vf), DEVMEM, 0xee)
        self.run(TERN_OP_LOAD_BEGIN, vf)
        off, k = 0, 0
        while off < len(stream):
            n = min(splits[k % len(splits)], len(stream) - off)
            k += 1
            self.q.mem_write(BUF2, stream[off:off + n])
            st, res = self.run(TERN_OP_LOAD_WRITE, vf, expect=None,
                               data=(BUF2, n))
            if st:
                return st
            assert res[0] == n
            off += n
        return 0

    def freeze(self, vf):
        self.run(TERN_OP_VF_QUIESCE, vf)
        self.run(TERN_OP_VF_FREEZE, vf)

    def thaw(self, vf):
        self.run(TERN_OP_VF_QUIESCE, vf)
        self.run(TERN_OP_VF_RUN, vf)


def identify(r, vf=TERN_VF_NONE):
    r.q.memset(BUF, 128, 0xaa)
    st, res = r.run(TERN_OP_IDENTIFY, vf, data=(BUF, 128))
    assert res[0] == 128
    f = struct.unpack('<IHHIHHQIIQIIIIIIHHII', r.q.mem_read(BUF, 76))
    keys = ('magic abi_major abi_minor fw_version total_vfs num_vfs '
            'devmem_size devmem_page_size max_chunk dirty_page_sizes '
            'max_dirty_ranges max_sge stream_version caps ctx_regs '
            'fifo_depth vf_index vf_state vf_sessions '
            'stream_version_min').split()
    return dict(zip(keys, f))


def parse_stream(data):
    """Split a stream into (header bytes, [(type, seq, payload), ...])."""
    hdr, off, recs = data[:64], 64, []
    while off < len(data):
        t, fl, ln, seq, crc = struct.unpack('<HHIII', data[off:off + 16])
        payload = data[off + 16:off + 16 + ln]
        assert crc == crc32c(payload, crc32c(data[off:off + 12])), 'rec crc'
        recs.append((t, seq, payload))
        off += 16 + ln
    assert off == len(data)
    return hdr, recs


def make_record(t, seq, payload, flags=0):
    h = struct.pack('<HHII', t, flags, len(payload), seq)
    return h + struct.pack('<I', crc32c(payload, crc32c(h))) + payload


def make_header(**over):
    f = dict(magic=TERN_STREAM_MAGIC, version=TERN_STREAM_VERSION, hdr_len=64,
             vendor=TERN_PCI_VENDOR_ID, device=TERN_PCI_VF_DEVICE_ID,
             page=4096, devmem=DEVMEM, ctx=16, fifo=8, flags=0)
    f.update(over)
    h = struct.pack('<IHHHHIQIII24x', f['magic'], f['version'], f['hdr_len'],
                    f['vendor'], f['device'], f['page'], f['devmem'],
                    f['ctx'], f['fifo'], f['flags'])
    return h + struct.pack('<I', crc32c(h))


# ---- tests ------------------------------------------------------------------

def host_has_sse42():
    if platform.machine() != 'x86_64':
        return False
    with open('/proc/cpuinfo') as f:
        return any(line.startswith('flags') and 'sse4_2' in line.split()
                   for line in f)


def t_crc_selftest(qemu):
    """The PF's realize checked each CRC-32C path against crc32c()."""
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, 'trace.log')
        err = os.path.join(tmp, 'stderr')
        with open(err, 'w') as ef:
            q = QTest(qemu, [
                '-device', 'pcie-root-port,id=rp,chassis=1,addr=1.0',
                '-device', 'tern-pf,bus=rp,addr=0.0',
                '-trace', 'tern_crc_selftest', '-D', log], stderr=ef)
            try:
                q.cmd('endianness')
                refused = False
            except (RuntimeError, OSError):
                refused = True
            try:
                q.p.stdin.close()
            except OSError:
                pass
            q.p.terminate()
            q.p.wait()
        if refused:
            raise AssertionError('QEMU refused tern-pf: ' +
                                 open(err).read().strip())
        text = open(log).read()
    m = re.search(r'tern_crc_selftest CRC-32C (.+) match crc32c\(\), '
                  r'using (\S+)', text)
    assert m, 'no self-test trace: %r' % text
    want = ['slice-by-8'] + (['sse4.2'] if host_has_sse42() else [])
    assert m.group(1).split() == want, m.group(0)
    assert m.group(2) == want[-1], m.group(0)


def t_identity(r):
    q = r.q
    assert q.readl(cfg(1, 0, 0)) == TERN_PCI_VENDOR_ID | \
        TERN_PCI_PF_DEVICE_ID << 16
    assert q.readw(cfg(1, 0, 0x160 + 0x1a)) == TERN_PCI_VF_DEVICE_ID
    # AER (extended capability ID 1) at 0x200, in the capability list
    assert q.readl(cfg(1, 0, 0x200)) & 0xffff == 0x0001
    assert any(q.readl(cfg(1, 0, off)) >> 20 == 0x200
               for off in (0x100, 0x110, 0x160))
    assert q.readl(PF_BAR0 + TERN_PF_REG_MAGIC) == TERN_MAGIC
    assert q.readl(PF_BAR0 + TERN_PF_REG_VERSION) == TERN_ABI_VERSION
    assert q.readl(PF_BAR0 + TERN_PF_REG_TOTAL_VFS) == NVFS
    assert q.readl(PF_BAR0 + TERN_PF_REG_CAPS) == TERN_PF_CAP_FAULT_INJECT
    for i in range(NVFS):
        assert q.readl(r.vf_reg(i, TERN_VF_REG_MAGIC)) == TERN_MAGIC
        assert q.readl(r.vf_reg(i, TERN_VF_REG_VF_INDEX)) == i
        assert q.readq(r.vf_reg(i, TERN_VF_REG_DEVMEM_SIZE_LO)) == DEVMEM
    idf = identify(r)
    assert idf['magic'] == TERN_MAGIC and idf['total_vfs'] == NVFS
    assert idf['num_vfs'] == NVFS and idf['devmem_size'] == DEVMEM
    assert idf['dirty_page_sizes'] == TERN_DIRTY_PAGE_SIZES
    assert idf['max_chunk'] == TERN_MAX_CHUNK
    assert idf['vf_index'] == TERN_VF_NONE
    # firmware 1.1 (the default): ABI 1.2, saves v2, loads v1..v2
    assert (idf['abi_major'], idf['abi_minor']) == (1, 2)
    assert idf['fw_version'] == TERN_FW_VERSION == 0x00010001
    assert idf['stream_version'] == TERN_STREAM_VERSION == 2
    assert idf['stream_version_min'] == TERN_STREAM_VERSION_MIN == 1
    idf = identify(r, 1)
    assert idf['vf_index'] == 1 and idf['vf_state'] == TERN_VF_STATE_RUNNING
    assert q.readl(MSI_PF) == 0x1000, 'PF MSI-X message'
    r.run(TERN_OP_IDENTIFY, NVFS, expect=TERN_ST_INVALID_VF,
          data=(BUF, 128))
    r.run(TERN_OP_IDENTIFY, expect=TERN_ST_INVALID_PARAM, data=(BUF, 64))
    # TERN_OPCODES names each opcode of the enum once, and the firmware
    # knows exactly those
    ops = {v: k[len('TERN_OP_'):] for k, v in A.items()
           if k.startswith('TERN_OP_')}
    assert sorted(TERN_OPCODE_LIST) == sorted(ops.values()), TERN_OPCODE_LIST
    for op in range(256):
        if op not in ops:
            r.run(op, 0, expect=TERN_ST_INVALID_OPCODE)
    r.run(TERN_OP_SAVE_QUERY, 0, expect=TERN_ST_BAD_STATE)


def t_engine(r):
    q = r.q
    e = r.engine_setup(0)
    src = bytes((i * 7 + 3) & 0xff for i in range(3 * 4096 + 100))
    q.mem_write(HOST, src)
    q.memset(HOST + 0x100000, 0x200000)
    c1 = r.post(e, TERN_DESC_OP_COPY, len(src), HOST, HOST + 0x100000)
    c2 = r.post(e, TERN_DESC_OP_FILL, 5000, 0x0807060504030201,
                HOST + 0x180000)
    c3 = r.post(e, TERN_DESC_OP_COPY, len(src), HOST, 0x1000,
                flags=TERN_DESC_F_INTR | TERN_DESC_F_DST_DEVMEM)
    c4 = r.post(e, TERN_DESC_OP_COPY, len(src), 0x1000, HOST + 0x1c0000,
                flags=TERN_DESC_F_INTR | TERN_DESC_F_SRC_DEVMEM)
    c5 = r.post(e, TERN_DESC_OP_CHECKSUM, len(src), 0x1000, 0,
                flags=TERN_DESC_F_INTR | TERN_DESC_F_SRC_DEVMEM)
    c6 = r.post(e, TERN_DESC_OP_CHECKSUM, len(src), HOST, 0)
    c7 = r.post(e, TERN_DESC_OP_FILL, 64, 0xabababababababab, 0x8000,
                flags=TERN_DESC_F_DST_DEVMEM)
    r.doorbell(e)
    cpl = r.reap(e, 7)
    assert [c[0] for c in cpl] == [c1, c2, c3, c4, c5, c6, c7]
    assert all(c[2] == TERN_DESC_ST_OK for c in cpl), cpl
    assert q.mem_read(HOST + 0x100000, len(src)) == src
    assert q.mem_read(HOST + 0x100000 + len(src), 16) == b'\0' * 16
    assert q.mem_read(HOST + 0x180000, 5000) == \
        (bytes(range(1, 9)) * 700)[:5000]
    assert q.mem_read(HOST + 0x180000 + 5000, 8) == b'\0' * 8
    assert q.mem_read(r.devmem(0) + 0x1000, len(src)) == src
    assert q.mem_read(HOST + 0x1c0000, len(src)) == src
    assert cpl[4][1] == crc32c(src) and cpl[5][1] == crc32c(src)
    assert q.readl(r.vf_reg(0, TERN_VF_REG_LAST_CSUM)) == crc32c(src)
    assert q.mem_read(r.devmem(0) + 0x8000, 65) == b'\xab' * 64 + b'\0'
    assert q.readq(r.vf_reg(0, TERN_VF_REG_JOBS_LO)) == 7
    assert q.readq(r.vf_reg(0, TERN_VF_REG_BYTES_LO)) == \
        5 * len(src) + 5000 + 64
    assert q.readl(MSI_VF) == 0x1000, 'VF MSI-X job vector'
    assert q.readl(r.vf_reg(0, TERN_VF_REG_INTR_STATUS)) == TERN_VF_INTR_JOB
    st = q.readl(r.vf_reg(0, TERN_VF_REG_ENGINE_STATUS))
    assert st == TERN_ENGINE_STS_ENABLED | TERN_ENGINE_STS_IDLE, hex(st)
    # errors: bad op, bad len, devmem out of range; engine keeps going
    r.post(e, 9, 8, 0, 0)
    r.post(e, TERN_DESC_OP_COPY, 0, HOST, HOST)
    r.post(e, TERN_DESC_OP_FILL, 8192, 0, DEVMEM - 4096,
           flags=TERN_DESC_F_DST_DEVMEM)
    r.post(e, TERN_DESC_OP_NOP)
    r.doorbell(e)
    sts = [c[2] for c in r.reap(e, 4)]
    assert sts == [TERN_DESC_ST_BAD_OP, TERN_DESC_ST_BAD_LEN,
                   TERN_DESC_ST_DEVMEM_RANGE, TERN_DESC_ST_OK], sts
    assert q.readq(r.vf_reg(0, TERN_VF_REG_ERRORS_LO)) == 3
    assert q.readl(MSI_VF + 4) == 0x1001, 'VF MSI-X error vector'
    # wrap the ring a few times: phase handling
    for k in range(3 * e['size'] // 8):
        for _ in range(8):
            r.post(e, TERN_DESC_OP_NOP)
        r.doorbell(e)
        assert len(r.reap(e, 8)) == 8


def t_context_and_quiesce(r):
    q = r.q
    e = r.engine_setup(1)
    for n in range(TERN_VF_CTX_REGS):
        q.writeq(r.vf_reg(1, TERN_VF_REG_CTX_LO(n)), 0x1111111100000000 * n + n)
    assert q.readq(r.vf_reg(1, TERN_VF_REG_CTX_LO(5))) == \
        0x5555555500000005
    st, res = r.run(TERN_OP_VF_QUIESCE, 1)
    assert identify(r, 1)['vf_state'] == TERN_VF_STATE_QUIESCED
    q.memset(HOST, 4096)
    r.post(e, TERN_DESC_OP_FILL, 4096, 0x5a5a5a5a5a5a5a5a, HOST)
    r.doorbell(e)
    for _ in range(5):
        q.step()
    assert q.mem_read(HOST, 16) == b'\0' * 16, 'DMA while quiesced'
    assert q.readl(r.vf_reg(1, TERN_VF_REG_RING_TAIL)) == e['tail']
    assert q.readl(r.vf_reg(1, TERN_VF_REG_RING_HEAD)) == 0
    q.writel(r.vf_reg(1, TERN_VF_REG_CTX_LO(0)), 42)    # MMIO still served
    assert q.readl(r.vf_reg(1, TERN_VF_REG_CTX_LO(0))) == 42
    r.run(TERN_OP_VF_FREEZE, 1)
    q.writel(r.vf_reg(1, TERN_VF_REG_CTX_LO(0)), 43)    # dropped
    assert q.readl(r.vf_reg(1, TERN_VF_REG_CTX_LO(0))) == 42
    r.run(TERN_OP_VF_RUN, 1)
    assert r.reap(e, 1)[0][2] == TERN_DESC_ST_OK
    assert q.mem_read(HOST, 16) == b'\x5a' * 16


def fill_vf(r, i, e, seed):
    """Known devmem pages and context registers on VF i."""
    q = r.q
    q.memset(r.devmem(i), DEVMEM)
    pages = {}
    for k, pg in enumerate((0, 1, 2, 70, 71, 300, DEVMEM // 4096 - 1)):
        data = bytes(((seed + k) * 31 + j) & 0xff for j in range(4096))
        q.mem_write(r.devmem(i) + pg * 4096, data)
        pages[pg] = data
    for n in range(TERN_VF_CTX_REGS):
        q.writeq(r.vf_reg(i, TERN_VF_REG_CTX_LO(n)), seed << 32 | n)
    return pages


def check_devmem(r, i, pages):
    """VF i's device memory holds pages ({page: bytes}), zeroes elsewhere."""
    mem = r.q.mem_read(r.devmem(i), DEVMEM)
    want = bytearray(DEVMEM)
    for pg, data in pages.items():
        want[pg * 4096:(pg + 1) * 4096] = data
    if mem != want:
        bad = [pg for pg in range(DEVMEM // 4096)
               if mem[pg * 4096:(pg + 1) * 4096] !=
               want[pg * 4096:(pg + 1) * 4096]]
        raise AssertionError('devmem of VF %d: %d pages differ, first %d'
                             % (i, len(bad), bad[0]))


def check_vf(r, i, pages, seed):
    q = r.q
    check_devmem(r, i, pages)
    for n in range(TERN_VF_CTX_REGS):
        assert q.readq(r.vf_reg(i, TERN_VF_REG_CTX_LO(n))) == seed << 32 | n


def t_stopcopy_roundtrip(r):
    q = r.q
    ea = r.engine_setup(0)
    pages = fill_vf(r, 0, ea, 7)
    jobs_before = q.readq(r.vf_reg(0, TERN_VF_REG_JOBS_LO))
    r.run(TERN_OP_VF_QUIESCE, 0)
    # pending work: in the ring, submitted while quiesced
    q.memset(HOST, 0x3000)
    r.post(ea, TERN_DESC_OP_FILL, 4096, 0x1122334455667788, HOST)
    r.post(ea, TERN_DESC_OP_FILL, 4096, 0x99, HOST + 0x1000)
    r.doorbell(ea)
    r.run(TERN_OP_VF_FREEZE, 0)
    r.run(TERN_OP_SAVE_BEGIN, 0, expect=TERN_ST_BAD_STATE,
          params=struct.pack('<II', TERN_SAVE_MODE_PRECOPY, 0))
    st, res = r.run(TERN_OP_SAVE_BEGIN, 0,
                    params=struct.pack('<II', TERN_SAVE_MODE_STOPCOPY, 0))
    initial = res[0]
    # pages 0-2, 70-71, 300, last: 4 runs
    assert initial == 64 + 7 * 4096 + 4 * 24 + 16 + 168, initial
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[0] == initial and res[1] == 0
    assert res[2] == initial + 3 * 16 + 168 + 304, res
    stream, flags = r.save_all(0, chunk=5000)
    assert flags & TERN_SAVE_F_END
    st, res = r.run(TERN_OP_SAVE_READ, 0, data=(BUF, 4096))
    assert res[0] == 0 and res[1] & TERN_SAVE_F_END
    r.run(TERN_OP_SAVE_END, 0)
    r.run(TERN_OP_SAVE_END, 0)                          # idempotent
    hdr, recs = parse_stream(stream)
    assert len(stream) == initial + 3 * 16 + 168 + 304
    assert [t for t, _, _ in recs] == [1, 1, 1, 1, 2, 2, 3, 4]
    assert [s for _, s, _ in recs] == list(range(8))

    # load into VF 2 (a different ring location is fine: the state says)
    r.engine_setup(2)
    r.run(TERN_OP_LOAD_BEGIN, 2, expect=TERN_ST_BAD_STATE)  # not frozen
    r.freeze(2)
    assert r.load(2, stream) == 0
    r.run(TERN_OP_VF_QUIESCE, 2, expect=TERN_ST_BAD_STATE)  # loading
    st, res = r.run(TERN_OP_LOAD_COMMIT, 2)
    assert res[0] == len(stream)
    check_vf(r, 2, pages, 7)
    assert q.readq(r.vf_reg(2, TERN_VF_REG_JOBS_LO)) == jobs_before
    assert q.readl(r.vf_reg(2, TERN_VF_REG_RING_BASE_LO)) == ea['ring']
    assert q.mem_read(HOST, 8) == b'\0' * 8
    r.thaw(2)
    # the pending jobs of VF 0 complete on VF 2, in VF 0's rings
    cpl = r.reap(ea, 2)
    assert [c[2] for c in cpl] == [0, 0]
    assert q.mem_read(HOST, 8) == struct.pack('<Q', 0x1122334455667788)
    assert q.mem_read(HOST + 0x1000, 8) == b'\x99' + b'\0' * 7
    assert q.readq(r.vf_reg(2, TERN_VF_REG_JOBS_LO)) == jobs_before + 2
    assert q.readl(MSI_VF + 0x20) == 0x1000, 'interrupt from VF 2'
    r.thaw(0)
    return stream


def t_precopy(r):
    q = r.q
    e = r.engine_setup(0)
    pages = fill_vf(r, 0, e, 9)
    r.run(TERN_OP_SAVE_BEGIN, 0, expect=TERN_ST_INVALID_PARAM,
          params=struct.pack('<II', 3, 0))
    st, res = r.run(TERN_OP_SAVE_BEGIN, 0,
                    params=struct.pack('<II', TERN_SAVE_MODE_PRECOPY, 0))
    initial = res[0]
    assert identify(r, 0)['vf_sessions'] == TERN_VF_SESS_SAVE
    st, res = r.run(TERN_OP_SAVE_READ, 0, data=(BUF, 1000))
    assert res[0] == 1000 and res[1] == 0
    first = q.mem_read(BUF, 1000)
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[0] == initial - 1000 and res[1] == 0
    # a page the first pass has not reached yet: covered by initial
    q.writel(r.devmem(0) + 300 * 4096, 0xfeedface)
    pages[300] = struct.pack('<I', 0xfeedface) + pages[300][4:]
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[1] == 0, res
    stream, flags = r.save_all(0, chunk=65536, nsge=1)
    stream = first + stream
    assert flags & TERN_SAVE_F_NO_DATA and not flags & TERN_SAVE_F_END
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[0] == 0 and res[1] == 0, res
    st, res = r.run(TERN_OP_SAVE_READ, 0, data=(BUF, 4096))
    assert res[0] == 0 and res[1] == TERN_SAVE_F_NO_DATA
    # rewrite N pages by CPU, one by the engine: exact dirty bytes
    for pg in (5, 6, 900):
        q.writeb(r.devmem(0) + pg * 4096 + 17, pg & 0xff)
    src = bytes(range(256)) * 16
    q.mem_write(HOST, src)
    r.post(e, TERN_DESC_OP_COPY, 4096, HOST, 1000 * 4096,
           flags=TERN_DESC_F_DST_DEVMEM)
    r.doorbell(e)
    r.reap(e, 1)
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[0] == 0 and res[1] == 4 * 4096, res
    more, flags = r.save_all(0)
    assert flags & TERN_SAVE_F_NO_DATA
    assert len(more) == 3 * 24 + 4 * 4096, len(more)   # 5-6, 900, 1000
    stream += more
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[1] == 0
    # the same page written twice counts once
    q.writeb(r.devmem(0) + 5 * 4096, 1)
    q.writeb(r.devmem(0) + 5 * 4096 + 1, 2)
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[1] == 4096, res
    # stop: quiesce, freeze, tail
    r.freeze(0)
    tail, flags = r.save_all(0)
    assert flags & TERN_SAVE_F_END
    stream += tail
    r.run(TERN_OP_SAVE_END, 0)
    r.thaw(0)
    pages[5] = q.mem_read(r.devmem(0) + 5 * 4096, 4096)
    for pg in (6, 900, 1000):
        pages[pg] = q.mem_read(r.devmem(0) + pg * 4096, 4096)
    assert pages[1000] == src
    r.freeze(1)
    assert r.load(1, stream, splits=(7, 1, 65536, 333)) == 0
    r.run(TERN_OP_LOAD_COMMIT, 1)
    check_vf(r, 1, pages, 9)
    r.thaw(1)
    return stream


def pages_bytes(pages):
    """Stream bytes of the PAGES records for a set of page numbers."""
    total, run, prev = 0, 0, None
    for pg in sorted(pages) + [None]:
        if pg is not None and prev is not None and pg == prev + 1:
            run += 1
        else:
            if run:
                total += run * 4096 + -(-run // TERN_REC_MAX_PAGES) * 24
            run = 1
        prev = pg
    return total


def t_reinit(r):
    """A re-based or resized engine ring during pre-copy re-inits."""
    q = r.q
    e = r.engine_setup(0)
    pages = fill_vf(r, 0, e, 21)
    st, res = r.run(TERN_OP_SAVE_BEGIN, 0,
                    params=struct.pack('<II', TERN_SAVE_MODE_PRECOPY, 0))
    initial = res[0]
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[0] == initial, res
    stream, flags = r.save_all(0, chunk=65536, nsge=1)
    assert flags & TERN_SAVE_F_NO_DATA and len(stream) == initial
    # the same ring enabled again is no re-init
    ctrl = r.vf_reg(0, TERN_VF_REG_ENGINE_CTRL)
    q.writel(ctrl, 0)
    q.writel(ctrl, TERN_ENGINE_CTRL_ENABLE)
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[0] == 0 and res[1] == 0, res
    # clear a page the destination holds, change one, then resize the ring
    q.memset(r.devmem(0) + 70 * 4096, 4096)
    pages[70] = bytes(4096)
    q.writel(r.devmem(0) + 300 * 4096, 0x5eed)
    pages[300] = struct.pack('<I', 0x5eed) + pages[300][4:]
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[0] == 0 and res[1] == 2 * 4096, res
    r.engine_setup(0, size=32)
    want = pages_bytes(pages) + 16 + 168
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[0] == TERN_SAVE_Q_REINIT | want and res[1] == 0, res
    # reported once; a second resize is a second re-init
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[0] == want, res
    more, flags = r.save_all(0, chunk=5000, nsge=1)
    assert flags & TERN_SAVE_F_NO_DATA and len(more) == want, len(more)
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[0] == 0 and res[1] == 0, res
    hdr, recs = parse_stream(stream + more)
    assert [rec[0] for rec in recs].count(TERN_REC_REGS) == 2
    r.engine_setup(0, size=64)
    st, res = r.run(TERN_OP_SAVE_QUERY, 0)
    assert res[0] & TERN_SAVE_Q_REINIT, res
    again, flags = r.save_all(0)
    r.freeze(0)
    tail, flags = r.save_all(0)
    assert flags & TERN_SAVE_F_END
    r.run(TERN_OP_SAVE_END, 0)
    r.thaw(0)
    r.freeze(1)
    assert r.load(1, stream + more + again + tail) == 0
    r.run(TERN_OP_LOAD_COMMIT, 1)
    check_vf(r, 1, pages, 21)
    assert q.readl(r.vf_reg(1, TERN_VF_REG_RING_SIZE)) == 64
    r.thaw(1)


def t_load_errors(r, good):
    q = r.q
    hdr, recs = parse_stream(good)
    body = good[64:]

    def expect(stream, status, at_commit=False):
        r.freeze(1)
        st = r.load(1, stream, splits=(50000,))
        if at_commit:
            assert st == 0, hex(st)
            st, _ = r.run(TERN_OP_LOAD_COMMIT, 1, expect=None)
        else:
            st2, _ = r.run(TERN_OP_LOAD_COMMIT, 1, expect=None)
            assert st2 == st, (hex(st), hex(st2))
        assert st == status, 'status 0x%x, expected 0x%x' % (st, status)
        # nothing half-loaded: function reset, still frozen
        assert q.readl(r.vf_reg(1, TERN_VF_REG_CTX_LO(1))) == 0
        check_devmem(r, 1, {})
        assert identify(r, 1)['vf_state'] == TERN_VF_STATE_FROZEN
        r.thaw(1)

    bad = bytearray(good)
    bad[0] ^= 1
    expect(bytes(bad), TERN_ST_STREAM_MAGIC)
    expect(make_header(version=TERN_STREAM_VERSION + 1) + body,
           TERN_ST_STREAM_VERSION)
    expect(make_header(version=0) + body, TERN_ST_STREAM_VERSION)
    expect(make_header(devmem=DEVMEM * 2) + body, TERN_ST_STREAM_MISMATCH)
    bad = bytearray(good)
    bad[64 + 16 + 8 + 100] ^= 0x40                      # first page payload
    expect(bytes(bad), TERN_ST_STREAM_CRC)
    bad = bytearray(good)
    bad[10] ^= 1                                        # header, under CRC
    expect(bytes(bad), TERN_ST_STREAM_CRC)
    expect(good[:-16], TERN_ST_STREAM_TRUNCATED, at_commit=True)
    expect(good[:len(good) // 2], TERN_ST_STREAM_TRUNCATED, at_commit=True)
    expect(good + b'\0', TERN_ST_STREAM_TRAILING)
    page = b'\x11' * 4096
    expect(make_header() +
           make_record(1, 0, struct.pack('<II', DEVMEM // 4096, 1) + page),
           TERN_ST_STREAM_PAGE_RANGE)
    expect(make_header() + make_record(9, 0, b''), TERN_ST_STREAM_RECORD)
    # ZERO: version 2 only, at least one page, in range, 8 bytes
    zero = TERN_REC_ZERO
    expect(make_header(version=1) +
           make_record(zero, 0, struct.pack('<II', 0, 1)),
           TERN_ST_STREAM_RECORD)
    expect(make_header() + make_record(zero, 0, struct.pack('<II', 3, 0)),
           TERN_ST_STREAM_RECORD)
    expect(make_header() + make_record(zero, 0, struct.pack('<III', 3, 1, 0)),
           TERN_ST_STREAM_RECORD)
    expect(make_header() +
           make_record(zero, 0, struct.pack('<II', DEVMEM // 4096 - 1, 2)),
           TERN_ST_STREAM_PAGE_RANGE)
    expect(make_header() + make_record(4, 1, b''), TERN_ST_STREAM_RECORD)
    expect(make_header() + make_record(4, 0, b''), TERN_ST_STREAM_RECORD,
           at_commit=True)                              # no REGS/ENGINE
    # abort: also resets
    r.freeze(1)
    q.memset(r.devmem(1), DEVMEM, 0xee)
    r.run(TERN_OP_LOAD_BEGIN, 1)
    q.mem_write(BUF2, good[:20000])
    r.run(TERN_OP_LOAD_WRITE, 1, data=(BUF2, 20000))
    r.run(TERN_OP_LOAD_ABORT, 1)
    r.run(TERN_OP_LOAD_ABORT, 1)
    r.run(TERN_OP_LOAD_COMMIT, 1, expect=TERN_ST_BAD_STATE)
    check_devmem(r, 1, {})
    r.thaw(1)


def t_dirty(r):
    q = r.q
    e = r.engine_setup(0)
    G = 1 << 30
    ranges = struct.pack('<QQQQ', HOST, 0x100000, 64 * G, 0x10000)
    q.mem_write(BUF, ranges)
    r.run(TERN_OP_DIRTY_READ_CLEAR, 0, expect=TERN_ST_BAD_STATE,
          data=(BUF2, 4096), params=struct.pack('<QQ', HOST, 0x100000))
    r.run(TERN_OP_DIRTY_START, 0, expect=TERN_ST_INVALID_PARAM,
          data=(BUF, 32), params=struct.pack('<II', 2, 13))
    r.run(TERN_OP_DIRTY_START, 0, data=(BUF, 32),
          params=struct.pack('<II', 2, 12))
    r.run(TERN_OP_DIRTY_START, 0, expect=TERN_ST_BAD_STATE, data=(BUF, 32),
          params=struct.pack('<II', 2, 12))
    assert identify(r, 0)['vf_sessions'] == TERN_VF_SESS_DIRTY
    # writes: pages 3 and 10-11 of HOST; read-only work: CHECKSUM of page 20
    r.post(e, TERN_DESC_OP_FILL, 4096, 1, HOST + 3 * 4096, flags=0)
    r.post(e, TERN_DESC_OP_FILL, 4097, 1, HOST + 10 * 4096, flags=0)
    r.post(e, TERN_DESC_OP_CHECKSUM, 4096, HOST + 20 * 4096, 0, flags=0)
    r.doorbell(e)
    r.reap(e, 3)
    cpl_page = (e['cpl'] - HOST) // 4096                # outside range 1

    def report(iova, length, pages, count=None):
        q.memset(BUF2, 0x1000, 0xff)
        nbytes = ((length // 4096 + 63) // 64) * 8
        st, res = r.run(TERN_OP_DIRTY_READ_CLEAR, 0, data=(BUF2, nbytes),
                        params=struct.pack('<QQ', iova, length))
        bm = int.from_bytes(q.mem_read(BUF2, nbytes), 'little')
        got = [i for i in range(length // 4096) if bm >> i & 1]
        assert got == pages, (got, pages)
        assert res[0] == (len(pages) if count is None else count)

    report(HOST, 0x100000, [3, 10, 11])
    report(HOST, 0x100000, [])
    # MISCOUNT: the next report's bitmap as usual, its count 0
    r.run(TERN_OP_FAULT_INJECT, params=struct.pack(
        '<BBHI', TERN_FAULT_MISCOUNT, 0, 0, 1))
    r.post(e, TERN_DESC_OP_FILL, 8, 1, HOST + 5 * 4096, flags=0)
    r.doorbell(e)
    r.reap(e, 1)
    report(HOST, 0x100000, [5], count=0)
    r.post(e, TERN_DESC_OP_FILL, 8, 1, HOST + 6 * 4096, flags=0)
    r.doorbell(e)
    r.reap(e, 1)
    report(HOST, 0x100000, [6])
    # completions are DMA writes too: track the completion ring page
    assert cpl_page > 256
    r.run(TERN_OP_DIRTY_STOP, 0)
    r.run(TERN_OP_DIRTY_STOP, 0)
    ranges = struct.pack('<QQQQ', e['cpl'] & ~0xfff, 0x1000, 64 * G, 0x10000)
    q.mem_write(BUF, ranges)
    r.run(TERN_OP_DIRTY_START, 0, data=(BUF, 32),
          params=struct.pack('<II', 2, 12))
    r.post(e, TERN_DESC_OP_NOP, flags=0)
    r.doorbell(e)
    r.reap(e, 1)
    report(e['cpl'] & ~0xfff, 0x1000, [0])
    # a report spanning the gap: 64 GiB of untracked pages in one command
    # would be too big; check the far range with an unaligned sub-range
    report(64 * G + 0x4000, 0x8000, [])
    r.run(TERN_OP_DIRTY_READ_CLEAR, 0, expect=TERN_ST_INVALID_PARAM,
          data=(BUF2, 8), params=struct.pack('<QQ', HOST + 1, 0x1000))
    r.run(TERN_OP_DIRTY_STOP, 0)
    # overlapping ranges are refused
    q.mem_write(BUF, struct.pack('<QQQQ', 0, 0x2000, 0x1000, 0x1000))
    r.run(TERN_OP_DIRTY_START, 0, expect=TERN_ST_INVALID_PARAM,
          data=(BUF, 32), params=struct.pack('<II', 2, 12))


def t_faults(r, good):
    q = r.q
    r.run(TERN_OP_FAULT_INJECT, params=struct.pack(
        '<BBHI', TERN_FAULT_FAIL, TERN_OP_IDENTIFY, 0x42, 1))
    r.run(TERN_OP_IDENTIFY, expect=0x42, data=(BUF, 128))
    r.run(TERN_OP_IDENTIFY, data=(BUF, 128))
    # stall: the stalled command does not block the queue
    r.run(TERN_OP_FAULT_INJECT, params=struct.pack(
        '<BBHI', TERN_FAULT_STALL, TERN_OP_SAVE_QUERY, 0, 2))
    s1 = r.submit(TERN_OP_SAVE_QUERY, 0)
    s2 = r.submit(TERN_OP_SAVE_QUERY, 0)
    r.run(TERN_OP_IDENTIFY, data=(BUF, 128))
    for _ in range(10):
        q.step()
    for c, st, res in r.poll():
        r.done[c] = (st, res)
    assert s1 not in r.done and s2 not in r.done
    st, res = r.run(TERN_OP_FAULT_INJECT, params=struct.pack(
        '<BBHI', TERN_FAULT_CLEAR, 0, 0, 0))
    assert res[0] == 2
    assert r.wait(s1)[0] == TERN_ST_ABORTED
    assert r.wait(s2)[0] == TERN_ST_ABORTED
    # release: a stalled command runs late, for real
    r.run(TERN_OP_FAULT_INJECT, params=struct.pack(
        '<BBHI', TERN_FAULT_STALL, TERN_OP_SAVE_QUERY, 0, 1))
    s1 = r.submit(TERN_OP_SAVE_QUERY, 0)
    r.run(TERN_OP_IDENTIFY, data=(BUF, 128))
    for c, st, res in r.poll():
        r.done[c] = (st, res)
    assert s1 not in r.done
    st, res = r.run(TERN_OP_FAULT_INJECT, params=struct.pack(
        '<BBHI', TERN_FAULT_RELEASE, 0, 0, 0))
    assert res[0] == 1
    # VF 0 has no save session: the command ran and says so
    assert r.wait(s1)[0] == TERN_ST_BAD_STATE
    # corrupt a saved chunk: the load fails with a stream error
    r.run(TERN_OP_FAULT_INJECT, params=struct.pack(
        '<BBHI', TERN_FAULT_CORRUPT, 0, 0, 1))
    r.freeze(0)
    r.run(TERN_OP_SAVE_BEGIN, 0,
          params=struct.pack('<II', TERN_SAVE_MODE_STOPCOPY, 0))
    stream, flags = r.save_all(0, chunk=1 << 20, nsge=1)
    r.run(TERN_OP_SAVE_END, 0)
    r.thaw(0)
    r.freeze(1)
    st = r.load(1, stream, splits=(1 << 20,))
    if not st:
        st, _ = r.run(TERN_OP_LOAD_COMMIT, 1, expect=None)
    else:
        r.run(TERN_OP_LOAD_ABORT, 1)
    assert st in (TERN_ST_STREAM_CRC, TERN_ST_STREAM_MAGIC), hex(st)
    r.thaw(1)
    # stalled commands are dropped by a firmware reset; queue usable after
    r.run(TERN_OP_FAULT_INJECT, params=struct.pack(
        '<BBHI', TERN_FAULT_STALL, TERN_OP_IDENTIFY, 0, 1))
    r.submit(TERN_OP_IDENTIFY, data=(BUF, 128))
    r.run(TERN_OP_VF_QUIESCE, 2)
    q.writel(PF_BAR0 + TERN_PF_REG_CTRL, TERN_PF_CTRL_RESET)
    assert q.readl(PF_BAR0 + TERN_PF_REG_STATUS) == 0
    assert q.readl(PF_BAR0 + TERN_PF_REG_SQ_SIZE) == 0
    r.admin_setup()
    assert identify(r, 2)['vf_state'] == TERN_VF_STATE_RUNNING
    assert identify(r)['magic'] == TERN_MAGIC
    # FATAL: the rule's command completes, the next fetch stops the queue
    r.run(TERN_OP_FAULT_INJECT, params=struct.pack(
        '<BBHI', TERN_FAULT_FATAL, 0, 0, 0))
    r.submit(TERN_OP_IDENTIFY, data=(BUF, 128))
    for _ in range(10):
        q.step()
    assert q.readl(PF_BAR0 + TERN_PF_REG_STATUS) == TERN_PF_STS_FATAL
    assert not r.poll()
    q.writel(PF_BAR0 + TERN_PF_REG_CTRL, TERN_PF_CTRL_RESET)
    assert q.readl(PF_BAR0 + TERN_PF_REG_STATUS) == 0
    r.admin_setup()
    assert identify(r)['magic'] == TERN_MAGIC
    # DUPLICATE: the answer comes again once the next command is fetched
    r.run(TERN_OP_FAULT_INJECT, params=struct.pack(
        '<BBHI', TERN_FAULT_DUPLICATE, TERN_OP_IDENTIFY, 0, 1))
    cid = r.submit(TERN_OP_IDENTIFY, data=(BUF, 128))
    assert r.wait(cid)[0] == TERN_ST_SUCCESS
    for _ in range(10):
        q.step()
    assert not r.poll(), 'repeated before the next command'
    r.run(TERN_OP_VF_QUIESCE, 2)
    assert r.done.pop(cid)[0] == TERN_ST_SUCCESS, 'the repeated answer'
    r.run(TERN_OP_VF_RUN, 2)
    assert not r.done, 'repeated once only'


def t_vanish(r):
    q = r.q
    pf_id = TERN_PCI_VENDOR_ID | TERN_PCI_PF_DEVICE_ID << 16
    r.run(TERN_OP_VF_QUIESCE, 1)
    # the rule's command completes; then the PF answers nothing
    r.run(TERN_OP_FAULT_INJECT, params=struct.pack(
        '<BBHI', TERN_FAULT_VANISH, 0, 0, 50))
    assert q.readl(cfg(1, 0, 0)) == 0xffffffff, 'config space all ones'
    assert q.readw(cfg(1, 0, 4)) == 0xffff
    assert q.readl(PF_BAR0 + TERN_PF_REG_STATUS) == 0xffffffff
    assert q.readl(PF_BAR0 + TERN_PF_REG_MAGIC) == 0xffffffff
    q.writel(cfg(1, 0, 4), 0)                   # ignored: stays a bus master
    r.submit(TERN_OP_IDENTIFY, data=(BUF, 128))
    for _ in range(10):
        q.step()
    assert not r.poll(), 'nothing fetched or answered'
    # VFs are not affected
    assert q.readl(r.vf_reg(0, TERN_VF_REG_MAGIC)) == TERN_MAGIC
    q.step(50 * 1000 * 1000)
    assert q.readl(cfg(1, 0, 0)) == pf_id, 'back after the time'
    assert q.readw(cfg(1, 0, 4)) & 0x6 == 0x6, 'config space as it was'
    # its firmware reset: queue off, VF 1 running again
    assert q.readl(PF_BAR0 + TERN_PF_REG_STATUS) == 0
    r.admin_setup()
    assert identify(r)['magic'] == TERN_MAGIC
    assert identify(r, 1)['vf_state'] == TERN_VF_STATE_RUNNING
    st, _ = r.run(TERN_OP_FAULT_INJECT, params=struct.pack(
        '<BBHI', TERN_FAULT_VANISH, 0, 0, 0), expect=None)
    assert st == TERN_ST_INVALID_PARAM, 'VANISH needs a time'


def t_flr(r):
    q = r.q
    e = r.engine_setup(1)
    fill_vf(r, 1, e, 3)
    r.run(TERN_OP_SAVE_BEGIN, 1,
          params=struct.pack('<II', TERN_SAVE_MODE_PRECOPY, 0))
    ctrl = cfg(1, 2, 0xa0 + 8)                          # PCIe DEVCTL
    q.writew(ctrl, q.readw(ctrl) | 0x8000)              # initiate FLR
    r.vf_pci_setup(1)
    assert q.readq(r.vf_reg(1, TERN_VF_REG_CTX_LO(1))) == 0
    assert q.readl(r.vf_reg(1, TERN_VF_REG_ENGINE_CTRL)) == 0
    assert q.mem_read(r.devmem(1), 4096 * 3) == b'\0' * 4096 * 3
    assert identify(r, 1)['vf_sessions'] == 0
    r.run(TERN_OP_SAVE_QUERY, 1, expect=TERN_ST_BAD_STATE)
    r.run(TERN_OP_SAVE_END, 1)


def t_parked(r):
    """With a slow engine, quiesce parks fetched descriptors; they migrate."""
    q = r.q
    e = r.engine_setup(0)
    q.memset(HOST, 0x8000)
    for k in range(5):
        r.post(e, TERN_DESC_OP_FILL, 4096, 0x0101010101010101 * (k + 1),
               HOST + k * 0x1000, flags=TERN_DESC_F_INTR)
    r.doorbell(e)                       # fetches 5 at once, runs 1 / 100 us
    st, res = r.run(TERN_OP_VF_QUIESCE, 0)
    parked = res[0]
    assert parked == 5, parked
    assert q.readl(r.vf_reg(0, TERN_VF_REG_RING_HEAD)) == 5
    assert q.readl(r.vf_reg(0, TERN_VF_REG_RING_DONE)) == 0
    assert not q.readl(r.vf_reg(0, TERN_VF_REG_ENGINE_STATUS)) & \
        TERN_ENGINE_STS_IDLE
    r.run(TERN_OP_VF_FREEZE, 0)
    r.run(TERN_OP_SAVE_BEGIN, 0,
          params=struct.pack('<II', TERN_SAVE_MODE_STOPCOPY, 0))
    stream, flags = r.save_all(0)
    r.run(TERN_OP_SAVE_END, 0)
    hdr, recs = parse_stream(stream)
    eng = [p for t, _, p in recs if t == TERN_REC_ENGINE][0]
    assert struct.unpack_from('<I', eng, 44)[0] == 5   # nparked
    r.freeze(1)
    assert r.load(1, stream) == 0
    r.run(TERN_OP_LOAD_COMMIT, 1)
    r.thaw(1)
    cpl = r.reap(e, 5, steps=50)
    assert [c[2] for c in cpl] == [0] * 5
    for k in range(5):
        assert q.mem_read(HOST + k * 0x1000, 4096) == bytes([k + 1]) * 4096
    # VF 0 ran none of them; once running again it finishes its own copy
    assert q.readq(r.vf_reg(0, TERN_VF_REG_JOBS_LO)) == 0
    r.thaw(0)
    for _ in range(10):
        q.step()
    assert q.readq(r.vf_reg(0, TERN_VF_REG_JOBS_LO)) == 5


def t_zero(r):
    """Changed pages that are now zero travel as ZERO records (v2)."""
    q = r.q
    e = r.engine_setup(0)
    pages = fill_vf(r, 0, e, 11)
    r.run(TERN_OP_SAVE_BEGIN, 0,
          params=struct.pack('<II', TERN_SAVE_MODE_PRECOPY, 0))
    stream, flags = r.save_all(0, chunk=65536, nsge=1)
    assert flags & TERN_SAVE_F_NO_DATA
    # the guest clears pages 0-2 and 70 and rewrites 71: a ZERO run, a
    # ZERO page, a PAGES record between them
    q.memset(r.devmem(0), 3 * 4096)
    q.memset(r.devmem(0) + 70 * 4096, 4096)
    q.writel(r.devmem(0) + 71 * 4096, 0x2e2e)
    for pg in (0, 1, 2, 70):
        del pages[pg]
    pages[71] = struct.pack('<I', 0x2e2e) + pages[71][4:]
    more, flags = r.save_all(0)
    r.freeze(0)
    tail, flags = r.save_all(0)
    assert flags & TERN_SAVE_F_END
    r.run(TERN_OP_SAVE_END, 0)
    r.thaw(0)
    hdr, recs = parse_stream(stream[:64] + more + tail)
    zeros = [struct.unpack('<II', p) for t, _, p in recs if t == TERN_REC_ZERO]
    assert zeros == [(0, 3), (70, 1)], zeros
    assert [struct.unpack('<II', p[:8]) for t, _, p in recs
            if t == TERN_REC_PAGES] == [(71, 1)]
    assert len(more) == 2 * (16 + 8) + 16 + 8 + 4096, len(more)
    assert struct.unpack('<H', stream[4:6])[0] == 2
    # loaded: the pages the first pass carried are zero again
    r.freeze(1)
    assert r.load(1, stream + more + tail) == 0
    r.run(TERN_OP_LOAD_COMMIT, 1)
    check_vf(r, 1, pages, 11)
    r.thaw(1)


def fw10_stream(qemu):
    """A stream of firmware 1.0, with a page cleared in pre-copy."""
    old = Rig(qemu, ',fw-version=1.0')
    try:
        q = old.q
        assert q.readl(PF_BAR0 + TERN_PF_REG_VERSION) == 1 << 16 | 1
        assert q.readl(old.vf_reg(0, TERN_VF_REG_VERSION)) == 1 << 16 | 1
        idf = identify(old)
        assert (idf['abi_minor'], idf['fw_version']) == (1, 0x00010000)
        assert idf['stream_version'] == 1 and idf['stream_version_min'] == 0
        e = old.engine_setup(0)
        pages = fill_vf(old, 0, e, 13)
        old.run(TERN_OP_SAVE_BEGIN, 0,
                params=struct.pack('<II', TERN_SAVE_MODE_PRECOPY, 0))
        stream, flags = old.save_all(0, chunk=65536, nsge=1)
        q.memset(old.devmem(0) + 70 * 4096, 4096)
        pages[70] = bytes(4096)
        old.freeze(0)
        tail, flags = old.save_all(0)
        assert flags & TERN_SAVE_F_END
        old.run(TERN_OP_SAVE_END, 0)
        stream += tail
        hdr, recs = parse_stream(stream)
        assert struct.unpack('<H', hdr[4:6])[0] == 1
        assert TERN_REC_ZERO not in [t for t, _, _ in recs]
        # 1.0 loads its own stream, refuses a v2 one at the header
        old.freeze(1)
        assert old.load(1, stream) == 0
        old.run(TERN_OP_LOAD_COMMIT, 1)
        check_vf(old, 1, {k: v for k, v in pages.items() if any(v)}, 13)
        old.freeze(2)
        assert old.load(2, make_header(version=2)) == TERN_ST_STREAM_VERSION
        old.run(TERN_OP_LOAD_COMMIT, 2, expect=TERN_ST_STREAM_VERSION)
        return stream, pages
    finally:
        old.q.close()


def t_fw_versions(r, qemu):
    """fw-version: 1.0 saves v1 and refuses v2; 1.1 loads v1; bad values."""
    stream, pages = fw10_stream(qemu)
    r.freeze(1)
    assert r.load(1, stream) == 0
    r.run(TERN_OP_LOAD_COMMIT, 1)
    check_vf(r, 1, {k: v for k, v in pages.items() if any(v)}, 13)
    r.thaw(1)
    q11 = Rig(qemu, ',fw-version=1.1')
    try:
        assert identify(q11)['fw_version'] == TERN_FW_VERSION
    finally:
        q11.q.close()
    for bad in ('2.0', '1'):
        p = subprocess.run(
            [qemu, '-M', 'q35', '-accel', 'qtest', '-display', 'none',
             '-nodefaults', '-L', '/usr/share/seabios', '-L',
             '/usr/share/qemu', '-device',
             'pcie-root-port,id=rp,chassis=1,addr=1.0', '-device',
             'tern-pf,bus=rp,fw-version=' + bad],
            capture_output=True, text=True, timeout=60)
        assert p.returncode != 0, bad
        assert "fw-version must be 1.0 or 1.1, not '%s'" % bad in p.stderr, \
            p.stderr


TESTS = [
    ('CRC-32C: realize checks each path against crc32c()', t_crc_selftest),
    ('identity and IDENTIFY', t_identity),
    ('engine jobs, completions, MSI-X', t_engine),
    ('context registers, quiesce and freeze', t_context_and_quiesce),
    ('stop-copy round trip with pending jobs', t_stopcopy_roundtrip),
    ('pre-copy: initial and dirty bytes, round trip', t_precopy),
    ('pre-copy: a re-based engine ring re-inits the first pass', t_reinit),
    ('pre-copy: cleared pages travel as ZERO records', t_zero),
    ('fw-version 1.0 and 1.1: stream versions saved and loaded', None),
    ('load rejects bad streams', None),
    ('DMA dirty tracking', t_dirty),
    ('fault injection and firmware reset', None),
    ('VANISH: unreachable, then back with its firmware reset', t_vanish),
    ('VF FLR', t_flr),
    ('parked descriptors migrate (engine-latency-us)', t_parked),
]


def main():
    qemu = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
        '~/.cache/tern/qemu/qemu-system-x86_64')
    slow = None
    print('TAP version 13')
    print('1..%d' % len(TESTS))
    try:
        r = Rig(qemu)
    except Exception as e:
        r, rig_error = None, '%s: %s' % (type(e).__name__, e)
    failed = 0
    good = None
    for n, (name, fn) in enumerate(TESTS, 1):
        try:
            if fn is t_crc_selftest:
                fn(qemu)
            elif r is None:
                raise RuntimeError('no test machine (%s)' % rig_error)
            elif name.startswith('fw-version'):
                t_fw_versions(r, qemu)
            elif name.startswith('load rejects'):
                t_load_errors(r, good)
            elif name.startswith('fault'):
                t_faults(r, good)
            elif name.startswith('parked'):
                slow = Rig(qemu, ',engine-latency-us=100')
                fn(slow)
            else:
                res = fn(r)
                if name.startswith('stop-copy'):
                    good = res
            print('ok %d - %s' % (n, name))
        except Exception:
            failed += 1
            print('not ok %d - %s' % (n, name))
            for line in traceback.format_exc().splitlines():
                print('# ' + line)
        sys.stdout.flush()
    if r:
        r.q.close()
    if slow:
        slow.q.close()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
