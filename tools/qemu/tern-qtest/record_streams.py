#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Record the migration streams that every later release must load.

For each firmware release the model runs (fw-version), a VF of a PF with
1 MiB of device memory is saved as a VMM saves it, with a state worth
carrying: a pattern in device memory (then, during pre-copy, one page
cleared and one rewritten), context registers, one engine job done and two
pending on a quiesced engine, and DMA logging on during the save. The
firmware's stream is what tern-vfio-pci hands to read() byte for byte, so
the model's stream is the driver's.

Writes, into OUTDIR (tools/testing/selftests/tern/streams/):

  vN.stream.xz  the stream of version N
  vN.mem.xz     the 64 KiB of host memory the engine state points at (its
                rings and buffers), to be mapped at IOVA `iova`
  vN.txt        what the stream must do: the source's migration_compat
                line, the IOVA, and CRC-32Cs of device memory and of that
                memory after the load and once the pending jobs are done

tern_compat_test (recorded_streams_load) loads each on a VF of a 1 MiB PF
and checks all of it. A release that bumps the stream version runs this
with its new fw-version added to RELEASES and commits the new files; the
old ones stay, unchanged, forever (Documentation/tern/device.rst): a
version already recorded in OUTDIR is left alone.

    tools/qemu/tern-qtest/record_streams.py QEMU OUTDIR
