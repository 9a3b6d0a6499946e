/* perf_mcp._accel: the compiled fast lane of Monitor.record_request.
 *
 * A Recorder is bound to one Monitor as its `record_request`. It handles the common call -- a
 * valid request for a series already seen in the current 10 s bucket -- entirely in C, and
 * hands every other call (keywords, new names, another bucket, anything invalid or unusual) to
 * the Python implementation, which stays the reference for behaviour and error messages.
 *
 * The update is one step under the GIL: no Python code runs between reading the Monitor's
 * fast lane and the last write to the accumulator, so the fast lane needs no lock. The Python
 * side keeps that sound by resetting `Monitor._lane` before it takes buckets away, and by
 * updating accumulators only through Recorder.add (the same C step) while a Recorder is bound.
 *
 * Accumulator fields are Python __slots__; their offsets are read once from the member
 * descriptors of the classes passed in, and each object's exact type is checked before use.
 * Build with -ffp-contract=off so the bucket position matches Python's arithmetic exactly.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <time.h>

enum { ACC_STATUS, ACC_SUM, ACC_HIST, ACC_SLOWEST_TS, ACC_SLOWEST_STATUS, ACC_REQ_BYTES,
       ACC_REQ_N, ACC_RESP_BYTES, ACC_RESP_N, ACC_FIELDS };
static const char *acc_names[ACC_FIELDS] = {"status", "sum_ms", "hist", "slowest_ts",
    "slowest_status", "req_bytes", "req_n", "resp_bytes", "resp_n"};
enum { HIST_BINS, HIST_COUNT, HIST_MIN, HIST_MAX, HIST_FIELDS };
static const char *hist_names[HIST_FIELDS] = {"bins", "count", "min", "max"};

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *monitor;   /* the Monitor; its `_lane` is (lo, hi, bucket) or None */
    PyObject *slow;      /* the Python record_request, bound to the Monitor */
    PyObject *clock;     /* NULL: the system clock, as time.time */
    PyTypeObject *bucket_type, *acc_type, *hist_type;
    Py_ssize_t aliases_offset, acc_offsets[ACC_FIELDS], hist_offsets[HIST_FIELDS];
    double inv_log_gamma, offset, min_value, max_duration;
    long size;
    long long max_bytes;
} Recorder;

static PyObject *lane_name;  /* interned "_lane" */

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* Replace a slot's value, taking ownership of `value` (NULL: fail with the error set). */
static int
set_slot(PyObject *obj, Py_ssize_t off, PyObject *value)
{
    if (value == NULL)
        return -1;
    PyObject *old = SLOT(obj, off);
    SLOT(obj, off) = value;
    Py_XDECREF(old);
    return 0;
}

/* The offset of a __slots__ member of `type` (or a base), or -1 with an error set. */
static Py_ssize_t
slot_offset(PyTypeObject *type, const char *name)
{
    PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
    if (descr == NULL)
        return -1;
    Py_ssize_t off = -1;
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDef *def = ((PyMemberDescrObject *)descr)->d_member;
        if (def->type == T_OBJECT_EX && !(def->flags & READONLY))
            off = def->offset;
    }
    Py_DECREF(descr);
    if (off < 0)
        PyErr_Format(PyExc_TypeError, "%s.%s is not a writable slot", type->tp_name, name);
    return off;
}

static PyObject *
add_integer(PyObject *value, long long n)
{
    if (PyLong_CheckExact(value)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (!overflow && !(v == -1 && PyErr_Occurred()) && v < LLONG_MAX - n)
            return PyLong_FromLongLong(v + n);
        PyErr_Clear();
    }
    PyObject *delta = PyLong_FromLongLong(n);
    if (delta == NULL)
        return NULL;
    PyObject *sum = PyNumber_Add(value, delta);
    Py_DECREF(delta);
    return sum;
}

/* Slot += n for a slot holding an int. */
static int
increment(PyObject *obj, Py_ssize_t off, long long n)
{
    return set_slot(obj, off, add_integer(SLOT(obj, off), n));
}

static long
position(Recorder *self, double ms)
{
    if (ms >= self->min_value) {
        long pos = (long)floor(log(ms) * self->inv_log_gamma + self->offset);
        return pos >= self->size ? self->size - 1 : pos;
    }
    return ms > 0 ? 1 : 0;
}

/* Count one request in `acc`, as RequestAcc.add does. `duration` is the caller's number
 * object (kept as the new min or max, like the Python path), `ms` its value. */
