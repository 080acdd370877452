#include "ps_ops.h"
