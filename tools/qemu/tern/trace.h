#include "trace/trace-hw_misc_tern.h"
