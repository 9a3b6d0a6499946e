/* perf_mcp._accel: the compiled fast lanes of Monitor's record_request, record_agent_run and
 * record_tool_call.
 *
 * A Recorder is bound to one Monitor as its `record_request` (kind "request"),
 * `record_agent_run` (kind "agent") or `record_tool_call` (kind "tool"). It handles the common
 * call -- valid values for series already seen in the current 10 s bucket (agent runs by
 * keyword without nested tool calls; tool calls by position without a timestamp) --
 * entirely in C, and hands every other call (new names, another bucket, anything invalid or
 * unusual) to the Python implementation, which stays the reference for behaviour and errors.
 *
 * The update is one step under the GIL: no Python code runs between reading the Monitor's
 * fast lane and the last write to the accumulators (in between, only ints and floats are
 * made: objects the cyclic GC does not track, so no collection and no finalizer can run), so
 * the fast lane needs no lock. The Python
 * side keeps that sound by resetting `Monitor._lane` before it takes buckets away, and by
 * updating accumulators only through Recorder.add / Recorder.add_run (the same C steps) while
 * a Recorder is bound.
 *
 * Accumulator fields are Python __slots__; their offsets are read once from the member
 * descriptors of the classes passed in, and each object's exact type is checked before use.
 * Build with -ffp-contract=off so the bucket position matches Python's arithmetic exactly.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <string.h>
#include <time.h>

enum { ACC_STATUS, ACC_SUM, ACC_HIST, ACC_SLOWEST_TS, ACC_SLOWEST_STATUS, ACC_REQ_BYTES,
       ACC_REQ_N, ACC_RESP_BYTES, ACC_RESP_N, ACC_FIELDS };
static const char *acc_names[ACC_FIELDS] = {"status", "sum_ms", "hist", "slowest_ts",
    "slowest_status", "req_bytes", "req_n", "resp_bytes", "resp_n"};
enum { HIST_BINS, HIST_COUNT, HIST_MIN, HIST_MAX, HIST_FIELDS };
static const char *hist_names[HIST_FIELDS] = {"bins", "count", "min", "max"};
enum { RUN_SUM, RUN_HIST, RUN_FAILURES, RUN_ERRORS, RUN_INPUT, RUN_OUTPUT, RUN_CACHE_READ,
       RUN_COST, RUN_TOOL_CALLS, RUN_TOOLS, RUN_FIELDS };
static const char *run_names[RUN_FIELDS] = {"sum_ms", "hist", "failures", "errors",
    "input_tokens", "output_tokens", "cache_read_tokens", "cost_usd", "tool_calls", "tools"};
/* record_agent_run's keywords the agent lane takes; any other keyword goes to Python. */
enum { KW_AGENT, KW_DURATION, KW_SUCCESS, KW_ERROR, KW_MODEL, KW_PROVIDER, KW_INPUT, KW_OUTPUT,
       KW_CACHE_READ, KW_COST, KW_RUN_ID, KW_CONVERSATION, KW_COUNT };
static const char *kw_names[KW_COUNT] = {"agent_name", "duration_ms", "success", "error_type",
    "model", "provider", "input_tokens", "output_tokens", "cache_read_tokens", "cost_usd",
    "run_id", "conversation_id"};

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *monitor;   /* the Monitor; its `_lane` is (lo, hi, bucket) or None */
    PyObject *slow;      /* the Python method this lane stands in for, bound to the Monitor */
    PyObject *clock;     /* NULL: the system clock, as time.time */
    PyTypeObject *bucket_type, *acc_type, *hist_type, *run_type;
    Py_ssize_t aliases_offset, runs_offset, acc_offsets[ACC_FIELDS], hist_offsets[HIST_FIELDS],
        run_offsets[RUN_FIELDS];
    PyObject *other;     /* the label that new labels fold into past label_budget */
    double inv_log_gamma, offset, min_value, max_duration, max_cost;
    long size;
    long long max_bytes, max_tokens;
    Py_ssize_t label_budget, max_name, max_pending_raw;
} Recorder;

