/*
 * layerpeek._speedups: the one loop of layerpeek.table that NumPy cannot do.
 *
 * A pcap file is a chain: where record k+1 starts is known only once record
 * k's captured length has been read.  Everything after that walk is
 * vectorised (layerpeek/columnar.py); the walk itself is sequential, and in
 * Python it costs about as much as the whole vectorised decode.  Here it is
 * a plain loop, run without the GIL.
 *
 * Optional: setup.py builds this module only if a C compiler is present, and
 * layerpeek.columnar falls back to the same walk in Python without it
 * (tests/test_speedups.py holds the two to the same results).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* How far ahead of the walk the file is fetched into the CPU's caches.
 * Each record header is a new cache line whose address is known only once
 * the previous header has been read, so a plain walk waits for main memory
 * at every record (about 110 ns a record on the machine this was measured
 * on).  Fetching every line a little ahead turns that into one sequential
 * stream: 14.7 -> 4.5 ms for the 137 000 records of the bench capture
 * (1024-16384 bytes ahead all did as well; 64 KiB ahead no better than none).
 */
#define PREFETCH_AHEAD 2048
/* How many rows ahead copy_windows asks for a row's lines. */
#define COPY_AHEAD 8
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif

static uint32_t
read_u32(const unsigned char *p, int big_endian)
{
    if (big_endian)
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

PyDoc_STRVAR(pcap_walk_doc,
"pcap_walk(buffer, start, big_endian, max_caplen) -> (starts, headers, stop)\n\n"
"Walk pcap record headers from byte ``start`` of ``buffer``.\n\n"
"``starts`` (a bytearray of native int64 values) holds the offset of every\n"
"record whose 16-byte header lies wholly inside the buffer, in file order,\n"
"and ``headers`` (a bytearray) those 16-byte headers one after the other,\n"
"copied while each is in the CPU's cache.  The walk ends at the first\n"
"header that is not whole (``stop`` is its offset, or the buffer's length)\n"
"or after a record whose captured length exceeds ``max_caplen`` (that\n"
"record is the last taken, ``stop`` is its offset).  Whether the last\n"
"record's data is whole is the caller's test.");

/* Make room in ``array`` (a bytearray) for ``items`` items of ``size`` bytes,
 * doubling; the caller holds the GIL. */
static int
reserve(PyObject *array, size_t items, size_t size, size_t *capacity)
{
    if (items <= *capacity)
        return 1;
    size_t wanted = *capacity ? *capacity : 4096;
    while (wanted < items) {
        if (wanted > ((size_t)PY_SSIZE_T_MAX) / 2 / size) {
            PyErr_NoMemory();
            return 0;
        }
        wanted *= 2;
    }
    if (PyByteArray_Resize(array, (Py_ssize_t)(wanted * size)) < 0)
        return 0;
    *capacity = wanted;
    return 1;
}

/* What a walk takes: each record's offset and a copy of its header, in two
 * bytearrays that grow as the walk goes (only the walk sees them until it
 * hands them over, so it fills them without the GIL). */
typedef struct {
    PyObject *starts;  /* native int64 offsets */
    PyObject *headers; /* header_size bytes a record */
    size_t header_size, count, capacity, headers_capacity;
} Taken;

static int
taken_init(Taken *taken, Py_ssize_t start, size_t header_size)
{
    memset(taken, 0, sizeof(*taken));
    taken->header_size = header_size;
    if (start < 0) {
        PyErr_SetString(PyExc_ValueError, "start must not be negative");
        return 0;
    }
    taken->starts = PyByteArray_FromStringAndSize(NULL, 0);
    taken->headers = PyByteArray_FromStringAndSize(NULL, 0);
    return taken->starts != NULL && taken->headers != NULL;
}

/* Room for one more record, if there is none (the arrays double); the
 * caller holds the GIL. */
static int
taken_room(Taken *taken)
{
    return reserve(taken->starts, taken->count + 1, sizeof(int64_t), &taken->capacity)
           && reserve(taken->headers, taken->capacity, taken->header_size,
                      &taken->headers_capacity);
}

/* taken_room from a walk that has let go of the GIL (``save`` is what
 * PyEval_SaveThread gave it): takes the GIL back only when the arrays are
 * full.  0 on failure, with the error set. */
static int
taken_room_unlocked(Taken *taken, PyThreadState **save)
{
    if (taken->count < taken->capacity)
        return 1;
    PyEval_RestoreThread(*save);
    int ok = taken_room(taken);
    *save = PyEval_SaveThread();
    return ok;
}

/* ``header_size`` is the walk's own, a constant where it is called: the copy
 * is then a move or two, not a call to memcpy. */
static inline void
taken_add(Taken *taken, uint64_t pos, const unsigned char *header, size_t header_size)
{
    ((int64_t *)PyByteArray_AS_STRING(taken->starts))[taken->count] = (int64_t)pos;
    memcpy(PyByteArray_AS_STRING(taken->headers) + header_size * taken->count, header,
           header_size);
    taken->count++;
}

/* ``(starts, headers, stop)``, or NULL with the error set if the walk
 * failed (``ok`` 0) or the arrays cannot be cut to size; the arrays are
 * released either way. */
static PyObject *
taken_finish(Taken *taken, int ok, uint64_t stop)
{
    PyObject *result = NULL;
    if (ok && taken->starts != NULL && taken->headers != NULL
        && PyByteArray_Resize(taken->starts, (Py_ssize_t)(taken->count * sizeof(int64_t))) == 0
        && PyByteArray_Resize(taken->headers,
                              (Py_ssize_t)(taken->count * taken->header_size)) == 0)
        result = Py_BuildValue("(OOK)", taken->starts, taken->headers, (unsigned long long)stop);
    Py_XDECREF(taken->starts);
    Py_XDECREF(taken->headers);
    return result;
}

/* Ask for the file's lines up to PREFETCH_AHEAD bytes past ``pos``. */
static void
fetch_ahead(const unsigned char *data, uint64_t size, uint64_t pos, uint64_t *fetched)
{
    uint64_t ahead = size - pos > PREFETCH_AHEAD ? pos + PREFETCH_AHEAD : size;
    for (; *fetched < ahead; *fetched += 64)
        PREFETCH(data + *fetched);
}

static PyObject *
pcap_walk(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t start;
    int big_endian;
    unsigned long long max_caplen;
    (void)module;
    if (!PyArg_ParseTuple(args, "y*npK:pcap_walk", &view, &start, &big_endian, &max_caplen))
        return NULL;
    Taken taken;
    int ok = taken_init(&taken, start, 16);
    const unsigned char *data = (const unsigned char *)view.buf;
    const uint64_t size = (uint64_t)view.len;
    uint64_t pos = (uint64_t)(start < 0 ? 0 : start), fetched = pos;
    if (ok) {
        PyThreadState *save = PyEval_SaveThread();
        while (pos <= size && size - pos >= 16) {
            fetch_ahead(data, size, pos, &fetched);
            if (!(ok = taken_room_unlocked(&taken, &save)))
                break;
            taken_add(&taken, pos, data + pos, 16);
            uint32_t caplen = read_u32(data + pos + 8, big_endian);
            if ((unsigned long long)caplen > max_caplen)
                break;
            pos += 16 + (uint64_t)caplen;
        }
        PyEval_RestoreThread(save);
    }
    PyObject *result = taken_finish(&taken, ok, pos > size ? size : pos);
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(pcapng_walk_doc,
"pcapng_walk(buffer, start, big_endian, max_block) -> (starts, headers, stop)\n\n"
"Walk a run of Enhanced Packet Blocks from byte ``start`` of ``buffer``, in\n"
"one section's byte order.  ``starts`` (a bytearray of native int64 values)\n"
"holds each block's offset, ``headers`` (a bytearray) the 20 bytes after its\n"
"type and length (interface, timestamp high and low, captured and original\n"
"length) as they are in the file.  The walk stops, at ``stop``, before the\n"
"first block that is not a well-formed Enhanced Packet Block of at least 32\n"
"bytes wholly inside the buffer (another block type, a bad length or\n"
"trailer, a cut): the caller reads that one as it reads every other block.");

static PyObject *
pcapng_walk(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t start;
    int big_endian;
    unsigned long long max_block;
    (void)module;
    if (!PyArg_ParseTuple(args, "y*npK:pcapng_walk", &view, &start, &big_endian, &max_block))
        return NULL;
    Taken taken;
    int ok = taken_init(&taken, start, 20);
    const unsigned char *data = (const unsigned char *)view.buf;
    const uint64_t size = (uint64_t)view.len;
    uint64_t pos = (uint64_t)(start < 0 ? 0 : start), fetched = pos;
    if (ok) {
        PyThreadState *save = PyEval_SaveThread();
        while (pos <= size && size - pos >= 12) {
            fetch_ahead(data, size, pos, &fetched);
            uint32_t type = read_u32(data + pos, big_endian);
            uint32_t length = read_u32(data + pos + 4, big_endian);
            if (type != 6 || length < 32 || length % 4 || length > max_block
                || length > size - pos
                || read_u32(data + pos + length - 4, big_endian) != length)
                break;
            if (!(ok = taken_room_unlocked(&taken, &save)))
                break;
            taken_add(&taken, pos, data + pos + 8, 20);
            pos += length;
        }
        PyEval_RestoreThread(save);
    }
    PyObject *result = taken_finish(&taken, ok, pos > size ? size : pos);
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(copy_windows_doc,
"copy_windows(buffer, bases, width) -> bytes\n\n"
"Copy ``width`` bytes of ``buffer`` from each offset in ``bases`` (native\n"
"int64 values, none negative) into one block, row after row; bytes past the\n"
"end of the buffer are zeros.  What numpy's gather of rows does, without\n"
"its per-row machinery: the rows are far apart in a large capture, and\n"
"this copy is the last time each is read from the file.");

static PyObject *
copy_windows(PyObject *module, PyObject *args)
{
    Py_buffer view, bases_view;
    Py_ssize_t width;
    (void)module;
    if (!PyArg_ParseTuple(args, "y*y*n:copy_windows", &view, &bases_view, &width))
        return NULL;
    PyObject *block = NULL;
    if (width <= 0 || bases_view.len % (Py_ssize_t)sizeof(int64_t) != 0) {
        PyErr_SetString(PyExc_ValueError, "width must be positive, bases whole int64 values");
        goto done;
    }
    const Py_ssize_t rows = bases_view.len / (Py_ssize_t)sizeof(int64_t);
    if (rows > PY_SSIZE_T_MAX / width) {
        PyErr_NoMemory();
        goto done;
    }
    const int64_t *bases = (const int64_t *)bases_view.buf;
    for (Py_ssize_t i = 0; i < rows; i++) {
        if (bases[i] < 0) {
            PyErr_SetString(PyExc_ValueError, "bases must not be negative");
            goto done;
        }
    }
    block = PyBytes_FromStringAndSize(NULL, rows * width);
    if (block == NULL)
        goto done;
    {
        unsigned char *out = (unsigned char *)PyBytes_AS_STRING(block);
        const unsigned char *data = (const unsigned char *)view.buf;
        const uint64_t size = (uint64_t)view.len, w = (uint64_t)width;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < rows; i++, out += width) {
            /* The rows are far apart: ask for a later row's lines now, so
             * that several are on their way from memory at once. */
            if (i + COPY_AHEAD < rows && (uint64_t)bases[i + COPY_AHEAD] < size) {
                const unsigned char *later = data + bases[i + COPY_AHEAD];
                uint64_t room = size - (uint64_t)bases[i + COPY_AHEAD];
                for (uint64_t line = 0; line < w && line < room; line += 64)
                    PREFETCH(later + line);
            }
            uint64_t base = (uint64_t)bases[i];
            uint64_t have = base >= size ? 0 : (size - base < w ? size - base : w);
            if (have)
                memcpy(out, data + base, (size_t)have);
            if (have < w)
                memset(out + have, 0, (size_t)(w - have));
        }
        Py_END_ALLOW_THREADS
    }
done:
    PyBuffer_Release(&view);
    PyBuffer_Release(&bases_view);
    return block;
}

static PyMethodDef methods[] = {
    {"pcap_walk", pcap_walk, METH_VARARGS, pcap_walk_doc},
    {"pcapng_walk", pcapng_walk, METH_VARARGS, pcapng_walk_doc},
    {"copy_windows", copy_windows, METH_VARARGS, copy_windows_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "layerpeek._speedups",
    "Compiled loops for layerpeek.table (optional; pure-Python equivalents exist).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module_def);
}