static int
add_request(Recorder *self, PyObject *acc, long status, PyObject *duration, double ms,
            PyObject *req, PyObject *resp, PyObject *ts)
{
    const Py_ssize_t *a = self->acc_offsets, *h = self->hist_offsets;
    PyObject *counts = SLOT(acc, a[ACC_STATUS]), *hist = SLOT(acc, a[ACC_HIST]);
    PyObject *sum = SLOT(acc, a[ACC_SUM]);
    if (counts == NULL || !PyList_CheckExact(counts) || PyList_GET_SIZE(counts) != 6
        || hist == NULL || !Py_IS_TYPE(hist, self->hist_type) || sum == NULL) {
        PyErr_SetString(PyExc_TypeError, "not a RequestAcc in its initial shape");
        return -1;
    }
    PyObject *bins = SLOT(hist, h[HIST_BINS]), *lo = SLOT(hist, h[HIST_MIN]);
    PyObject *hi = SLOT(hist, h[HIST_MAX]), *count = SLOT(hist, h[HIST_COUNT]);
    if (bins == NULL || !PyDict_CheckExact(bins) || lo == NULL || hi == NULL || count == NULL) {
        PyErr_SetString(PyExc_TypeError, "not a LogHistogram in its initial shape");
        return -1;
    }
    int below = PyFloat_CheckExact(lo) ? ms < PyFloat_AS_DOUBLE(lo)
                                       : PyObject_RichCompareBool(duration, lo, Py_LT);
    int above = PyFloat_CheckExact(hi) ? ms > PyFloat_AS_DOUBLE(hi)
                                       : PyObject_RichCompareBool(duration, hi, Py_GT);
    if (below < 0 || above < 0)
        return -1;

    PyObject *key = PyLong_FromLong(position(self, ms));
    if (key == NULL)
        return -1;
    PyObject *held = PyDict_GetItemWithError(bins, key);
    PyObject *bin = held ? add_integer(held, 1) : (PyErr_Occurred() ? NULL : PyLong_FromLong(1));
    int failed = bin == NULL || PyDict_SetItem(bins, key, bin) < 0;
    Py_DECREF(key);
    Py_XDECREF(bin);
    if (failed)
        return -1;

    PyObject *item = PyList_GET_ITEM(counts, status / 100);
    PyObject *bumped = add_integer(item, 1);
    if (bumped == NULL)
        return -1;
    PyList_SET_ITEM(counts, status / 100, bumped);
    Py_DECREF(item);

    PyObject *total = PyFloat_CheckExact(sum) ? PyFloat_FromDouble(PyFloat_AS_DOUBLE(sum) + ms)
                                              : PyNumber_Add(sum, duration);
    if (set_slot(acc, a[ACC_SUM], total) < 0 || increment(hist, h[HIST_COUNT], 1) < 0)
        return -1;
    if (below) {
        Py_INCREF(duration);
        set_slot(hist, h[HIST_MIN], duration);
    }
    if (above) {
        Py_INCREF(duration);
        set_slot(hist, h[HIST_MAX], duration);
        Py_INCREF(ts);
        set_slot(acc, a[ACC_SLOWEST_TS], ts);
        if (set_slot(acc, a[ACC_SLOWEST_STATUS], PyLong_FromLong(status)) < 0)
            return -1;
    }
    if (req != Py_None) {
        PyObject *bytes = PyNumber_Add(SLOT(acc, a[ACC_REQ_BYTES]), req);
        if (set_slot(acc, a[ACC_REQ_BYTES], bytes) < 0 || increment(acc, a[ACC_REQ_N], 1) < 0)
            return -1;
    }
    if (resp != Py_None) {
        PyObject *bytes = PyNumber_Add(SLOT(acc, a[ACC_RESP_BYTES]), resp);
        if (set_slot(acc, a[ACC_RESP_BYTES], bytes) < 0 || increment(acc, a[ACC_RESP_N], 1) < 0)
            return -1;
    }
    return 0;
}

/* Whether `value` is None or an exact int in [0, max_bytes]. */
static int
valid_bytes(Recorder *self, PyObject *value)
{
    if (value == Py_None)
        return 1;
    if (!PyLong_CheckExact(value))
        return 0;
    int overflow;
    long long n = PyLong_AsLongLongAndOverflow(value, &overflow);
    return !overflow && n >= 0 && n <= self->max_bytes;
}