/* Interned names: Monitor attributes, run kinds and the agent lane's keywords. */
static PyObject *lane_name, *agent_runs_name, *tool_calls_name, *dropped_raw_name;
static PyObject *agent_kind, *model_kind, *tool_kind;
static PyObject *kw_strings[KW_COUNT], *int_zero, *empty_tuple;

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

/* Add one sample to a LogHistogram and to the accumulator's `sum_ms` slot, as the Python
 * accumulators do: `duration` is the caller's number object (kept as the new min or max),
 * `ms` its value. Sets *above when it is the new maximum. */
static int
add_sample(Recorder *self, PyObject *hist, PyObject *acc, Py_ssize_t sum_offset,
           PyObject *duration, double ms, int *above)
{
    const Py_ssize_t *h = self->hist_offsets;
    PyObject *sum = SLOT(acc, sum_offset);
    if (hist == NULL || !Py_IS_TYPE(hist, self->hist_type) || sum == NULL) {
        PyErr_SetString(PyExc_TypeError, "not an accumulator in its initial shape");
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
    *above = PyFloat_CheckExact(hi) ? ms > PyFloat_AS_DOUBLE(hi)
                                    : PyObject_RichCompareBool(duration, hi, Py_GT);
    if (below < 0 || *above < 0)
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

    PyObject *total = PyFloat_CheckExact(sum) ? PyFloat_FromDouble(PyFloat_AS_DOUBLE(sum) + ms)
                                              : PyNumber_Add(sum, duration);
    if (set_slot(acc, sum_offset, total) < 0 || increment(hist, h[HIST_COUNT], 1) < 0)
        return -1;
    if (below) {
        Py_INCREF(duration);
        set_slot(hist, h[HIST_MIN], duration);
    }
    if (*above) {
        Py_INCREF(duration);
        set_slot(hist, h[HIST_MAX], duration);
    }
    return 0;
}

/* Count one request in `acc`, as RequestAcc.add does. */
static int
add_request(Recorder *self, PyObject *acc, long status, PyObject *duration, double ms,
            PyObject *req, PyObject *resp, PyObject *ts)
{
    const Py_ssize_t *a = self->acc_offsets;
    PyObject *counts = SLOT(acc, a[ACC_STATUS]);
    if (counts == NULL || !PyList_CheckExact(counts) || PyList_GET_SIZE(counts) != 6) {
        PyErr_SetString(PyExc_TypeError, "not a RequestAcc in its initial shape");
        return -1;
    }
    int above;
    if (add_sample(self, SLOT(acc, a[ACC_HIST]), acc, a[ACC_SUM], duration, ms, &above) < 0)
        return -1;

    PyObject *item = PyList_GET_ITEM(counts, status / 100);
    PyObject *bumped = add_integer(item, 1);
    if (bumped == NULL)
        return -1;
    PyList_SET_ITEM(counts, status / 100, bumped);
    Py_DECREF(item);
    if (above) {
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

/* counts[label] += n, folding a new label into `other` once label_budget are known. */
static int
add_label(Recorder *self, PyObject *counts, PyObject *label, long long n)
{
    if (!PyDict_CheckExact(counts)) {
        PyErr_SetString(PyExc_TypeError, "label counts must be a dict");
        return -1;
    }
    PyObject *held = PyDict_GetItemWithError(counts, label);
    if (held == NULL) {
        if (PyErr_Occurred())
            return -1;
        if (PyDict_GET_SIZE(counts) >= self->label_budget) {
            label = self->other;
            held = PyDict_GetItemWithError(counts, label);
            if (held == NULL && PyErr_Occurred())
                return -1;
        }
    }
    PyObject *count = held ? add_integer(held, n) : PyLong_FromLongLong(n);
    if (count == NULL)
        return -1;
    int failed = PyDict_SetItem(counts, label, count);
    Py_DECREF(count);
    return failed;
}

/* Count one run or tool call in a RunAcc, as RunAcc.add_run does: `duration` is the
 * caller's number object, `ms` its value, `tools` a sequence of the tool names a run called
 * (counted, with the usage, only when some usage is reported). */
static int
add_run(Recorder *self, PyObject *acc, PyObject *duration, double ms, PyObject *error_type,
        int failed, PyObject *input, PyObject *output, PyObject *cache_read, PyObject *cost,
        PyObject *tools)
{
    const Py_ssize_t *r = self->run_offsets;
    int above;
    if (add_sample(self, SLOT(acc, r[RUN_HIST]), acc, r[RUN_SUM], duration, ms, &above) < 0)
        return -1;
    if (failed) {
        PyObject *errors = SLOT(acc, r[RUN_ERRORS]);
        if (increment(acc, r[RUN_FAILURES], 1) < 0 || errors == NULL)
            return -1;
        int named = error_type != Py_None && PyObject_IsTrue(error_type);
        if (named < 0)
            return -1;
        PyObject *label = named ? Py_NewRef(error_type) : PyUnicode_FromString("unknown");
        if (label == NULL)
            return -1;
        int failed_label = add_label(self, errors, label, 1);
        Py_DECREF(label);
        if (failed_label < 0)
            return -1;
    }
    Py_ssize_t calls = PySequence_Size(tools);
    if (calls < 0)
        return -1;
    int used = calls > 0;
    PyObject *usage[4] = {input, output, cache_read, cost};
    for (int i = 0; i < 4 && !used; i++)
        if ((used = PyObject_IsTrue(usage[i])) < 0)
            return -1;
    if (!used)
        return 0;
    static const int usage_slots[4] = {RUN_INPUT, RUN_OUTPUT, RUN_CACHE_READ, RUN_COST};
    for (int i = 0; i < 4; i++) {
        Py_ssize_t off = r[usage_slots[i]];
        if (set_slot(acc, off, PyNumber_Add(SLOT(acc, off), usage[i])) < 0)
            return -1;
    }
    if (increment(acc, r[RUN_TOOL_CALLS], calls) < 0)
        return -1;
    PyObject *counts = SLOT(acc, r[RUN_TOOLS]);
    for (Py_ssize_t i = 0; i < calls; i++) {
        PyObject *name = PySequence_GetItem(tools, i);
        int failed_label = name == NULL || counts == NULL || add_label(self, counts, name, 1) < 0;
        Py_XDECREF(name);
        if (failed_label)
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

/* Whether `value` is None or an exact str of at most max_name characters. */
static int
plain_label(Recorder *self, PyObject *value)
{
    return value == Py_None
           || (PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) <= self->max_name);
}

/* Whether `value` is an exact int in [0, max_tokens]. */
static int
plain_count(Recorder *self, PyObject *value)
{
    if (!PyLong_CheckExact(value))
        return 0;
    int overflow;
    long long n = PyLong_AsLongLongAndOverflow(value, &overflow);
    return !overflow && n >= 0 && n <= self->max_tokens;
}

/* A float object for an exact float or int in [0, max]; NULL (no error set) otherwise. */
static PyObject *
plain_number(PyObject *value, double max)
{
    double x;
    if (PyFloat_CheckExact(value))
        x = PyFloat_AS_DOUBLE(value);
    else if (PyLong_CheckExact(value)) {
        x = PyLong_AsDouble(value);
        if (x == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return NULL;
        }
    }
    else
        return NULL;
    if (!(x >= 0.0 && x <= max))
        return NULL;
    return PyFloat_CheckExact(value) ? Py_NewRef(value) : PyFloat_FromDouble(x);
}

/* Whether a str has a character other than whitespace (as `name.strip()` is truthy). */
static int
has_text(PyObject *name)
{
    int kind = PyUnicode_KIND(name);
    const void *data = PyUnicode_DATA(name);
    for (Py_ssize_t i = 0, n = PyUnicode_GET_LENGTH(name); i < n; i++)
        if (!Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i)))
            return 1;
    return 0;
}

/* The run accumulator under `key` (kind, name) in the bucket's runs, borrowed; NULL if not
 * there (or with an error set). */
static PyObject *
run_acc(Recorder *self, PyObject *runs, PyObject *key)
{
    PyObject *acc = PyDict_GetItemWithError(runs, key);
    return acc != NULL && Py_IS_TYPE(acc, self->run_type) ? acc : NULL;
}

/* Append a raw row to the Monitor's list `name`, or count it in dropped_raw when full. */
static int
keep_raw(Recorder *self, PyObject *records, PyObject *row)
{
    if (PyList_GET_SIZE(records) < self->max_pending_raw)
        return PyList_Append(records, row);
    PyObject *dropped = PyObject_GetAttr(self->monitor, dropped_raw_name);
    PyObject *more = dropped ? add_integer(dropped, 1) : NULL;
    Py_XDECREF(dropped);
    int failed = more == NULL || PyObject_SetAttr(self->monitor, dropped_raw_name, more) < 0;
    Py_XDECREF(more);
    return failed ? -1 : 0;
}

/* The current time as a float object: the system clock, or the Monitor's own. */
static PyObject *
now(Recorder *self)
{
    if (self->clock != NULL)
        return PyObject_CallNoArgs(self->clock);
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return PyFloat_FromDouble((double)t.tv_sec + t.tv_nsec * 1e-9);
}

/* The bucket of the Monitor's fast lane (borrowed from `lane`) if `ts` falls in it. */
static PyObject *
lane_bucket(Recorder *self, PyObject *lane, PyObject *ts)
{
    if (!PyFloat_CheckExact(ts) || !PyTuple_CheckExact(lane) || PyTuple_GET_SIZE(lane) != 3)
        return NULL;
    PyObject *lo = PyTuple_GET_ITEM(lane, 0), *hi = PyTuple_GET_ITEM(lane, 1);
    PyObject *bucket = PyTuple_GET_ITEM(lane, 2);
    double t = PyFloat_AS_DOUBLE(ts);
    if (!PyFloat_CheckExact(lo) || !PyFloat_CheckExact(hi) || !Py_IS_TYPE(bucket, self->bucket_type)
        || !(PyFloat_AS_DOUBLE(lo) <= t && t < PyFloat_AS_DOUBLE(hi)))
        return NULL;
    return bucket;
}

/* The agent lane; 1 when the run was counted, 0 to defer to Python, -1 on error. */
static int
fast_agent_run(Recorder *self, PyObject *const *values, PyObject *kwnames)
{
    PyObject *kw[KW_COUNT] = {NULL};
    for (Py_ssize_t i = 0, n = PyTuple_GET_SIZE(kwnames); i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        int k = 0;
        while (k < KW_COUNT && name != kw_strings[k]
               && !(PyUnicode_Check(name) && PyUnicode_Compare(name, kw_strings[k]) == 0))
            k++;
        if (k == KW_COUNT || kw[k] != NULL)
            return 0;  /* tool_calls, start_time, end_time, or a name Python refuses */
        kw[k] = values[i];
    }
    PyObject *agent = kw[KW_AGENT], *success = kw[KW_SUCCESS] ? kw[KW_SUCCESS] : Py_True;
    PyObject *zero = int_zero;
    PyObject *input = kw[KW_INPUT] ? kw[KW_INPUT] : zero;
    PyObject *output = kw[KW_OUTPUT] ? kw[KW_OUTPUT] : zero;
    PyObject *cache_read = kw[KW_CACHE_READ] ? kw[KW_CACHE_READ] : zero;
    PyObject *labels[5] = {kw[KW_ERROR], kw[KW_MODEL], kw[KW_PROVIDER], kw[KW_RUN_ID],
                           kw[KW_CONVERSATION]};
    for (int i = 0; i < 5; i++) {
        if (labels[i] == NULL)
            labels[i] = Py_None;
        if (!plain_label(self, labels[i]))
            return 0;
    }
    PyObject *error_type = labels[0], *model = labels[1], *provider = labels[2];
    if (agent == NULL || !PyUnicode_CheckExact(agent) || PyUnicode_GET_LENGTH(agent) > self->max_name
        || !has_text(agent) || kw[KW_DURATION] == NULL || (success != Py_True && success != Py_False)
        || !plain_count(self, input) || !plain_count(self, output)
        || !plain_count(self, cache_read))
        return 0;

    int done = 0;
    PyObject *duration = NULL, *cost = NULL, *ts = NULL, *lane = NULL, *model_name = NULL;
    PyObject *agent_key = NULL, *model_key = NULL, *row = NULL, *runs_list = NULL;
    duration = plain_number(kw[KW_DURATION], self->max_duration);
    cost = kw[KW_COST] ? plain_number(kw[KW_COST], self->max_cost) : PyFloat_FromDouble(0.0);
    if (PyErr_Occurred())
        goto error;
    if (duration == NULL || cost == NULL)
        goto out;  /* not plain */
    int has_model = model != Py_None && PyUnicode_GET_LENGTH(model) > 0;
    int has_provider = provider != Py_None && PyUnicode_GET_LENGTH(provider) > 0;
    if (has_model && has_provider)
        model_name = PyUnicode_FromFormat("%U/%U", provider, model);
    else if (has_model || has_provider)
        model_name = Py_NewRef(has_model ? model : provider);
    if ((has_model || has_provider) && model_name == NULL)
        goto error;

    if ((ts = now(self)) == NULL)
        goto error;
    /* Every tuple (a GC-tracked object, whose allocation may run a collection and with it
     * finalizers) is made before the lane is read: from there on no Python code runs. */
    agent_key = PyTuple_Pack(2, agent_kind, agent);
    model_key = model_name ? PyTuple_Pack(2, model_kind, model_name) : NULL;
    row = PyTuple_Pack(14, ts, agent, duration, success, error_type, model, provider, input,
                       output, cache_read, cost, zero, labels[3], labels[4]);
    if (agent_key == NULL || (model_name != NULL && model_key == NULL) || row == NULL)
        goto error;
    lane = PyObject_GetAttr(self->monitor, lane_name);
    if (lane == NULL)
        goto error;
    PyObject *bucket = lane_bucket(self, lane, ts);
    if (bucket == NULL)
        goto out;
    PyObject *runs = SLOT(bucket, self->runs_offset);
    if (runs == NULL || !PyDict_CheckExact(runs))
        goto out;
    PyObject *agent_acc = run_acc(self, runs, agent_key);
    PyObject *model_acc = model_key ? run_acc(self, runs, model_key) : NULL;
    if (PyErr_Occurred())
        goto error;
    if (agent_acc == NULL || (model_name != NULL && model_acc == NULL))
        goto out;  /* first sight in this bucket (or folded): Python admits the name */
    runs_list = PyObject_GetAttr(self->monitor, agent_runs_name);
    if (runs_list == NULL)
        goto error;
    if (!PyList_CheckExact(runs_list))
        goto out;
    int failed = success == Py_False;
    for (int i = 0; i < 2; i++) {
        PyObject *acc = i == 0 ? agent_acc : model_acc;
        if (acc != NULL && add_run(self, acc, duration, PyFloat_AS_DOUBLE(duration), error_type,
                                   failed, input, output, cache_read, cost, empty_tuple) < 0)
            goto error;
    }
    if (keep_raw(self, runs_list, row) < 0)
        goto error;
    done = 1;
    goto out;
error:
    done = -1;
out:
    Py_XDECREF(duration);
    Py_XDECREF(cost);
    Py_XDECREF(ts);
    Py_XDECREF(lane);
    Py_XDECREF(model_name);
    Py_XDECREF(agent_key);
    Py_XDECREF(model_key);
    Py_XDECREF(row);
    Py_XDECREF(runs_list);
    return done;
}

/* Whether `value` is a str as record_tool_call takes a name: not blank, at most max_name. */
static int
plain_name(Recorder *self, PyObject *value)
{
    return PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) <= self->max_name
           && has_text(value);
}

/* The tool lane: record_tool_call(tool_name, duration_ms, success, error_type, agent_name)
 * by position; 1 when counted, 0 to defer to Python, -1 on error. */
static int
fast_tool_call(Recorder *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *tool = args[0], *duration = args[1];
    PyObject *success = nargs > 2 ? args[2] : Py_True, *error_type = nargs > 3 ? args[3] : Py_None;
    PyObject *agent = nargs > 4 ? args[4] : Py_None;
    if (nargs > 5 && args[5] != Py_None)
        return 0;  /* a timestamp: Python checks it */
    if (!plain_name(self, tool) || (success != Py_True && success != Py_False)
        || (error_type != Py_None && !plain_name(self, error_type))
        || (agent != Py_None && !plain_name(self, agent)))
        return 0;
    PyObject *value = plain_number(duration, self->max_duration);
    if (value == NULL)
        return PyErr_Occurred() ? -1 : 0;
    double ms = PyFloat_AS_DOUBLE(value);
    int done = 0;
    PyObject *ts = NULL, *key = NULL, *lane = NULL, *records = NULL, *row = NULL;
    if ((ts = now(self)) == NULL)
        goto error;
    /* The tuples first (see fast_agent_run): from the lane read on no Python code runs. */
    key = PyTuple_Pack(2, tool_kind, tool);
    row = PyTuple_Pack(7, ts, tool, agent, value, success, error_type, Py_None);
    if (key == NULL || row == NULL)
        goto error;
    if ((lane = PyObject_GetAttr(self->monitor, lane_name)) == NULL)
        goto error;
    PyObject *bucket = lane_bucket(self, lane, ts);
    PyObject *runs = bucket ? SLOT(bucket, self->runs_offset) : NULL;
    if (runs == NULL || !PyDict_CheckExact(runs))
        goto out;
    PyObject *acc = run_acc(self, runs, key);
    if (acc == NULL)
        goto out_or_error;  /* first sight in this bucket (or folded): Python admits the name */
    if ((records = PyObject_GetAttr(self->monitor, tool_calls_name)) == NULL)
        goto error;
    if (!PyList_CheckExact(records))
        goto out;
    int failed = success == Py_False;
    if (add_run(self, acc, duration, ms, error_type, failed, int_zero, int_zero, int_zero,
                int_zero, empty_tuple) < 0)
        goto error;
    if (keep_raw(self, records, row) < 0)
        goto error;
    done = 1;
    goto out;
out_or_error:
    if (PyErr_Occurred())
        goto error;
    goto out;
error:
    done = -1;
out:
    Py_DECREF(value);
    Py_XDECREF(ts);
    Py_XDECREF(key);
    Py_XDECREF(lane);
    Py_XDECREF(records);
    Py_XDECREF(row);
    return done;
}

static PyObject *
ToolRecorder_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Recorder *self = (Recorder *)op;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames == NULL && nargs >= 2 && nargs <= 6) {
        int done = fast_tool_call(self, args, nargs);
        if (done < 0)
            return NULL;
        if (done)
            Py_RETURN_NONE;
    }
    return PyObject_Vectorcall(self->slow, args, nargsf, kwnames);
}

