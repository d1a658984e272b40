"""The download engine's disk side: received blocks written and hashed at once, memory flat.

`Spool` takes blocks from a fixed pool, hands each to a writer thread (into the `.part` file,
with O_DIRECT where the file system allows) and to a hasher thread (sha256) while the caller
reads the next block from the socket. What to fetch, from where, whether to resume, and when a
part may take its name is the transfer policy, in `downloads`.
"""

import errno
import hashlib
import mmap
import os
import queue
import threading

CHUNK = 1 << 20  # reading a part back to hash it
BLOCK = 4 << 20  # one write (and one hash update); the pool holds Spool.POOL of them: memory stays flat
ALIGN = max(4096, mmap.PAGESIZE)  # O_DIRECT wants offsets, lengths and buffers aligned to this


class Block:
    """One page-aligned buffer of the pool (anonymous mmap: aligned as O_DIRECT needs)."""

    def __init__(self):
        self.mem = mmap.mmap(-1, BLOCK)
        self.view = memoryview(self.mem)
        self.pending = 0  # how many of the writer and the hasher still have to read it


class Spool:
    """Where received blocks go: a writer thread puts them into the part, a hasher thread into
    sha256, both at once (file writes and hashlib let go of the GIL), while the caller reads the
    next block from the socket. A fixed pool of blocks keeps memory flat at any file size.

    Whole aligned blocks are written with O_DIRECT: they go from the block to the disk without a
    copy into the page cache, and are on disk once written, so the fsync before the part gets its
    name finds nothing left to write. Through the page cache, every byte is first copied into
    pages the kernel has to find (on the 2-CPU VM of bench/bench_download.py, where free memory
    goes back to the host, that copy alone took 0.2-3.6 s for 1 GiB), then written back: the
    buffered engine took 2.1-6.1 s for 1 GiB in process, of it 0.3 s of fsync, against 1.0-2.0 s
    now with an fsync of ~0.01 s (dd: 1.4-2.3 GB/s direct, 0.2-0.5 GB/s buffered with fsync).
    A resumed part's unaligned start and the short last block go through an ordinary descriptor,
    and so does everything on a file system that refuses O_DIRECT. A model file's bytes are then
    not left in the page cache; a multi-GB model pushing everything else out of it was no gain.
    Hashing is the longest stage (sha256 at ~1.7 GB/s with SHA-NI: 0.6 s of CPU a GiB)."""

    POOL = 4

    def __init__(self, part, offset):
        self.position = offset  # where the next block goes in the part
        self.received = offset
        self.sha = hashlib.sha256()
        self.error = None
        self._started = False
        self.fd = os.open(part, os.O_WRONLY | os.O_CREAT | (0 if offset else os.O_TRUNC), 0o644)
        try:
            if offset:
                os.ftruncate(self.fd, offset)  # exactly the bytes hashed below, nothing after them
                hash_file(part, self.sha, offset)
            self.dfd = open_direct(part)
            self.free = queue.Queue()
            for _ in range(self.POOL):
                self.free.put(Block())
        except BaseException:
            os.close(self.fd)
            raise
        self._lock = threading.Lock()
        self._to_write, self._to_hash = queue.Queue(), queue.Queue()
        self._threads = [threading.Thread(target=self._writer, daemon=True),
                         threading.Thread(target=self._hasher, daemon=True)]
        for t in self._threads:
            t.start()
        self._started = True

    def take(self):
        block = self.free.get()
        if self.error:
            self.free.put(block)
            raise self.error
        return block

    def room(self):
        """How many bytes the next block holds: up to the next aligned offset, then whole blocks."""
        return BLOCK - self.received % ALIGN

    def put(self, block, n):
        block.pending = 2
        self.received += n
        self._to_write.put((block, n))
        self._to_hash.put((block, n))
        if self.error:
            raise self.error

    def give_back(self, block):
        self.free.put(block)

    def _done_with(self, block):
        with self._lock:
            block.pending -= 1
            last = block.pending == 0
        if last:
            self.free.put(block)

    def _drain(self, queue, work):
        """One stage's thread: each block handed to it, until the None that ends the download."""
        while True:
            item = queue.get()
            if item is None:
                return
            block, n = item
            work(block.view[:n])
            self._done_with(block)

    def _writer(self):
        self._drain(self._to_write, self._write_once)

    def _write_once(self, data):
        if self.error is None:  # after a failed write the rest is only handed back, never written
            try:
                self._write(data)
            except OSError as exc:
                self.error = exc

    def _write(self, data):
        while data:
            direct = self.dfd is not None and self.position % ALIGN == 0 and len(data) % ALIGN == 0
            try:
                n = os.pwrite(self.dfd if direct else self.fd, data, self.position)
            except OSError as exc:
                if not direct or exc.errno != errno.EINVAL:
                    raise
                os.close(self.dfd)  # the file system takes O_DIRECT opens but not these writes
                self.dfd = None
                continue
            self.position += n
            data = data[n:]

    def _hasher(self):
        self._drain(self._to_hash, self.sha.update)

    def close(self):
        """Wait for every block put so far to be written and hashed; raise a write's error."""
        if self._started:
            self._started = False
            self._to_write.put(None)
            self._to_hash.put(None)
            for t in self._threads:
                t.join()
        if self.error:
            raise self.error

    def discard(self):
        """Close the descriptors (once the threads are done: close() first)."""
        for fd in (self.fd, self.dfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.fd = self.dfd = None

    def hexdigest(self):
        self.close()
        return self.sha.hexdigest()


def open_direct(part):
    """A second descriptor on the part for O_DIRECT writes, or None where that is not to be had."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        return os.open(part, os.O_WRONLY | flag)
    except OSError:
        return None


def hash_file(path, digest, upto):
    with open(path, "rb") as f:
        left = upto
        while left > 0:
            block = f.read(min(CHUNK, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
