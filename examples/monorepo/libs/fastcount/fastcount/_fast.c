#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *vowels(PyObject *self, PyObject *args) {
    const char *s;
    Py_ssize_t n, i, count = 0;
    if (!PyArg_ParseTuple(args, "s#", &s, &n)) return NULL;
    for (i = 0; i < n; i++) {
        switch (s[i] | 0x20) {
        case 'a': case 'e': case 'i': case 'o': case 'u': count++;
        }
    }
    return PyLong_FromSsize_t(count);
}

static PyMethodDef methods[] = {
    {"vowels", vowels, METH_VARARGS, "Number of ASCII vowels in a string."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fast(void) { return PyModule_Create(&module); }
