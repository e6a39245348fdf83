/* A tiny C extension so that building testapp really compiles something. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* fnv1a(bytes) -> int: 32-bit FNV-1a hash. */
static PyObject *fnv1a(PyObject *self, PyObject *args) {
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "y*", &buf)) return NULL;
    unsigned long h = 2166136261UL;
    const unsigned char *p = buf.buf;
    for (Py_ssize_t i = 0; i < buf.len; i++) {
        h ^= p[i];
        h = (h * 16777619UL) & 0xffffffffUL;
    }
    PyBuffer_Release(&buf);
    return PyLong_FromUnsignedLong(h);
}

static PyMethodDef methods[] = {
    {"fnv1a", fnv1a, METH_VARARGS, "32-bit FNV-1a hash of a bytes object."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