"""
import lzma
import os
import struct
import sys

import tern_qtest as tq

# firmware release -> stream version it saves
RELEASES = [('1.0', 1), ('1.1', 2)]

# IOVA of the recorded host memory: high enough that a test's own DMA
# arenas (allocated from the bottom of the IOVA space) stay clear of it
WINDOW = 0xc000000
WINDOW_SIZE = 0x10000
SRC = WINDOW + 0xa000           # 4 KiB the jobs read
DST = WINDOW + 0xc000           # 8 KiB they write


def devmem_pattern(k):
    return bytes(((k * 37) + j * 11) & 0xff for j in range(4096))


def record(qemu, fw, version):
    r = tq.Rig(qemu, ',fw-version=%s' % fw)
    q = r.q
    try:
        assert tq.identify(r)['stream_version'] == version
        e = r.engine_setup(0)
        q.memset(r.devmem(0), tq.DEVMEM)
        for k in list(range(8)) + [tq.DEVMEM // 4096 - 1]:
            q.mem_write(r.devmem(0) + k * 4096, devmem_pattern(k))
        for n in range(tq.TERN_VF_CTX_REGS):
            q.writeq(r.vf_reg(0, tq.TERN_VF_REG_CTX_LO(n)),
                     0x5eed000000000000 | version << 32 | n)
        q.memset(WINDOW + 0xa000, 0x6000)
        q.mem_write(SRC, bytes((j * 13 + 5) & 0xff for j in range(4096)))
        # history: one job done
        r.post(e, tq.TERN_DESC_OP_COPY, 4096, SRC, DST, cookie=1)
        r.doorbell(e)
        assert r.reap(e, 1)[0][2] == tq.TERN_DESC_ST_OK
        # DMA logging on, then two jobs pending on the quiesced engine
        q.mem_write(tq.BUF, struct.pack('<QQ', WINDOW, WINDOW_SIZE))
        r.run(tq.TERN_OP_DIRTY_START, 0, data=(tq.BUF, 16),
              params=struct.pack('<II', 1, 12))
        r.run(tq.TERN_OP_VF_QUIESCE, 0)
        r.post(e, tq.TERN_DESC_OP_FILL, 4096, 0x0123456789abcdef,
               DST + 0x1000, cookie=2)
        r.post(e, tq.TERN_DESC_OP_COPY, 4096, SRC, 20 * 4096,
               flags=tq.TERN_DESC_F_DST_DEVMEM | tq.TERN_DESC_F_INTR,
               cookie=3)
        r.doorbell(e)
        # pre-copy, with device memory changing meanwhile
        r.run(tq.TERN_OP_SAVE_BEGIN, 0,
              params=struct.pack('<II', tq.TERN_SAVE_MODE_PRECOPY, 0))
        stream, _ = r.save_all(0, chunk=65536, nsge=1)
        q.memset(r.devmem(0) + 3 * 4096, 4096)
        q.writel(r.devmem(0) + 5 * 4096, 0xc0ffee)
        more, _ = r.save_all(0)
        r.run(tq.TERN_OP_VF_FREEZE, 0)
        tail, flags = r.save_all(0)
        assert flags & tq.TERN_SAVE_F_END
        r.run(tq.TERN_OP_SAVE_END, 0)
        r.run(tq.TERN_OP_DIRTY_STOP, 0)
        stream += more + tail
        hdr, recs = tq.parse_stream(stream)
        assert struct.unpack('<H', hdr[4:6])[0] == version
        mem = q.mem_read(WINDOW, WINDOW_SIZE)
        devmem = q.mem_read(r.devmem(0), tq.DEVMEM)
        jobs = q.readq(r.vf_reg(0, tq.TERN_VF_REG_JOBS_LO))

        # what a destination holds: loaded into VF 1, then run
        r.freeze(1)
        assert r.load(1, stream) == 0
        r.run(tq.TERN_OP_LOAD_COMMIT, 1)
        assert q.mem_read(r.devmem(1), tq.DEVMEM) == devmem
        r.thaw(1)
        for _ in range(20):
            if q.readq(r.vf_reg(1, tq.TERN_VF_REG_JOBS_LO)) == jobs + 2:
                break
            q.step()
        jobs_after = q.readq(r.vf_reg(1, tq.TERN_VF_REG_JOBS_LO))
        assert jobs_after == jobs + 2, jobs_after
        mem_after = q.mem_read(WINDOW, WINDOW_SIZE)
        devmem_after = q.mem_read(r.devmem(1), tq.DEVMEM)
        assert mem_after[DST + 0x1000 - WINDOW:][:8] == \
            struct.pack('<Q', 0x0123456789abcdef)
        assert devmem_after[20 * 4096:21 * 4096] == mem[SRC - WINDOW:][:4096]
        types = sorted({t for t, _, _ in recs})
        info = [
            '# recorded by tools/qemu/tern-qtest/record_streams.py from the',
            '# model with fw-version=%s, devmem-mb=1; record types %s' %
            (fw, ' '.join(map(str, types))),
            'compat=device=%04x:%04x devmem_size=%d stream=%d loads=%s' %
            (tq.TERN_PCI_VENDOR_ID, tq.TERN_PCI_VF_DEVICE_ID, tq.DEVMEM,
             version, '1-%d' % version),
            'iova=0x%x' % WINDOW,
            'mem_size=0x%x' % WINDOW_SIZE,
            'ctx=0x%x' % (0x5eed000000000000 | version << 32),
            'jobs=%d' % jobs,
            'devmem_crc=0x%08x' % tq.crc32c(devmem),
            'jobs_after=%d' % jobs_after,
            'mem_crc_after=0x%08x' % tq.crc32c(mem_after),
            'devmem_crc_after=0x%08x' % tq.crc32c(devmem_after),
        ]
        return stream, mem, '\n'.join(info) + '\n', types
    finally:
        q.close()


def main():
    qemu, out = sys.argv[1], sys.argv[2]
    tq.DEVMEM = 1 << 20
    tq.RING = WINDOW                # the engine's rings, in the window
    os.makedirs(out, exist_ok=True)
    for fw, version in RELEASES:
        if os.path.exists(os.path.join(out, 'v%d.txt' % version)):
            print('v%d: recorded already, left as it is' % version)
            continue
        stream, mem, info, types = record(qemu, fw, version)
        assert (tq.TERN_REC_ZERO in types) == (version >= 2)
        for name, data in (('stream', stream), ('mem', mem)):
            with open(os.path.join(out, 'v%d.%s.xz' % (version, name)),
                      'wb') as f:
                f.write(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
        with open(os.path.join(out, 'v%d.txt' % version), 'w') as f:
            f.write(info)
        print('v%d: %d stream bytes, record types %s' %
              (version, len(stream), types))


if __name__ == '__main__':
    main()
