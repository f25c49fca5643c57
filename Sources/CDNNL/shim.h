// oneDNN 2.6 C API, from Debian's libdnnl-dev (no pkg-config file, so the module map links "dnnl").
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
