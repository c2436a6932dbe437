// float / double overloads of the libm functions the kernels use, for host and device alike: the
// float ones call the single-precision functions (as torch's float32 maths does) without std::
// (not available in CUDA device code).
#pragma once

#include <math.h>

#include "common.h"

namespace scalar_math {

AVX_HD float sqrt_(float x) { return sqrtf(x); }
AVX_HD double sqrt_(double x) { return sqrt(x); }
AVX_HD float exp_(float x) { return expf(x); }
AVX_HD double exp_(double x) { return exp(x); }
AVX_HD float log_(float x) { return logf(x); }
AVX_HD double log_(double x) { return log(x); }
AVX_HD float ceil_(float x) { return ceilf(x); }
AVX_HD double ceil_(double x) { return ceil(x); }
AVX_HD float sin_(float x) { return sinf(x); }
AVX_HD double sin_(double x) { return sin(x); }
AVX_HD float cos_(float x) { return cosf(x); }
AVX_HD double cos_(double x) { return cos(x); }

}  // namespace scalar_math