/* The fast lane; returns 1 when the request was counted, 0 to defer to Python, -1 on error. */
static int
fast_record(Recorder *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *endpoint = args[0], *method = args[1], *status_obj = args[2];
    PyObject *duration = args[3];
    PyObject *req = nargs > 4 ? args[4] : Py_None, *resp = nargs > 5 ? args[5] : Py_None;
    PyObject *ts = nargs > 6 ? args[6] : Py_None;
    if (!PyUnicode_CheckExact(endpoint) || !PyUnicode_CheckExact(method)
        || !PyLong_CheckExact(status_obj) || !valid_bytes(self, req) || !valid_bytes(self, resp))
        return 0;
    long status = PyLong_AsLong(status_obj);
    if (status < 100 || status > 599) {
        PyErr_Clear();
        return 0;
    }
    double ms;
    if (PyFloat_CheckExact(duration))
        ms = PyFloat_AS_DOUBLE(duration);
    else if (PyLong_CheckExact(duration) && (ms = PyLong_AsDouble(duration)) == -1.0
             && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    else if (!PyLong_CheckExact(duration))
        return 0;
    if (!(ms >= 0.0 && ms <= self->max_duration))
        return 0;

    PyObject *now = NULL;
    if (ts == Py_None) {
        if (self->clock == NULL) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            now = PyFloat_FromDouble((double)t.tv_sec + t.tv_nsec * 1e-9);
        }
        else
            now = PyObject_CallNoArgs(self->clock);
        if (now == NULL)
            return -1;
        ts = now;
    }
    int done = 0;
    PyObject *lane = PyObject_GetAttr(self->monitor, lane_name);
    if (lane == NULL)
        goto out_error;
    if (PyFloat_CheckExact(ts) && PyTuple_CheckExact(lane) && PyTuple_GET_SIZE(lane) == 3) {
        double t = PyFloat_AS_DOUBLE(ts);
        PyObject *lo = PyTuple_GET_ITEM(lane, 0), *hi = PyTuple_GET_ITEM(lane, 1);
        PyObject *bucket = PyTuple_GET_ITEM(lane, 2);
        if (PyFloat_CheckExact(lo) && PyFloat_CheckExact(hi) && Py_IS_TYPE(bucket, self->bucket_type)
            && PyFloat_AS_DOUBLE(lo) <= t && t < PyFloat_AS_DOUBLE(hi)) {
            PyObject *aliases = SLOT(bucket, self->aliases_offset);
            PyObject *by_endpoint = aliases && PyDict_CheckExact(aliases)
                                        ? PyDict_GetItemWithError(aliases, method) : NULL;
            PyObject *acc = by_endpoint && PyDict_CheckExact(by_endpoint)
                                ? PyDict_GetItemWithError(by_endpoint, endpoint) : NULL;
            if (PyErr_Occurred())
                goto out_error;
            if (acc != NULL && Py_IS_TYPE(acc, self->acc_type)) {
                if (add_request(self, acc, status, duration, ms, req, resp, ts) < 0)
                    goto out_error;
                done = 1;
            }
        }
    }
    Py_DECREF(lane);
    Py_XDECREF(now);
    return done;
out_error:
    Py_XDECREF(lane);
    Py_XDECREF(now);
    return -1;
}

static PyObject *
Recorder_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Recorder *self = (Recorder *)op;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames == NULL && nargs >= 4 && nargs <= 7) {
        int done = fast_record(self, args, nargs);
        if (done < 0)
            return NULL;
        if (done)
            Py_RETURN_NONE;
    }
    return PyObject_Vectorcall(self->slow, args, nargsf, kwnames);
}

PyDoc_STRVAR(Recorder_add_doc,
"add(acc, status_code, duration_ms, request_bytes, response_bytes, ts)\n--\n\n"
"Count one checked request in a RequestAcc, in one step under the GIL.");