static PyObject *
AgentRecorder_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Recorder *self = (Recorder *)op;
    if (PyVectorcall_NARGS(nargsf) == 0 && kwnames != NULL) {
        int done = fast_agent_run(self, args, kwnames);
        if (done < 0)
            return NULL;
        if (done)
            Py_RETURN_NONE;
    }
    return PyObject_Vectorcall(self->slow, args, nargsf, kwnames);
}

PyDoc_STRVAR(Recorder_add_run_doc,
"add_run(acc, duration_ms, error_type, failed, input_tokens, output_tokens,\n"
"        cache_read_tokens, cost_usd, tools)\n--\n\n"
"Count one checked run in a RunAcc, in one step under the GIL.");

static PyObject *
Recorder_add_run(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    Recorder *self = (Recorder *)op;
    if (nargs != 9) {
        PyErr_Format(PyExc_TypeError, "add_run() takes 9 arguments (%zd given)", nargs);
        return NULL;
    }
    if (self->run_type == NULL || !Py_IS_TYPE(args[0], self->run_type)) {
        PyErr_SetString(PyExc_TypeError, "add_run() needs a RunAcc");
        return NULL;
    }
    double ms = PyFloat_AsDouble(args[1]);
    if (ms == -1.0 && PyErr_Occurred())
        return NULL;
    if (!(ms >= 0.0 && ms <= self->max_duration)) {
        PyErr_SetString(PyExc_ValueError, "add_run() takes checked values only");
        return NULL;
    }
    int failed = PyObject_IsTrue(args[3]);
    if (failed < 0 || add_run(self, args[0], args[1], ms, args[2], failed, args[4], args[5],
                              args[6], args[7], args[8]) < 0)
        return NULL;
    Py_RETURN_NONE;
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
    static char *kwlist[] = {"kind", "monitor", "slow", "clock", "bucket_type", "acc_type",
                             "hist_type", "run_type", "inv_log_gamma", "offset", "min_value",
                             "size", "max_duration", "max_bytes", "max_tokens", "max_cost",
                             "max_name", "label_budget", "other", "max_pending_raw", NULL};
    const char *kind;
    PyObject *monitor, *slow, *clock, *bucket_type, *acc_type, *hist_type, *run_type, *other;
    if (self->monitor != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a Recorder is initialized once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(
            args, kwds, "$sOOOO!O!O!O!dddldLLdnnUn", kwlist, &kind, &monitor, &slow, &clock,
            &PyType_Type, &bucket_type, &PyType_Type, &acc_type, &PyType_Type, &hist_type,
            &PyType_Type, &run_type, &self->inv_log_gamma, &self->offset, &self->min_value,
            &self->size, &self->max_duration, &self->max_bytes, &self->max_tokens,
            &self->max_cost, &self->max_name, &self->label_budget, &other,
            &self->max_pending_raw))
        return -1;
    if (strcmp(kind, "request") == 0)
        self->vectorcall = Recorder_vectorcall;
    else if (strcmp(kind, "agent") == 0)
        self->vectorcall = AgentRecorder_vectorcall;
    else if (strcmp(kind, "tool") == 0)
        self->vectorcall = ToolRecorder_vectorcall;
    else {
        PyErr_Format(PyExc_ValueError, "kind must be request, agent or tool, got %s", kind);
        return -1;
    }
    self->bucket_type = (PyTypeObject *)Py_NewRef(bucket_type);
    self->acc_type = (PyTypeObject *)Py_NewRef(acc_type);
    self->hist_type = (PyTypeObject *)Py_NewRef(hist_type);
    self->run_type = (PyTypeObject *)Py_NewRef(run_type);
    self->monitor = Py_NewRef(monitor);
    self->slow = Py_NewRef(slow);
    self->clock = clock == Py_None ? NULL : Py_NewRef(clock);
    self->other = Py_NewRef(other);
    if ((self->aliases_offset = slot_offset(self->bucket_type, "aliases")) < 0
        || (self->runs_offset = slot_offset(self->bucket_type, "runs")) < 0)
        return -1;
    for (int i = 0; i < ACC_FIELDS; i++)
        if ((self->acc_offsets[i] = slot_offset(self->acc_type, acc_names[i])) < 0)
            return -1;
    for (int i = 0; i < HIST_FIELDS; i++)
        if ((self->hist_offsets[i] = slot_offset(self->hist_type, hist_names[i])) < 0)
            return -1;
    for (int i = 0; i < RUN_FIELDS; i++)
        if ((self->run_offsets[i] = slot_offset(self->run_type, run_names[i])) < 0)
            return -1;
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
    Py_VISIT(self->run_type);
    Py_VISIT(self->other);
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
    Py_CLEAR(self->run_type);
    Py_CLEAR(self->other);
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
    {"add_run", (PyCFunction)(void (*)(void))Recorder_add_run, METH_FASTCALL,
     Recorder_add_run_doc},
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
    .tp_doc = PyDoc_STR("A Monitor record method's compiled fast lane, bound to one Monitor."),
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
    .m_doc = "Compiled fast lanes of Monitor's record methods (optional; Python is the reference).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__accel(void)
{
    lane_name = PyUnicode_InternFromString("_lane");
    agent_runs_name = PyUnicode_InternFromString("_agent_runs");
    dropped_raw_name = PyUnicode_InternFromString("dropped_raw");
    tool_calls_name = PyUnicode_InternFromString("_tool_calls");
    agent_kind = PyUnicode_InternFromString("agent");
    model_kind = PyUnicode_InternFromString("model");
    tool_kind = PyUnicode_InternFromString("tool");
    int_zero = PyLong_FromLong(0);
    empty_tuple = PyTuple_New(0);
    if (lane_name == NULL || agent_runs_name == NULL || tool_calls_name == NULL
        || dropped_raw_name == NULL || agent_kind == NULL || model_kind == NULL
        || tool_kind == NULL || int_zero == NULL || empty_tuple == NULL)
        return NULL;
    for (int k = 0; k < KW_COUNT; k++)
        if ((kw_strings[k] = PyUnicode_InternFromString(kw_names[k])) == NULL)
            return NULL;
    if (PyType_Ready(&RecorderType) < 0)
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