static PyObject *
Recorder_add(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    Recorder *self = (Recorder *)op;
    if (nargs != 6) {
        PyErr_Format(PyExc_TypeError, "add() takes 6 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *acc = args[0], *duration = args[2];
    if (!Py_IS_TYPE(acc, self->acc_type)) {
        PyErr_SetString(PyExc_TypeError, "add() needs a RequestAcc");
        return NULL;
    }
    long status = PyLong_AsLong(args[1]);
    if (status == -1 && PyErr_Occurred())
        return NULL;
    double ms = PyFloat_AsDouble(duration);
    if (ms == -1.0 && PyErr_Occurred())
        return NULL;
    if (status < 100 || status > 599 || !(ms >= 0.0 && ms <= self->max_duration)) {
        PyErr_SetString(PyExc_ValueError, "add() takes checked values only");
        return NULL;
    }
    if (add_request(self, acc, status, duration, ms, args[3], args[4], args[5]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int
Recorder_init(PyObject *op, PyObject *args, PyObject *kwds)
{
    Recorder *self = (Recorder *)op;
    static char *kwlist[] = {"monitor", "slow", "clock", "bucket_type", "acc_type", "hist_type",
                             "inv_log_gamma", "offset", "min_value", "size", "max_duration",
                             "max_bytes", NULL};
    PyObject *monitor, *slow, *clock, *bucket_type, *acc_type, *hist_type;
    double inv_log_gamma, offset, min_value, max_duration;
    long size;
    long long max_bytes;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "$OOOO!O!O!dddldL", kwlist, &monitor, &slow,
                                     &clock, &PyType_Type, &bucket_type, &PyType_Type, &acc_type,
                                     &PyType_Type, &hist_type, &inv_log_gamma, &offset, &min_value,
                                     &size, &max_duration, &max_bytes))
        return -1;
    if (self->monitor != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a Recorder is initialized once");
        return -1;
    }
    self->bucket_type = (PyTypeObject *)Py_NewRef(bucket_type);
    self->acc_type = (PyTypeObject *)Py_NewRef(acc_type);
    self->hist_type = (PyTypeObject *)Py_NewRef(hist_type);
    self->monitor = Py_NewRef(monitor);
    self->slow = Py_NewRef(slow);
    self->clock = clock == Py_None ? NULL : Py_NewRef(clock);
    if ((self->aliases_offset = slot_offset(self->bucket_type, "aliases")) < 0)
        return -1;
    for (int i = 0; i < ACC_FIELDS; i++)
        if ((self->acc_offsets[i] = slot_offset(self->acc_type, acc_names[i])) < 0)
            return -1;
    for (int i = 0; i < HIST_FIELDS; i++)
        if ((self->hist_offsets[i] = slot_offset(self->hist_type, hist_names[i])) < 0)
            return -1;
    self->inv_log_gamma = inv_log_gamma;
    self->offset = offset;
    self->min_value = min_value;
    self->size = size;
    self->max_duration = max_duration;
    self->max_bytes = max_bytes;
    self->vectorcall = Recorder_vectorcall;
    return 0;
}

static int
Recorder_traverse(PyObject *op, visitproc visit, void *arg)
{
    Recorder *self = (Recorder *)op;
    Py_VISIT(self->monitor);
    Py_VISIT(self->slow);
    Py_VISIT(self->clock);
    Py_VISIT(self->bucket_type);
    Py_VISIT(self->acc_type);
    Py_VISIT(self->hist_type);
    return 0;
}

static int
Recorder_clear(PyObject *op)
{
    Recorder *self = (Recorder *)op;
    Py_CLEAR(self->monitor);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->clock);
    Py_CLEAR(self->bucket_type);
    Py_CLEAR(self->acc_type);
    Py_CLEAR(self->hist_type);
    return 0;
}

static void
Recorder_dealloc(PyObject *op)
{
    PyObject_GC_UnTrack(op);
    Recorder_clear(op);
    Py_TYPE(op)->tp_free(op);
}

static PyObject *
Recorder_call(PyObject *op, PyObject *args, PyObject *kwargs)
{
    Recorder *self = (Recorder *)op;
    if (self->slow == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Recorder is not initialized");
        return NULL;
    }
    return PyVectorcall_Call(op, args, kwargs);
}

static PyMethodDef Recorder_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Recorder_add, METH_FASTCALL, Recorder_add_doc},
    {NULL, NULL, 0, NULL},
};

static PyObject *
Recorder_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Recorder *self = (Recorder *)type->tp_alloc(type, 0);
    if (self != NULL)
        self->vectorcall = NULL;  /* set by __init__; until then calls go through tp_call */
    return (PyObject *)self;
}

static PyTypeObject RecorderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "perf_mcp._accel.Recorder",
    .tp_doc = PyDoc_STR("Monitor.record_request's compiled fast lane, bound to one Monitor."),
    .tp_basicsize = sizeof(Recorder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Recorder, vectorcall),
    .tp_new = Recorder_new,
    .tp_init = Recorder_init,
    .tp_call = Recorder_call,
    .tp_traverse = Recorder_traverse,
    .tp_clear = Recorder_clear,
    .tp_dealloc = Recorder_dealloc,
    .tp_methods = Recorder_methods,
};

static struct PyModuleDef accel_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "perf_mcp._accel",
    .m_doc = "The compiled fast lane of Monitor.record_request (optional; Python is the reference).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__accel(void)
{
    lane_name = PyUnicode_InternFromString("_lane");
    if (lane_name == NULL || PyType_Ready(&RecorderType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&accel_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "Recorder", (PyObject *)&RecorderType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
